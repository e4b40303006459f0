"""SQLite statements in one trip to aiosqlite's thread.

aiosqlite runs every call on the connection in a thread of its own, and each call is a
trip there and back: the call queued, the thread woken, the answer handed back to the
event loop through its self-pipe. SQLAlchemy's cursor for aiosqlite makes three or four of
them for one statement (the cursor made, the statement run, its rows fetched, the cursor
closed), and a command is some four statements and a commit: about 16 trips, each
costing more CPU than the statement it carries.

The cursor here makes one: the statement runs, its rows are read and its cursor closed
in the thread, in one call, and what SQLAlchemy reads afterwards (the rows, their
description, the row count, the last row id) comes back with it. Rows are read whole,
as SQLAlchemy's own aiosqlite cursor already does; server-side (streamed) cursors stay
SQLAlchemy's.

It calls the function aiosqlite queues its own calls with (`Connection._execute`), which
is not public; `dbapi()` returns None when it is not where expected, and the engine then
uses SQLAlchemy's cursor (slower, the same results).
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

Outcome = tuple[Any, list[Any], int, int | None]
"""What a statement leaves for SQLAlchemy to read: description, rows, rowcount, lastrowid."""


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    """In aiosqlite's thread: the statement, its rows and its cursor's figures."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's aiosqlite cursor, each statement one trip to the thread. Nothing is
    held open between trips: the sqlite3 cursor lives and dies inside `_run`."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # Not the parent's: it makes a sqlite3 cursor in the thread (a trip) up front.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    async def _async_soft_close(self) -> None:
        """Nothing to close: the statement's cursor closed in its trip."""

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._trip(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        try:
            return await_(self._trip(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _trip(self, operation: str, parameters: Any, *, many: bool) -> None:
        connection: Any = self._connection  # aiosqlite's; `_execute` is untyped there
        async with self._adapt_connection._execute_mutex:
            outcome: Outcome = await connection._execute(
                _run, connection._conn, operation, parameters, many
            )
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor


class _OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite module adapter, handing out connections whose cursors make
    one trip a statement."""

    def connect(self, *arg: Any, **kw: Any) -> _OneTripConnection:
        stock = super().connect(*arg, **kw)
        return _OneTripConnection(self, stock._connection)


def dbapi() -> AsyncAdapt_aiosqlite_dbapi | None:
    """The module adapter to give `create_async_engine(module=...)`; None when aiosqlite
    no longer queues calls the way `OneTripCursor` relies on."""
    if not callable(getattr(aiosqlite.Connection, "_execute", None)):
        return None
    if not isinstance(getattr(aiosqlite.Connection, "_conn", None), property):
        return None
    return _OneTripDbapi(aiosqlite, sqlite3)
