"""A database that refuses a write: the command gets a clear error, nothing is written
half, and the drill goes on once the database is back (real SQLite, really locked)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.db.migrate import upgrade
from app.db.session import make_engine, make_sessionmaker
from app.drills import DrillService, StorageUnavailable
from app.engine import commands as c
from tests.live import LiveServer, sign_in

MINI = (Path(__file__).parents[1] / "fixtures" / "mini.yaml").read_text()


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another process's exclusive write transaction on the file, held for the block."""
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


async def test_a_locked_file_refuses_the_command_whole_and_the_retry_lands(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tabletop.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}", busy_timeout_ms=200)
    await upgrade(engine)
    service = DrillService(make_sessionmaker(engine), sqlite=True)
    drill_id = await service.create_drill(MINI, "mini.yaml", c.CreateDrill("f-1", "Faults"))
    before = [e.seq for e in await service.events(drill_id)]
    join = c.Join("p1", "Dana", "legal")
    with locked(path), pytest.raises(StorageUnavailable, match="database is locked"):
        await service.execute(drill_id, join, c.Actor("p1"), key="join-p1")
    assert [e.seq for e in await service.events(drill_id)] == before  # nothing half-written
    outcome = await service.execute(drill_id, join, c.Actor("p1"), key="join-p1")
    assert not outcome.repeated and outcome.first_seq == before[-1] + 1
    await engine.dispose()


@pytest.mark.live_settings(sqlite_busy_timeout_ms=200)
def test_over_http_a_locked_database_is_a_503_that_says_nothing_was_recorded(
    live_server: LiveServer,
) -> None:
    facilitator = sign_in(live_server)
    created = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "Locked"})
    code = created.json()["join_code"]
    path = Path(live_server.app.state.settings.data_dir) / "tabletop.db"
    with locked(path):
        response = live_server.client().post(
            "/api/join", json={"code": code, "name": "Dana", "role": "legal"}
        )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert "nothing was recorded, try again" in response.json()["detail"]
    again = live_server.client().post(
        "/api/join", json={"code": code, "name": "Dana", "role": "legal"}
    )
    assert again.status_code == 200
    log = facilitator.get(f"/api/drills/{created.json()['id']}/events").json()
    assert [e["data"]["name"] for e in log if e["type"] == "participant_joined"] == ["Dana"]
