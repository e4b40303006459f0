"""The async engine and sessions. SQLite gets WAL and a busy timeout, so readers never
block the writer and a briefly locked file waits instead of failing."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_

from app.db import sqlite_driver


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


UNAVAILABLE_SQLSTATES = ("08", "53", "57P")
"""PostgreSQL error classes that mean "not now" rather than "not this": connection
exceptions (08), insufficient resources such as too many connections (53), and operator
intervention: shutting down, crashed, still starting up (57P01-57P03)."""


def is_unavailable(exc: BaseException) -> bool:
    """The database could not be reached, dropped the connection, or refused for now: the
    same statement may well work in a moment. False for what retrying will not fix (a
    constraint, a bad query).

    Why this many shapes: SQLite says "locked" or "disk full" with OperationalError, but
    asyncpg's errors reach us as InterfaceError ("connection is closed"), as a bare
    DBAPIError (ConnectionDoesNotExistError, 08003; CannotConnectNowError, 57P03), as an
    InternalError from a connection that died mid-operation (SQLAlchemy marks those
    `connection_invalidated`), and, while PostgreSQL is down, as the OSError of the socket
    (ConnectionRefusedError, ConnectionResetError), which SQLAlchemy does not wrap."""
    if isinstance(exc, OSError | PoolTimeout):
        return True
    if isinstance(exc, IntegrityError) or not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_SQLSTATES)


def describe(exc: BaseException) -> str:
    """One line on what the database (or the socket to it) said."""
    said = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(said).strip().splitlines()
    return text[0] if text else type(said).__name__


def make_engine(url: str, busy_timeout_ms: int = 5000) -> AsyncEngine:
    if is_sqlite(url):
        # Each statement one trip to aiosqlite's thread (app/db/sqlite_driver).
        one_trip = sqlite_driver.dbapi()
        options: dict[str, Any] = {} if one_trip is None else {"module": one_trip}
        engine = create_async_engine(
            url, connect_args={"timeout": busy_timeout_ms / 1000}, **options
        )
        _tune_sqlite(engine, busy_timeout_ms)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _tune_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN past SELECTs; we take it over so
        # that a transaction really starts where SQLAlchemy says it does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Straight to the driver: one trip to its thread, without SQLAlchemy's statement
        # machinery (the one-trip cursor, app/db/sqlite_driver, makes a statement one trip
        # too, but where it is not in use a statement is three: a cursor made, run,
        # closed). Every transaction begins here: one of a command's six trips.
        try:
            await_(connection.connection.driver_connection.execute("BEGIN"))
        except sqlite3.Error:
            connection.exec_driver_sql("BEGIN")  # fails again, as SQLAlchemy's own error


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
