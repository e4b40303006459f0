"""Several `tabletop serve` processes on one PostgreSQL database and one Redis.

Everything here is real: the servers are subprocesses, the participants are websockets,
the database and Redis are fresh per test. What must hold: every participant, whichever
worker it is connected to, receives every event it may see, in order, exactly once; and
a drill's clock survives the death of the worker that ran it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from app.cli.main import cli
from app.web.health import WORKER_HEADER
from tests.conftest import POSTGRES_URL
from tests.oracle import FACILITATOR_SEAT, Seat, disagreements
from tests.scale.cluster import (
    TABLETOP,
    Socket,
    Worker,
    clock_holder,
    create_drill,
    create_facilitator,
    delivered,
    eventually,
    fresh_database,
    http,
    join,
    private_redis,
    server_env,
    sign_in,
    stop_process,
    two_workers,
    visible_log,
    wait_until,
    workers,
)

LEASE_SECONDS = 2.0
SPEED = 100
"""The drill clock of the failover test: the note falls due 6 s after the start."""


async def received_all_it_may_see(
    socket: Socket, client: httpx.AsyncClient, seat: Seat, log: list[dict[str, Any]]
) -> None:
    """The socket got exactly what the server says this caller may read (every event, in
    seq order, none twice), and that is what the oracle's rules say of the whole `log`."""
    expected = await visible_log(client, socket.drill_id)
    await wait_until(lambda: len(socket.events) >= len(expected), 10, "the last events")
    assert socket.events == expected
    assert socket.seqs == sorted(set(socket.seqs))
    problems = disagreements(log, socket.events, seat, None, f"live ws on {socket.worker.url}")
    assert not problems, "\n".join(map(str, problems))


def seat_of(name: str, role: str | None, log: list[dict[str, Any]]) -> Seat:
    """The oracle's seat for the participant called `name` (their id from their join)."""
    joined = next(
        e["data"] for e in log if e["type"] == "participant_joined" and e["data"]["name"] == name
    )
    if role is None:
        return Seat("observer", name=name)
    return Seat("participant", role, joined["participant_id"], name)


async def test_participants_on_both_workers_get_every_event_once_in_order(
    tmp_path: Path,
) -> None:
    async with two_workers(tmp_path) as cluster:
        a, b = cluster.a, cluster.b
        facilitator = await sign_in(a)
        # 600x: the ransom note falls due 1 s after the start, and its decision stays
        # open 3 s, time enough to answer it even on a busy machine.
        drill = await create_drill(facilitator, speed=600)
        drill_id, code = drill["id"], drill["join_code"]
        seats: list[tuple[Worker, str | None]] = [
            (a, "incident_manager"),
            (a, "legal"),
            (a, None),
            (b, "executive"),
            (b, "legal"),
            (b, "incident_manager"),
        ]
        people = [await join(worker, code, f"P{n}", role) for n, (worker, role) in enumerate(seats)]
        sockets = [
            await Socket(worker, drill_id, person).open()
            for (worker, _), person in zip(seats, people, strict=True)
        ]
        console = await Socket(b, drill_id, facilitator).open()
        manager_a, executive_b = sockets[0], sockets[3]

        await console.command({"type": "start"})
        await manager_a.command({"type": "send_message", "to": ["legal"], "body": "Heads up"})
        await console.command(
            {
                "type": "manual_inject",
                "title": "Press call",
                "body": "A reporter.",
                "to": ["all"],
            }
        )
        await wait_until(lambda: executive_b.saw(delivered("note")), 10, "the ransom note")
        await executive_b.command(
            {"type": "answer", "decision_id": "pay", "option_id": "no", "role": "executive"}
        )
        await wait_until(lambda: console.saw(delivered("refused-follow-up")), 10, "the follow-up")
        ended = await console.command({"type": "end"})

        log = await visible_log(facilitator, drill_id)
        for n, (socket, client, (_, role)) in enumerate(zip(sockets, people, seats, strict=True)):
            await received_all_it_may_see(socket, client, seat_of(f"P{n}", role, log), log)
        await received_all_it_may_see(console, facilitator, FACILITATOR_SEAT, log)
        assert console.seqs == list(range(1, ended["seq"] + 1))
        # Both workers' commands and the clock (on one of them) reached both workers.
        for socket, (_, role) in zip(sockets, seats, strict=True):
            assert socket.saw(lambda e: e["type"] == "drill_ended")
            assert socket.saw(lambda e: e["data"].get("title") == "Press call")
            assert socket.saw(delivered("note")) is (role != "incident_manager")
        for socket in [*sockets, console]:
            await socket.close()
        for client in [*people, facilitator]:
            await client.aclose()


async def test_the_clock_moves_to_the_other_worker_when_its_holder_is_killed(
    tmp_path: Path,
) -> None:
    async with two_workers(tmp_path, clock_lease_seconds=str(LEASE_SECONDS)) as cluster:
        a, b = cluster.a, cluster.b
        database = cluster.database
        facilitator = await sign_in(a)
        # 100x: the ransom note (10 minutes in) falls due 6 s after the start, time enough
        # to find and kill the clock's holder first even on a busy 2-core machine.
        drill = await create_drill(facilitator, speed=SPEED)
        drill_id, code = drill["id"], drill["join_code"]
        legal = {w.worker_id: (w, await join(w, code, w.url, "legal")) for w in (a, b)}
        sockets = {
            worker_id: await Socket(worker, drill_id, client).open()
            for worker_id, (worker, client) in legal.items()
        }
        console = await Socket(a, drill_id, facilitator).open()
        await console.command({"type": "start"})
        start = next(e for e in console.events if e["type"] == "clock_started")
        note_due = start["at"] + 600 / SPEED

        await eventually(lambda: has_holder(database, drill_id), 5, "a clock holder")
        doomed, _ = legal[str(await clock_holder(database, drill_id))]
        survivor = b if doomed is a else a
        stop_process(doomed.process, signal.SIGKILL)
        killed_at = time.time()
        assert killed_at < note_due, "too slow to kill the holder before the note fell due"

        watcher = sockets[survivor.worker_id]
        await wait_until(
            lambda: watcher.saw(delivered("note")), LEASE_SECONDS + 5, "the ransom note"
        )
        arrived = time.time()
        note = next(e for e in watcher.events if delivered("note")(e))
        assert note["at"] > killed_at  # written after the kill: by the survivor
        assert arrived - max(killed_at, note_due) < LEASE_SECONDS + 2.5
        assert await clock_holder(database, drill_id) == survivor.worker_id
        survivor_client = legal[survivor.worker_id][1]
        log = await visible_log(survivor_client, drill_id)
        assert sum(1 for e in log if delivered("note")(e)) == 1
        assert watcher.events == log[: len(watcher.events)]
        for socket in [*sockets.values(), console]:
            await socket.close()
        for _, client in legal.values():
            await client.aclose()
        await facilitator.aclose()


async def test_serve_workers_2_runs_two_workers_behind_one_port_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    async with fresh_database() as database, private_redis() as redis:
        env = server_env(tmp_path, database_url=database, redis_url=redis.url)
        await create_facilitator(database, tmp_path)
        with workers(tmp_path, env) as started:
            server = await started.ready(started.spawn("--workers", "2"))
            # Each new connection goes to whichever worker accepts it first.
            seen: set[str] = set()
            deadline = time.monotonic() + 15
            while len(seen) < 2 and time.monotonic() < deadline:
                async with http(server) as client:
                    response = await client.get("/readyz")
                if response.status_code == 200:
                    seen.add(response.headers[WORKER_HEADER])
            assert len(seen) == 2, f"one worker answered:\n{server.output()}"
            facilitator = await sign_in(server)
            drill_id = (await create_drill(facilitator, speed=1))["id"]
            console = await Socket(server, drill_id, facilitator).open()
            await console.command({"type": "start"})
            await eventually(lambda: has_holder(database, drill_id), 5, "a clock holder")
            assert await clock_holder(database, drill_id) in seen
            await console.close()
            await facilitator.aclose()
            stop_process(server.process)  # SIGTERM: the supervisor stops both workers
            assert server.process.returncode == 0
            # No worker (nor multiprocessing's resource tracker) left behind.
            await wait_until(lambda: not group_alive(server.process.pid), 5, "the workers")
        # A clean stop hands the clock back at once: no lease to wait out.
        assert await clock_holder(database, drill_id) is None


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


async def has_holder(database: str, drill_id: str) -> bool:
    return await clock_holder(database, drill_id) is not None


def test_serve_workers_2_without_postgresql_and_redis_exits_2_saying_what_to_set(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [str(TABLETOP), "serve", "--workers", "2"],
        env=server_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "error: --workers 2 needs a database and Redis shared by all workers: set "
        "TABLETOP_DATABASE_URL=postgresql+asyncpg://user:password@host/db and "
        "TABLETOP_REDIS_URL=redis://host:6379/0 (or serve with --workers 1)\n"
    )
    assert not (tmp_path / "tabletop.db").exists()  # refused before touching anything


@pytest.mark.parametrize(
    ("args", "settings", "needs"),
    [
        (["--workers", "3"], {"DATABASE_URL": POSTGRES_URL}, "set TABLETOP_REDIS_URL=redis://"),
        ([], {"REDIS_URL": "cache:6379"}, "TABLETOP_REDIS_URL must start with redis://"),
    ],
)
def test_serve_names_the_one_setting_that_is_missing_or_wrong(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    settings: dict[str, str],
    needs: str,
) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(f"TABLETOP_{name}", value)
    result = CliRunner().invoke(cli, ["serve", *args])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and needs in result.output
    assert "TABLETOP_DATABASE_URL" not in result.output
    assert not (workdir / ".tabletop").exists()


async def test_redis_stopped_and_started_loses_no_event_for_either_worker(
    tmp_path: Path,
) -> None:
    """Redis goes away for a few seconds while people on both workers keep talking and
    the clock keeps firing: commands are acknowledged all along, every socket still ends
    up with exactly its log, and notices flow again once Redis is back."""
    async with two_workers(tmp_path) as cluster:
        a, b = cluster.a, cluster.b
        redis = cluster.redis
        facilitator = await sign_in(a)
        # 120x: the ransom note (10 minutes in) falls due 5 s after the start, while
        # Redis is down.
        drill = await create_drill(facilitator, speed=120)
        drill_id, code = drill["id"], drill["join_code"]
        seats = [(a, "incident_manager"), (a, "legal"), (b, "executive"), (b, "legal")]
        people = [await join(w, code, f"P{n}", role) for n, (w, role) in enumerate(seats)]
        sockets = [
            await Socket(worker, drill_id, person).open()
            for (worker, _), person in zip(seats, people, strict=True)
        ]
        console = await Socket(b, drill_id, facilitator).open()
        await console.command({"type": "start"})

        async def talk(rounds: int, label: str) -> None:
            for n in range(rounds):
                for seat, (socket, (_, role)) in enumerate(zip(sockets, seats, strict=True)):
                    to = "legal" if role == "executive" else "executive"
                    await socket.command(
                        {"type": "send_message", "to": [to], "body": f"{label} {n} P{seat}"}
                    )

        await talk(2, "before")
        redis.stop()
        await talk(5, "during")  # acknowledged although Redis is gone
        executive = sockets[2]
        await wait_until(lambda: executive.saw(delivered("note")), 10, "the ransom note")
        await redis.start()  # same port: both subscribers reconnect and sweep
        await talk(2, "after")
        ended = await console.command({"type": "end"})

        log = await visible_log(facilitator, drill_id)
        for n, (socket, client, (_, role)) in enumerate(zip(sockets, people, seats, strict=True)):
            await received_all_it_may_see(socket, client, seat_of(f"P{n}", role, log), log)
        await received_all_it_may_see(console, facilitator, FACILITATOR_SEAT, log)
        assert console.seqs == list(range(1, ended["seq"] + 1))
        bodies = [e["data"]["body"] for e in console.events if e["type"] == "message_sent"]
        assert len(bodies) == len(set(bodies)) == 9 * len(sockets)
        for socket in [*sockets, console]:
            await socket.close()
        for client in [*people, facilitator]:
            await client.aclose()
