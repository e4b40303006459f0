"""Each SQLite statement is one trip to aiosqlite's thread (app/db/sqlite_driver), and
what SQLAlchemy reads after it (rows, row counts, new ids, errors) is what the stock
driver gives."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.session import make_engine
from app.db.sqlite_driver import OneTripCursor


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'trips.db'}")
    async with made.begin() as connection:
        await connection.execute(
            text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)")
        )
    yield made
    await made.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calls queued to aiosqlite's thread, by name, as they happen."""
    queued: list[str] = []
    queue = aiosqlite.Connection._execute

    def counted(self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        queued.append(getattr(fn, "__name__", repr(fn)))
        return queue(self, fn, *args)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return queued


async def test_the_engine_uses_the_one_trip_cursor(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.driver_connection, aiosqlite.Connection)
        assert isinstance(raw.dbapi_connection.cursor(), OneTripCursor)  # type: ignore[union-attr]


async def test_a_statement_is_one_trip_with_its_rows_counts_and_ids(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.begin() as connection:
        trips.clear()
        inserted = await connection.execute(
            text("INSERT INTO item (name) VALUES (:name)"), {"name": "first"}
        )
        assert trips == ["_run"]
        assert inserted.lastrowid == 1
        await connection.execute(
            text("INSERT INTO item (name) VALUES (:name)"),
            [{"name": "second"}, {"name": "third"}],
        )
        assert trips == ["_run", "_run"]
        renamed = await connection.execute(
            text("UPDATE item SET name = name || '!' WHERE id > :above"), {"above": 1}
        )
        assert renamed.rowcount == 2
        rows = (await connection.execute(text("SELECT id, name FROM item ORDER BY id"))).all()
        assert [tuple(row) for row in rows] == [(1, "first"), (2, "second!"), (3, "third!")]
        assert list(rows[0]._mapping) == ["id", "name"]
        assert trips == ["_run"] * 4
    assert trips[4] == "commit"


async def test_a_refused_statement_raises_sqlalchemys_error_and_the_connection_goes_on(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO item (name) VALUES ('same')"))
    async with engine.connect() as connection:
        with pytest.raises(IntegrityError):
            await connection.execute(text("INSERT INTO item (name) VALUES ('same')"))
        await connection.rollback()
        with pytest.raises(OperationalError, match="no such table"):
            await connection.execute(text("SELECT * FROM missing_table"))
        await connection.rollback()
        count = await connection.scalar(text("SELECT count(*) FROM item"))
    assert count == 1


async def test_a_select_with_no_rows_has_its_columns(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        result = await connection.execute(text("SELECT id, name FROM item WHERE id < 0"))
        assert list(result.keys()) == ["id", "name"]
        assert result.all() == []
