"""PostgreSQL restarted mid-drill: bots play a drill on a real `tabletop serve` while its
PostgreSQL (a private cluster: tests/faults/private_postgres.py) is restarted under it,
cleanly (`-m fast`) and as a crash (`-m immediate`), once with the database down while an
inject falls due.

Every command gets an answer: an ack, and then it is in the log exactly once, or a typed
`storage_unavailable` error that says what became of it ("nothing was recorded", and then
it is not in the log; or, when the connection died during COMMIT itself, "may or may not
have been recorded", and then it is there at most once). HTTP answers 200 or 503 with
Retry-After, never a 500; a websocket opened while the database is down is closed with
1013 (try again later), never 1011. Nothing is half-applied: the log's seqs run 1..N, each
command's receipt covers exactly its events, every join has its participant row, and the
drills row agrees with replaying the log. Tabletop is never restarted during the outages:
after each one it recovers by itself within seconds (/readyz, a new command), and its
clock fires what fell due during the outage once, stamped with the time it was due. A
fresh Tabletop then reads the same log and scorecard back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.authoring.loader import load_scenario_file
from app.db.migrate import upgrade
from app.db.session import make_engine
from app.engine import commands as c
from app.engine.core import replay
from app.engine.events import Event
from app.loadtest.bots import (
    Auth,
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
from app.realtime.codes import Close
from app.services.drills import DrillService, StorageUnavailable
from tests.faults.private_postgres import Mode, PrivatePostgres, private_postgres
from tests.live import FIXTURES, PASSWORD
from tests.oracle import live_disagreements
from tests.scale.cluster import Worker, Workers, create_facilitator, server_env, workers

SPEED = 60.0
"""Scenario seconds per wall second: the ransom note (10 scenario minutes in) falls due
10 s after the start, during the long outage below."""
NOTE_DUE = 600.0 / SPEED
RESTARTS: list[tuple[float, Mode, float]] = [
    # (seconds after the start, shutdown mode, seconds PostgreSQL stays down)
    (1.5, "fast", 0.0),  # `pg_ctl restart -m fast`
    (4.0, "immediate", 0.0),  # `pg_ctl restart -m immediate`: a crash, then recovery
    (NOTE_DUE - 2.0, "fast", 3.0),  # down while the note falls due
    (NOTE_DUE + 3.5, "immediate", 0.0),
]
PLAY_SECONDS = NOTE_DUE + 5.5
"""The bots stop sending this long after the start (after the last restart)."""
RECOVERY_SECONDS = 5.0
"""How soon after PostgreSQL is back Tabletop must serve again, by itself."""
ROLES = ["incident_manager", "executive", "legal"]
IN_DOUBT = "may or may not have been recorded"
NOTHING_RECORDED = "nothing was recorded"


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    """One private cluster for this module, stopped and removed however it ends."""
    with private_postgres() as cluster:
        yield cluster


async def test_a_commit_whose_answer_is_lost_is_in_doubt_and_lands_once(
    postgres: PrivatePostgres,
) -> None:
    """PostgreSQL can commit and die before it answers. The command is told it may or
    may not have been recorded (not "nothing was recorded"), the server reads the log
    before trusting its cache again and publishes what it finds, and the command sent
    again under the same id is applied once. (The restart test below meets this window
    only by chance; here it is made to happen.)"""
    lose_next_answer = [False]

    class AnswerLost(AsyncSession):
        async def commit(self) -> None:
            await super().commit()
            if lose_next_answer[0]:
                lose_next_answer[0] = False
                raise InterfaceError(
                    "COMMIT", None, Exception("connection is closed"), connection_invalidated=True
                )

    engine = make_engine(await postgres.create_database("in_doubt"))
    try:
        await upgrade(engine)
        sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            engine, class_=AnswerLost, expire_on_commit=False
        )
        service = DrillService(sessions, sqlite=False)
        published: list[int] = []

        async def listen(drill_id: str, seq: int) -> None:
            published.append(seq)

        service.listeners.append(listen)
        mini = (FIXTURES / "mini.yaml").read_text()
        drill_id = await service.create_drill(mini, "mini.yaml", c.CreateDrill("d-1", "Doubt"))
        await service.execute(drill_id, c.Join("p1", "Dana", "legal"), c.Actor("p1"), "p1:join")
        await service.execute(drill_id, c.StartClock(), c.Actor(), "facilitator:start")
        board = c.SendMessage(to=["incident_manager"], body="the board is told")
        before = max(published)
        lose_next_answer[0] = True
        with pytest.raises(StorageUnavailable, match="lost while committing") as refused:
            await service.execute(drill_id, board, c.Actor("p1"), "p1:board")
        assert refused.value.in_doubt
        assert max(published) == before  # nobody was told of it yet
        await service.tick(drill_id)  # the clock's next pass reads the log and tells
        assert max(published) > before
        again = await service.execute(drill_id, board, c.Actor("p1"), "p1:board")
        assert again.repeated and again.first_seq == before + 1
        legal = c.SendMessage(to=["legal"], body="legal is told")
        after = await service.execute(drill_id, legal, c.Actor("p1"), "p1:legal")
        assert not after.repeated and after.first_seq == again.last_seq + 1
        log = await service.events(drill_id)
        assert [e.seq for e in log] == list(range(1, len(log) + 1))
        sent = [e.data["body"] for e in log if e.type == "message_sent"]
        assert sent == ["the board is told", "legal is told"]
    finally:
        await engine.dispose()


def test_postgres_restarted_mid_drill_loses_doubles_and_half_applies_nothing(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    asyncio.run(asyncio.wait_for(_drill_through_restarts(postgres, tmp_path), 240))


# --------------------------------------------------------------------------- clients


@dataclass(slots=True)
class Answer:
    """What the server answered one command: ("ack", seq) or ("error", code, text)."""

    message: dict[str, Any]
    kind: str
    seq: int | None = None
    code: str = ""
    text: str = ""
    at: float = field(default_factory=time.monotonic)


class Recorded(Client):
    """A client that keeps every command's answer, every close and every event it saw
    (the events judged by the oracle)."""

    def __init__(self, server: Tabletop, identity: Identity, *, keep_events: bool = True) -> None:
        super().__init__(server, identity, keep_events=keep_events)
        self.answers: dict[str, Answer] = {}
        self.closes: list[int | None] = []
        self.injects: list[str] = []

    def handle_event(self, event: dict[str, Any]) -> None:
        if event["type"] == "inject_delivered":
            self.injects.append(str(event["data"]["inject_id"]))

    def _acked(self, message: dict[str, Any]) -> None:
        pending = self._pending.get(str(message.get("id")))
        if pending is not None and not pending.done.done():
            seq = int(message["seq"])
            self.answers[str(message["id"])] = Answer(pending.message, "ack", seq=seq)
        super()._acked(message)

    def _error(self, message: dict[str, Any]) -> None:
        pending = self._pending.get(str(message.get("id")))
        if pending is not None and not pending.done.done():
            self.answers[str(message["id"])] = Answer(
                pending.message, "error", code=str(message["code"]), text=str(message["message"])
            )
        super()._error(message)

    async def _reconnect(self) -> None:
        # Tabletop itself stays up: its sockets should never close. Keep how they did.
        self.closes.append(None if self._ws is None else self._ws.close_code)
        await super()._reconnect()


class RecordedBot(Bot, Recorded):
    pass


@dataclass(slots=True)
class Recovery:
    """One restart: from `went` (pg_ctl called) to `done` (Tabletop serving again)."""

    what: str
    went: float
    done: float
    ready: float
    """seconds from PostgreSQL back to /readyz 200"""
    acked: float
    """seconds from PostgreSQL back to a new command acknowledged"""


@dataclass
class HttpLog:
    """Every HTTP answer the prober got while the database came and went."""

    answers: list[tuple[str, int, str, str]] = field(default_factory=list)
    """(what, status, Retry-After, detail)"""
    joins: dict[str, tuple[int, str]] = field(default_factory=dict)
    """walk-in name -> (status, detail) of its POST /api/join"""


# --------------------------------------------------------------------------- the run


async def _drill_through_restarts(postgres: PrivatePostgres, tmp: Path) -> None:
    await create_facilitator(postgres.url, tmp)
    env = server_env(tmp, database_url=postgres.url)
    with workers(tmp, env) as started:
        server = await started.ready(started.spawn())
        api = Tabletop(server.url, timeout=15)
        try:
            await _play(postgres, server, api, started)
        finally:
            await api.close()


async def _play(postgres: PrivatePostgres, server: Worker, api: Tabletop, started: Workers) -> None:
    session = await api.sign_in("fac", PASSWORD)
    drill_id, code = await api.create_drill(session, "mini.yaml", "Restarts", speed=SPEED)
    identities = await join_many(api, code, ROLES, 9, concurrency=3)
    bots = [
        RecordedBot(api, identity, Behaviour(think=(0.05, 0.25)), seed=n, keep_events=True)
        for n, identity in enumerate(identities)
    ]
    facilitator = Recorded(api, Identity(drill_id, "facilitator", None, None, session))
    probe = Recorded(api, await api.join(code, "Probe", "incident_manager"))
    clients: list[Recorded] = [facilitator, probe, *bots]
    await connect_all(list(clients))
    assert await facilitator.command({"type": "start"}) is not None
    began = time.monotonic()
    playing = [asyncio.create_task(bot.play(began + PLAY_SECONDS)) for bot in bots]
    http = HttpLog()
    stop_probing = asyncio.Event()
    prober = asyncio.create_task(_probe_http(server, session, drill_id, code, http, stop_probing))
    recoveries: list[Recovery] = []
    try:
        for at, mode, down in RESTARTS:
            await asyncio.sleep(max(0.0, began + at - time.monotonic()))
            went = time.monotonic()
            if down:
                await asyncio.to_thread(postgres.stop, mode)
                await _while_down(api, server, session, drill_id, probe, identities[0])
                await asyncio.sleep(max(0.0, began + at + down - time.monotonic()))
                await asyncio.to_thread(postgres.start)
            else:
                await asyncio.to_thread(postgres.restart, mode)
            ready, acked = await _recovered(server, probe)
            what = f"-m {mode}" + (f", down {down:.0f} s" if down else "")
            recoveries.append(Recovery(what, went, time.monotonic(), ready, acked))
            if down:
                # What fell due while PostgreSQL was down fires now, without a restart.
                await _until(lambda: "note" in facilitator.injects, RECOVERY_SECONDS, "note")
        await asyncio.gather(*playing)
    finally:
        stop_probing.set()
        await stop_playing(playing)
        await asyncio.gather(prober, return_exceptions=True)
    # Freeze the log (the clock would go on firing), then check everything against it.
    assert await facilitator.command({"type": "pause"}) is not None
    try:
        await verify(api, list(clients), settle=15)
        log = await api.visible_events(facilitator.identity)
        score = await _score(api, session, drill_id)
        rows = await _database_rows(postgres.url, drill_id)
        summary = _check(clients, log, rows, http, recoveries)
    finally:
        await asyncio.gather(*(c.stop() for c in clients))
    assert "Traceback" not in server.output(), server.output()[-5000:]
    # A fresh Tabletop on the same database reads the same drill back.
    started.stop_all()
    fresh = await started.ready(started.spawn())
    again = Tabletop(fresh.url, timeout=15)
    try:
        assert await again.visible_events(facilitator.identity) == log
        assert await _score(again, session, drill_id) == score
    finally:
        await again.close()
    print(f"\npostgres restarts: {summary}")  # the figures for the issue note


async def _while_down(
    api: Tabletop,
    server: Worker,
    session: Auth,
    drill_id: str,
    probe: Recorded,
    identity: Identity,
) -> None:
    """With PostgreSQL stopped: a command gets a typed error, a read a 503, a new
    websocket the close code that says "try again later"."""
    assert await probe.command(_probe_message("while down"), wait=10) is None
    answered = [a for a in probe.answers.values() if "while down" in a.message["body"]]
    assert answered, f"no answer while PostgreSQL was down (socket closes: {probe.closes})"
    refused = answered[-1]
    assert refused.code == "storage_unavailable", refused
    assert NOTHING_RECORDED in refused.text and "send it again" in refused.text, refused
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        response = await client.get(f"/api/drills/{drill_id}/events", headers=session.headers)
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "2"
        assert "try again" in response.json()["detail"]
        ready = await client.get("/readyz")
        assert ready.status_code == 503, ready.text
    assert await _open_socket(api, identity) == Close.try_again_later


async def _open_socket(api: Tabletop, identity: Identity) -> int | None:
    """Open a websocket; the code it was closed with, or None if it opened."""
    url = f"{api.ws_base}/ws/drills/{identity.drill_id}?since=0"
    headers = {"Origin": api.base_url, **identity.auth.headers}
    async with connect(url, additional_headers=headers) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as exc:
            return None if exc.rcvd is None else exc.rcvd.code
    return None


async def _recovered(server: Worker, probe: Recorded) -> tuple[float, float]:
    """Seconds until /readyz says 200 and until a new command is acknowledged, counted
    from PostgreSQL accepting connections again; Tabletop is not touched."""
    back = time.monotonic()
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        while (await client.get("/readyz")).status_code != 200:
            assert time.monotonic() - back < RECOVERY_SECONDS, "/readyz stayed 503"
            await asyncio.sleep(0.05)
    ready = time.monotonic() - back
    n = 0
    while await probe.command(_probe_message(f"recovery {n}"), wait=RECOVERY_SECONDS) is None:
        assert time.monotonic() - back < RECOVERY_SECONDS, "no command succeeded after the restart"
        n += 1
        await asyncio.sleep(0.05)
    return ready, time.monotonic() - back


def _probe_message(tag: str) -> dict[str, Any]:
    return {"type": "send_message", "to": ["regulator"], "body": f"probe {tag} {time.time()}"}


async def _probe_http(
    server: Worker, session: Auth, drill_id: str, code: str, log: HttpLog, stop: asyncio.Event
) -> None:
    """Reads and joins over HTTP all along: 200, or 503 with Retry-After; never a 500."""
    headers = {"Origin": server.url}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as client:
        n = 0
        while not stop.is_set():
            n += 1
            calls: list[tuple[str, str, dict[str, Any] | None, Auth | None]] = [
                ("readyz", "/readyz", None, None),
                ("events", f"/api/drills/{drill_id}/events", None, session),
                ("score", f"/api/drills/{drill_id}/score", None, session),
            ]
            if n % 4 == 0:
                name = f"Walk-in {n:04d}"
                join = {"code": code, "name": name, "role": "legal"}
                calls.append((name, "/api/join", join, None))
            for what, path, body, auth in calls:
                request_headers = auth.headers if auth else {}
                if body is None:
                    response = await client.get(path, headers=request_headers)
                else:
                    response = await client.post(path, json=body, headers=request_headers)
                    client.cookies.clear()
                detail = ""
                if response.status_code != 200:
                    with contextlib.suppress(ValueError):
                        detail = str(response.json().get("detail", ""))
                retry = response.headers.get("Retry-After", "")
                log.answers.append((what, response.status_code, retry, detail))
                if body is not None:
                    log.joins[what] = (response.status_code, detail)
            await asyncio.sleep(0.1)


async def _score(api: Tabletop, session: Auth, drill_id: str) -> dict[str, Any]:
    response = await api.http.get(f"/api/drills/{drill_id}/score", headers=session.headers)
    assert response.status_code == 200, response.text
    score: dict[str, Any] = response.json()
    return score


@dataclass
class Rows:
    """What the database holds for the drill, read directly."""

    status: str
    last_seq: int
    receipts: dict[str, tuple[int, int]]
    participants: set[str]


async def _database_rows(url: str, drill_id: str) -> Rows:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            drill = (
                await conn.execute(
                    text("SELECT status, last_seq FROM drills WHERE id = :id"), {"id": drill_id}
                )
            ).one()
            receipts = (
                await conn.execute(
                    text(
                        "SELECT key, first_seq, last_seq FROM command_receipts WHERE drill_id = :id"
                    ),
                    {"id": drill_id},
                )
            ).all()
            participants = (
                await conn.scalars(
                    text("SELECT id FROM participants WHERE drill_id = :id"), {"id": drill_id}
                )
            ).all()
    finally:
        await engine.dispose()
    return Rows(
        str(drill.status),
        int(drill.last_seq),
        {str(k): (int(first), int(last)) for k, first, last in receipts},
        {str(p) for p in participants},
    )


# --------------------------------------------------------------------------- checks


def _answered(answers: list[Answer], restart: Recovery) -> str:
    """What the commands answered during one restart (pg_ctl called to Tabletop serving)."""
    during = [a for a in answers if restart.went <= a.at <= restart.done]
    kinds = [a.kind if a.kind == "ack" else a.code for a in during]
    return ", ".join(f"{kinds.count(k)} {k}" for k in sorted(set(kinds))) or "no answers"


async def _until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what}"
        await asyncio.sleep(0.05)


def _check(
    clients: list[Recorded],
    log: list[dict[str, Any]],
    rows: Rows,
    http: HttpLog,
    recoveries: list[Recovery],
) -> dict[str, Any]:
    """Everything the issue asks of a restart, against the log and the database rows."""
    seqs = [e["seq"] for e in log]
    assert seqs == list(range(1, len(log) + 1)), "the log has a gap or a double"
    by_seq = {e["seq"]: e for e in log}
    # What each socket read through the restarts, by the oracle's rules (not the app's
    # visible(), which the clients' own tallies use).
    problems = live_disagreements(log, clients)
    assert not problems, "\n".join(problems[:20])
    for client in clients:
        tally = client.tally
        assert not tally.missing and not tally.duplicates and not tally.out_of_order, (
            client.identity
        )
        assert not tally.foreign and not tally.errors, (client.identity, tally.errors)
        assert not client.closes, f"{client.identity.name}: socket closed {client.closes}"
        assert len(client.answers) == tally.sent, "a command got no answer"

    counts = {"sent": 0, "acked": 0, "refused by the rules": 0, "storage_unavailable": 0}
    counts |= {"in doubt": 0, "in doubt and recorded": 0, "lost": 0}
    bodies = [e["data"]["body"] for e in log if e["type"] == "message_sent"]
    # Receipts are filed as "<actor>:<command id>"; the ids are unique across clients.
    receipts = {key.rsplit(":", 1)[1]: seqs for key, seqs in rows.receipts.items()}
    for client in clients:
        for command_id, answer in client.answers.items():
            counts["sent"] += 1
            receipt = receipts.get(command_id)
            body = answer.message.get("body")
            if answer.kind == "ack":
                counts["acked"] += 1
                if receipt is None:
                    counts["lost"] += 1
                    continue
                assert answer.seq == receipt[1], (answer, receipt)
                if body is not None:
                    assert bodies.count(body) == 1, body
                    mine = [by_seq[s] for s in range(receipt[0], receipt[1] + 1)]
                    assert any(e["data"].get("body") == body for e in mine), (answer, mine)
                continue
            if answer.code != "storage_unavailable":
                counts["refused by the rules"] += 1
                assert receipt is None, answer
                continue
            counts["storage_unavailable"] += 1
            assert "send it again" in answer.text, answer
            if IN_DOUBT in answer.text:
                counts["in doubt"] += 1
                counts["in doubt and recorded"] += receipt is not None
                if body is not None:
                    assert bodies.count(body) == (receipt is not None), (answer, receipt)
            else:
                assert NOTHING_RECORDED in answer.text, answer
                assert receipt is None, f"said nothing was recorded, but it was: {answer}"
                assert body is None or body not in bodies, answer
    assert counts["lost"] == 0, counts
    assert counts["storage_unavailable"] > 0, "no command met a restart: nothing was tested"

    # Nothing half-applied: each receipt covers its command's events and only them, every
    # event a participant caused has its receipt, every join its participant row, and the
    # drills row is what replaying the log gives.
    covered: dict[int, str] = {}
    for key, (first, last) in rows.receipts.items():
        assert 1 <= first <= last <= len(log), (key, first, last)
        actor = key.rsplit(":", 1)[0]
        for seq in range(first, last + 1):
            assert seq not in covered, (key, covered.get(seq))
            covered[seq] = key
            assert by_seq[seq]["actor"] in (actor, "system"), (key, by_seq[seq])
    for event in log:
        if event["actor"] != "system" and event["seq"] not in covered:
            assert event["type"] in ("drill_created", "participant_joined"), event
    joined = {e["data"]["participant_id"] for e in log if e["type"] == "participant_joined"}
    assert joined == rows.participants, joined ^ rows.participants
    scenario = load_scenario_file(FIXTURES / "mini.yaml").scenario
    assert scenario is not None
    state = replay(scenario, [Event.from_dict(e) for e in log])
    assert (rows.status, rows.last_seq) == (str(state.status), state.seq)

    # The clock: what fell due fired once each, in order; the note, due while PostgreSQL
    # was down, stamped with the time it was due.
    delivered = [e for e in log if e["type"] == "inject_delivered"]
    ids = [e["data"]["inject_id"] for e in delivered]
    assert len(ids) == len(set(ids)), ids
    times = [e["scenario_time"] for e in delivered]
    assert times == sorted(times), times
    note = next(e for e in delivered if e["data"]["inject_id"] == "note")
    assert note["scenario_time"] == 600.0, note

    # HTTP: 200, or 503 with Retry-After and a message that says what to do; never 500.
    statuses: dict[int, int] = {}
    for what, status, retry, detail in http.answers:
        statuses[status] = statuses.get(status, 0) + 1
        assert status in (200, 503), (what, status, detail)
        if status == 503 and what != "readyz":  # an operator's probe: 503 is its answer
            assert retry == "2" and "try again" in detail, (what, retry, detail)
    names = [e["data"]["name"] for e in log if e["type"] == "participant_joined"]
    for name, (status, detail) in http.joins.items():
        if status == 200:
            assert names.count(name) == 1, name
        elif "may or may not" in detail:
            assert names.count(name) <= 1, name
        else:
            assert name not in names, (name, detail)
    assert 503 in statuses, "no HTTP request met a restart"
    answers = [a for client in clients for a in client.answers.values()]
    return {
        "restarts": [
            f"{r.what}: {_answered(answers, r)}; /readyz 200 {r.ready:.2f} s and a command "
            f"acked {r.acked:.2f} s after PostgreSQL was back"
            for r in recoveries
        ],
        "commands": counts,
        "http": statuses,
        "events": len(log),
    }
