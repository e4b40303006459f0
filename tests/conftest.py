"""Shared fixtures: the drills service on a real SQLite file and on the real PostgreSQL.

Database tests take the `service` fixture and run once per backend. PostgreSQL comes from
TABLETOP_TEST_POSTGRES_URL (default: this machine's, database `test`). Where it cannot be
reached the PostgreSQL runs are skipped with the reason; under CI (CI=true) they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.db.migrate import upgrade
from app.db.session import make_engine, make_sessionmaker
from app.services.drills import DrillService
from tests.template_db import migrated_sqlite

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
POSTGRES_URL = os.environ.get(
    "TABLETOP_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


class FakeClock:
    """Wall time that moves only when a test says so."""

    def __init__(self, start: float = 1_900_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def _postgres_problem() -> str | None:
    async def probe() -> None:
        engine = create_async_engine(POSTGRES_URL)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        await asyncio.wait_for(probe(), 5)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


_PG_PROBLEM: list[str | None] = []


async def require_postgres() -> None:
    """Skip (or, under CI, fail) a PostgreSQL test when the server cannot be reached."""
    if not _PG_PROBLEM:
        _PG_PROBLEM.append(await _postgres_problem())
    problem = _PG_PROBLEM[0]
    if problem is None:
        return
    message = (
        f"PostgreSQL at {POSTGRES_URL} is not reachable ({problem}); set "
        "TABLETOP_TEST_POSTGRES_URL to run the PostgreSQL half of the database tests"
    )
    if os.environ.get("CI"):
        pytest.fail(message + " -- required under CI")
    pytest.skip(message)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated, empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        database = migrated_sqlite(tmp_path / "tabletop.db")
        engine = make_engine(f"sqlite+aiosqlite:///{database}")
        yield engine
        await engine.dispose()
        return
    await require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_async_engine(
        POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}}
    )
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
def service(engine: AsyncEngine, clock: FakeClock) -> DrillService:
    return DrillService(
        make_sessionmaker(engine), sqlite=engine.dialect.name == "sqlite", clock=clock
    )


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in an empty folder with default settings, as a new user would."""
    from app.config import get_settings

    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("TABLETOP_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


# A real server under uvicorn, for the API and websocket tests.
pytest_plugins = ["tests.live", "tests.browser"]
