"""A database that refuses a write: the command gets a clear error, nothing is written
half, and the drill goes on once the database is back (real SQLite, really locked, and on
a really full disk: a small tmpfs filled to the last byte)."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.db.migrate import upgrade
from app.db.session import make_engine, make_sessionmaker
from app.engine import commands as c
from app.services.drills import DrillService, StorageUnavailable
from tests.live import LiveServer, join, running_server, sign_in
from tests.ws.test_protocol import command, open_socket

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


@contextmanager
def small_disk(path: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` (needs root, as CI has)."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        reason = f"cannot mount a small tmpfs here: {mounted.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no byte left; returns it (delete it to free)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for chunk in (b"\0" * 65536, b"\0" * 4096, b"\0"):
            try:
                while True:
                    os.write(fd, chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as db:
        result: str = db.execute("PRAGMA integrity_check").fetchone()[0]
    return result


async def test_a_full_disk_refuses_commands_whole_and_they_land_once_space_is_back(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        path = disk / "tabletop.db"
        engine = make_engine(f"sqlite+aiosqlite:///{path}", busy_timeout_ms=200)
        await upgrade(engine)
        service = DrillService(make_sessionmaker(engine), sqlite=True)
        drill_id = await service.create_drill(MINI, "mini.yaml", c.CreateDrill("f-1", "Full"))
        await service.execute(drill_id, c.Join("p1", "Dana", "legal"), c.Actor("p1"), "join")
        await service.execute(drill_id, c.StartClock(), c.Actor(), "start")
        filler = fill(disk)
        # The WAL may still have room for a few: each message either lands whole or is
        # refused whole with a clear error; sooner or later the disk says no.
        landed: list[str] = []
        refused: list[tuple[str, str]] = []
        for n in range(40):
            send = c.SendMessage(to=["incident_manager"], body=f"{n} " + "x" * 9000)
            try:
                await service.execute(drill_id, send, c.Actor("p1"), key=f"m{n}")
                landed.append(f"m{n}")
            except StorageUnavailable as exc:
                refused.append((f"m{n}", str(exc)))
        assert refused, "the full disk never refused a write"
        assert all("disk is full" in message for _, message in refused), refused
        log = await service.events(drill_id)
        bodies = [e.data["body"].split()[0] for e in log if e.type == "message_sent"]
        assert bodies == [key[1:] for key in landed]  # the refused left no trace
        filler.unlink()
        for key, _ in refused:  # the same ids, sent again, land once
            n = int(key[1:])
            send = c.SendMessage(to=["incident_manager"], body=f"{n} " + "x" * 9000)
            outcome = await service.execute(drill_id, send, c.Actor("p1"), key=key)
            assert not outcome.repeated
        await engine.dispose()
        assert integrity(path) == "ok"
        # A fresh process reads the same drill back: 40 messages, once each, in order.
        engine = make_engine(f"sqlite+aiosqlite:///{path}", busy_timeout_ms=200)
        fresh = DrillService(make_sessionmaker(engine), sqlite=True)
        log = await fresh.events(drill_id)
        sent = sorted(int(e.data["body"].split()[0]) for e in log if e.type == "message_sent")
        assert sent == list(range(40))
        assert [e.seq for e in log] == list(range(1, len(log) + 1))
        await engine.dispose()


def test_over_the_websocket_a_full_disk_is_a_typed_error_and_the_drill_goes_on(
    tmp_path: Path,
) -> None:
    with (
        small_disk(tmp_path / "disk", "4m") as disk,
        running_server(disk, sqlite_busy_timeout_ms=200) as live,
    ):
        facilitator = sign_in(live)
        drill = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "Full"})
        drill_id = drill.json()["id"]
        dana = join(live, drill.json()["join_code"], "Dana", "legal")
        console = open_socket(live, drill_id, facilitator)
        assert command(console, type="start", id="start")["type"] == "ack"
        sock = open_socket(live, drill_id, dana)
        filler = fill(disk)
        replies = []
        for n in range(30):
            body = f"{n} " + "y" * 9000
            reply = command(
                sock, type="send_message", id=f"m{n}", to=["incident_manager"], body=body
            )
            replies.append(reply)
            if reply["type"] == "error":
                break
        refused = replies[-1]
        assert refused["type"] == "error", "the full disk never refused a write"
        assert refused["code"] == "storage_unavailable"
        assert "disk is full" in refused["message"] and "send it again" in refused["message"]
        # Pages and reads still answer while the disk is full; nothing is a 500.
        assert facilitator.get(f"/api/drills/{drill_id}/events").status_code == 200
        filler.unlink()
        again = command(
            sock,
            type="send_message",
            id=refused["id"],
            to=["incident_manager"],
            body=f"{len(replies) - 1} " + "y" * 9000,
        )
        assert again["type"] == "ack" and not again["repeated"]
        log = facilitator.get(f"/api/drills/{drill_id}/events").json()
        sent = [e["data"]["body"].split()[0] for e in log if e["type"] == "message_sent"]
        assert sent == [str(n) for n in range(len(replies))]
        assert integrity(disk / "tabletop.db") == "ok"
