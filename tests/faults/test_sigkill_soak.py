"""SIGKILL soak: bots play a drill on a real `tabletop serve` while it is killed with
SIGKILL at random moments and started again. Every command the server acknowledged (each
message, each answer) is in the log exactly once, the bots catch up with nothing missing or
doubled, and what fell due while the server was down fires once, in order, stamped with the
time it was due. After the last restart a quiet phase sends nothing at all: the status
checks that fall due then must fire on time by themselves, so a clock that only moves when
a command arrives fails here.

CI runs a few kills per backend; `TABLETOP_SOAK_KILLS=25 .venv/bin/pytest tests/faults`
is the long soak (README)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from app.engine.events import SYSTEM
from app.loadtest.bench.servers import Server, free_port, postgres_database, wait_ready
from app.loadtest.bots import (
    Behaviour,
    Bot,
    Client,
    Identity,
    Tabletop,
    connect_all,
    join_many,
    stop_playing,
    verify,
)
from tests.conftest import POSTGRES_URL, require_postgres
from tests.live import FIXTURES, PASSWORD
from tests.oracle import live_disagreements

KILLS = int(os.environ.get("TABLETOP_SOAK_KILLS", "4"))
SPEED = 120.0
CATCH_UP = 5.0
"""How late a timer may fire after it fell due (or after the server came back): the clock
ticks every 50 ms, but a 2-core machine running bots and restarts can stall it seconds;
a timer lost or waiting for the next command would be late by the rest of the soak."""
TABLETOP = str(Path(sys.executable).with_name("tabletop"))
ROLES = ["incident_manager", "executive", "legal"]
QUIET = 6.0
"""Real seconds without a command after the last restart: 12 story minutes at 120x."""
TICK_MINUTES = 5
TICKS_UNTIL = 12 * 60
"""Story minutes: 6 real minutes at 120x, longer than any soak on a busy machine."""
"""The soak's scenario is the mini drill plus a status check for the incident manager
every 5 story minutes (every 2.5 real seconds), so timers keep falling due throughout, and
without the ending a paid ransom brings (the story must outlast the quiet phase)."""


def _soak_scenario(folder: Path) -> None:
    ticks = "".join(
        f"  - {{id: tick-{m}, title: Status check {m}, body: Still there?, "
        f"to: [incident_manager], at: {m}m}}\n"
        for m in range(TICK_MINUTES, TICKS_UNTIL, TICK_MINUTES)
    )
    mini = (FIXTURES / "mini.yaml").read_text()
    assert "\ndecisions:\n" in mini and "    ends_drill: true\n" in mini
    # Whatever the bots choose, the story runs on through the quiet phase.
    assert "end: 4h}" in mini
    soak = (
        mini.replace("    ends_drill: true\n", "")
        .replace("end: 4h}", "end: 24h}")
        .replace("\ndecisions:\n", f"\n{ticks}decisions:\n")
    )
    folder.mkdir()
    (folder / "soak.yaml").write_text(soak)


def _spawn(env: dict[str, str], port: int, log: Path) -> Server:
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [TABLETOP, "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(f"http://127.0.0.1:{port}", process, log)


def _kill(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(10)


@asynccontextmanager
async def _database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'soak.db'}"
        return
    await require_postgres()
    async with postgres_database(POSTGRES_URL) as url:
        yield url


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_sigkill_mid_drill_loses_and_doubles_nothing(backend: str, tmp_path: Path) -> None:
    asyncio.run(_soak(backend, tmp_path))


async def _soak(backend: str, tmp_path: Path) -> None:
    async with _database(backend, tmp_path) as database_url:
        _soak_scenario(tmp_path / "scenarios")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TABLETOP_")}
        env.update(
            TABLETOP_DATABASE_URL=database_url,
            TABLETOP_DATA_DIR=str(tmp_path),
            TABLETOP_SCENARIOS_DIR=str(tmp_path / "scenarios"),
            TABLETOP_SECRET_KEY="soak-secret",
            TABLETOP_TICK_SECONDS="0.05",
        )
        created = subprocess.run(  # noqa: ASYNC221 - before the loop has work
            [TABLETOP, "user", "create", "fac", "--password-stdin"],
            input=PASSWORD.encode(),
            env=env,
            capture_output=True,
            check=False,
        )
        assert created.returncode == 0, created.stderr
        port = free_port()
        log = tmp_path / "server.log"
        server = _spawn(env, port, log)
        try:
            await wait_ready(server)
            await _play_through_kills(server, env, port, log)
        finally:
            _kill(server)


async def _play_through_kills(server: Server, env: dict[str, str], port: int, log: Path) -> None:
    database_url = env["TABLETOP_DATABASE_URL"]
    api = Tabletop(server.url)
    session = await api.sign_in("fac", PASSWORD)
    # Speed 120: the scenario's timers (10, 20, 30 minutes in) fall due during the soak,
    # some of them while the server is down.
    drill_id, code = await api.create_drill(session, "soak.yaml", "Soak", speed=SPEED)
    identities = await join_many(api, code, ROLES, 6, concurrency=3)
    bots = [
        Bot(api, identity, Behaviour(think=(0.05, 0.3)), seed=n, keep_events=True)
        for n, identity in enumerate(identities)
    ]
    facilitator = Client(api, Identity(drill_id, "facilitator", None, None, session))
    await connect_all([facilitator, *bots])
    assert await facilitator.command({"type": "start"}) is not None
    loop = asyncio.get_running_loop()
    until = loop.time() + 3600
    playing = [asyncio.create_task(bot.play(until)) for bot in bots]
    rng = random.Random(9)
    outages: list[tuple[float, float]] = []
    """(from, to) wall times when the server could not act: frozen by the aimed kill's
    attempts (SIGSTOP, each a fraction of a second, sometimes dozens of them), or killed
    until it was ready again."""
    caught: list[str] = []
    try:
        for kill in range(KILLS):
            await asyncio.sleep(rng.uniform(0.3, 1.5))
            # Aimed: the kill lands while commands are in flight (sent, not yet answered),
            # and the first two wait for a moment when one of them is committed and its
            # ack not yet read: a kill mid-commit, whose resend must come back `repeated`.
            if kill < 2:  # two chances: a catch proves itself only by its resend
                freezing = time.time()
                caught += await _freeze_after_a_commit(server, bots, database_url, drill_id)
                outages.append((freezing, time.time()))
            else:
                await _commands_in_flight(bots)
            killed = time.time()
            _kill(server)
            await asyncio.sleep(rng.uniform(0.0, 1.0))
            server = _spawn(env, port, log)
            await wait_ready(server)
            outages.append((killed, time.time()))
        await asyncio.sleep(1.5)
        # The caught commands' resends must be answered before the bots stop waiting for
        # them; on a loaded machine a reconnect after the last restart takes seconds.
        await _answered(bots, set(caught), within=30)
    finally:
        await stop_playing(playing)
    # The quiet phase: nobody sends anything; the clock alone must fire what falls due.
    # (A second first, for commands the bots sent just before they stopped to land.)
    await asyncio.sleep(1.0)
    quiet = (time.time(), time.time() + QUIET)
    await asyncio.sleep(QUIET)
    try:
        await verify(api, list(bots), settle=30)
        log_events = await api.visible_events(facilitator.identity)
        _check(bots, log_events, outages)
        _check_quiet(log_events, quiet)
        _check_resends(bots, caught)
    finally:
        await asyncio.gather(*(c.stop() for c in [facilitator, *bots]))
        await api.close()
        _kill(server)


def _check(bots: list[Bot], log: list[dict[str, Any]], outages: list[tuple[float, float]]) -> None:
    # What each bot read through kills and reconnects, by the oracle's rules (not the
    # app's visible(), which the bots' own tallies use).
    problems = live_disagreements(log, bots)
    assert not problems, "\n".join(problems[:20])
    for bot in bots:
        tally = bot.tally
        assert not tally.missing and not tally.duplicates and not tally.out_of_order, bot.identity
        assert not tally.foreign and not tally.errors, (bot.identity, tally.errors)
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    # every acknowledged message is in the log exactly once
    bodies = [e["data"]["body"] for e in log if e["type"] == "message_sent"]
    acked = [m["body"] for b in bots for m in b.tally.acknowledged if m["type"] == "send_message"]
    assert acked, "the bots got nothing acknowledged: the soak measured nothing"
    for body in acked:
        assert bodies.count(body) == 1, body
    assert len(bodies) == len(set(bodies))
    # every acknowledged answer too: one decision_answered per answer the server took
    answered = [
        (e["actor"], e["data"]["decision_id"]) for e in log if e["type"] == "decision_answered"
    ]
    answers = [
        (b.identity.participant_id, m["decision_id"])
        for b in bots
        for m in b.tally.acknowledged
        if m["type"] == "answer"
    ]
    for answer in answers:
        assert answered.count(answer) == 1, answer
    # what fell due fired once, in order, never early, and late only by an outage
    delivered = [e for e in log if e["type"] == "inject_delivered"]
    ids = [e["data"]["inject_id"] for e in delivered]
    assert len(ids) == len(set(ids)), ids
    times = [e["scenario_time"] for e in delivered]
    assert times == sorted(times)
    assert {"alert", "note"} <= set(ids)
    _check_clock(log)
    _check_timers(delivered, log, outages)


def _check_clock(log: list[dict[str, Any]]) -> None:
    """After every restart the clock resumed where the wall clock says it must be: each
    command's event is stamped with the start's scenario time plus the wall time since,
    times the speed. (Timers' events carry the time they were due: `_check_timers`.)"""
    start = next(e for e in log if e["type"] == "clock_started")
    for event in log[log.index(start) :]:
        if event["actor"] == SYSTEM:
            continue
        expected = start["scenario_time"] + (event["at"] - start["at"]) * SPEED
        assert event["scenario_time"] == pytest.approx(expected, abs=0.01), event


def _check_timers(
    delivered: list[dict[str, Any]], log: list[dict[str, Any]], outages: list[tuple[float, float]]
) -> None:
    """The scenario's fixed timers (alert at 0, note at 10 minutes) fired when due, late
    only by the time the server was down or frozen meanwhile (and a little more)."""
    start = next(e for e in log if e["type"] == "clock_started")
    # The status checks are held to firing at all in the quiet phase (_check_quiet), not
    # to this lateness: dozens of them under restarts on a busy machine would make the
    # bound a coin toss.
    due_at = {"alert": 0.0, "note": 600.0}
    for event in delivered:
        due = due_at.get(event["data"]["inject_id"])
        if due is None:
            continue
        due_wall = start["at"] + (due - start["scenario_time"]) / SPEED
        assert event["scenario_time"] == due, event  # the story keeps its timeline
        assert event["at"] >= due_wall - 0.01, ("early", event)
        late_by = event["at"] - due_wall
        # Late by the time the server could not act between due and fired, and at most
        # CATCH_UP more (a clock that never resumed would be late by far more).
        down = sum(max(0.0, min(b, event["at"]) - max(a, due_wall)) for a, b in outages)
        assert late_by <= CATCH_UP + down, (
            f"{event['data']['inject_id']} fired {late_by:.2f} s late, {down:.2f} s of it down",
            outages,
        )


def _check_quiet(log: list[dict[str, Any]], quiet: tuple[float, float]) -> None:
    """Every status check due in the quiet phase (but its last CATCH_UP seconds) fired,
    though no command came to wake the clock; at least two fell due there."""
    start = next(e for e in log if e["type"] == "clock_started")
    fired = {e["data"]["inject_id"] for e in log if e["type"] == "inject_delivered"}
    due_then = [
        f"tick-{m}"
        for m in range(TICK_MINUTES, TICKS_UNTIL, TICK_MINUTES)
        if quiet[0]
        <= start["at"] + (m * 60.0 - start["scenario_time"]) / SPEED
        <= quiet[1] - CATCH_UP / 5
    ]
    assert len(due_then) >= 2, ("the quiet phase saw too few timers to say anything", due_then)
    assert set(due_then) <= fired, sorted(set(due_then) - fired)
    commands = [e for e in log if e["actor"] != SYSTEM and e["at"] > quiet[0]]
    assert commands == [], commands  # quiet: whatever happened then, the clock did it


async def _freeze_after_a_commit(
    server: Server, bots: list[Bot], database_url: str, drill_id: str, attempts: int = 300
) -> list[str]:
    """Freeze the server (SIGSTOP) while a command is in flight and look in the database:
    a command whose receipt is stored but whose ack no bot has read is caught between its
    commit and its ack. Each attempt freezes a fresh command late in its usual round trip
    (the commit comes near its end; on a loaded machine the trip, and so the window, is
    longer). Returns the caught command ids with the server still frozen for the kill (or,
    if no attempt caught one, frozen at the last attempt)."""
    rng = random.Random(3)
    for attempt in range(attempts):
        before = {command for bot in bots for command in bot.in_flight_ids}
        await _commands_in_flight(bots, exclude=before)
        latencies = sorted(x for bot in bots for x in bot.tally.ack_latencies[-20:])
        typical = latencies[len(latencies) // 2] if latencies else 0.005
        # Anywhere in the trip: the bots' own measure of it runs longer than the
        # server's part, by more on a loaded machine, so the commit may come early in it.
        await asyncio.sleep(typical * rng.uniform(0.05, 1.2))
        os.killpg(server.process.pid, signal.SIGSTOP)
        # Whatever the server had sent before it froze is read by the bots meanwhile (on a
        # loaded machine that can take a while): an ack already on its way is no catch.
        await asyncio.sleep(0.2)
        in_flight = {command for bot in bots for command in bot.in_flight_ids}
        stored = await _receipts(database_url, drill_id)
        caught = sorted(in_flight & stored)
        if caught or attempt == attempts - 1:
            print(f"soak: the aimed kill froze the server {attempt + 1} times to catch one")
            return caught
        os.killpg(server.process.pid, signal.SIGCONT)
    return []


async def _receipts(database_url: str, drill_id: str) -> set[str]:
    """The command ids with a stored receipt (keys are "<actor>:<command id>"), read
    beside the server (which may be frozen mid-transaction: only what is committed)."""
    query = "SELECT key FROM command_receipts WHERE drill_id = "
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1]
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            rows = db.execute(query + "?", (drill_id,)).fetchall()
    else:
        conn = await asyncpg.connect(database_url.replace("+asyncpg", ""), timeout=5)
        try:
            rows = await conn.fetch(query + "$1", drill_id)
        finally:
            await conn.close()
    return {str(row[0]).rsplit(":", 1)[1] for row in rows}


async def _commands_in_flight(
    bots: list[Bot], within: float = 2.0, exclude: set[str] | None = None
) -> None:
    """Return as soon as some bot has a command in flight (one not in `exclude`), or after
    `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any(set(bot.in_flight_ids) - (exclude or set()) for bot in bots):
            return
        await asyncio.sleep(0.001)


async def _answered(bots: list[Bot], commands: set[str], within: float) -> None:
    """Return once none of `commands` is in flight any more, or after `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(commands & set(bot.in_flight_ids) for bot in bots):
            return
        await asyncio.sleep(0.05)


def _check_resends(bots: list[Bot], caught: list[str]) -> None:
    """The kills caught commands in flight: the bots sent some again after reconnecting,
    and each resend was applied at most once (the exactly-once checks above). The aimed
    kill caught a command committed but not yet acknowledged (its receipt stored, and the
    bot sent it again after reconnecting: its ack had not been on its way), and that
    resend was acknowledged as `repeated`, not applied again. Printed with -s: the counts."""
    resent = {command for bot in bots for command in bot.tally.resent_ids}
    repeated = {command for bot in bots for command in bot.tally.repeated_ids}
    landed = sorted(set(caught) & resent)
    print(
        f"soak: {len(resent)} commands resent after kills, {len(repeated)} of them acked as "
        f"repeated; {len(landed)} caught committed and unacknowledged by the aimed kill"
    )
    assert resent, "no kill caught a command in flight: the soak tested no resend"
    assert landed, "no kill landed between a commit and its ack"
    assert set(landed) <= repeated, "a command committed before the kill was not acked repeated"
