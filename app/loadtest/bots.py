"""Bots: simulated participants that play a drill over real websockets and check it.

A bot joins with the drill's code like a person (`POST /api/join`), opens the drill's
websocket with its cookie and an Origin header, reads its inbox, answers the decisions put
to its role and messages other roles and parties after a think time. It checks everything
it receives: seqs strictly increasing, nothing twice, nothing its role may not see. At the
end each bot's log is compared with what the server says that participant may read
(`GET /api/drills/{id}/events`): anything missing is a gap. On a dropped connection a bot
reconnects with `since` and sends its unacknowledged commands again under the same ids,
which the server applies once.

Used by `tabletop simulate` (load, faults, demos) and by `tabletop bench`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from app.engine.events import Event, EventType
from app.engine.payloads import DecisionData, DecisionOpenedData
from app.realtime.visibility import Viewer, visible

SESSION_COOKIE = "tt_session"
PARTICIPANT_COOKIE_PREFIX = "tt_p_"
HOST_ONLY_PREFIX = "__Host-"
_ROSTER = frozenset({EventType.participant_joined, EventType.participant_left})
PROTOCOL_ERRORS = frozenset({"invalid_message", "rate_limited"})
"""Error codes that mean the bot itself misbehaved (a violation), not a refusal of play."""
RECONNECT_DELAYS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)


class SimulationError(RuntimeError):
    """The server could not be used as asked (wrong URL, code, credentials, scenario)."""


@dataclass(frozen=True, slots=True)
class Auth:
    """The one header a bot proves who it is with: a cookie (a participant's token, a
    facilitator's session) or `Authorization: Bearer` (an API token)."""

    header: str
    value: str

    @classmethod
    def cookie(cls, name: str, value: str) -> Auth:
        return cls("Cookie", f"{name}={value}")

    @classmethod
    def bearer(cls, token: str) -> Auth:
        return cls("Authorization", f"Bearer {token}")

    @property
    def headers(self) -> dict[str, str]:
        return {self.header: self.value}


def _cookie(response: httpx.Response, base: str) -> Auth:
    """The cookie `base` as the server set it: `__Host-` prefixed over HTTPS."""
    for name in (HOST_ONLY_PREFIX + base, base):
        if name in response.cookies:
            return Auth.cookie(name, response.cookies[name])
    raise SimulationError(f"{response.request.url.path} set no {base} cookie")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a websocket speaks for: a participant, or the facilitator (session or token)."""

    drill_id: str
    name: str
    role: str | None
    participant_id: str | None
    auth: Auth

    @property
    def viewer(self) -> Viewer:
        if self.participant_id is None:
            return Viewer("facilitator")
        return Viewer(
            "observer" if self.role is None else "participant", self.role, self.participant_id
        )


# --------------------------------------------------------------------------- HTTP


class Tabletop:
    """The few HTTP calls bots need, against one server."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Origin": self.base_url},
            timeout=timeout,
            limits=limits,
        )

    async def close(self) -> None:
        await self.http.aclose()

    @property
    def ws_base(self) -> str:
        return "ws" + self.base_url.removeprefix("http")

    async def sign_in(self, username: str, password: str) -> Auth:
        """A facilitator's session cookie."""
        response = await self._call(
            "POST", "/api/session", json={"username": username, "password": password}
        )
        return _cookie(response, SESSION_COOKIE)

    async def create_drill(
        self, facilitator: Auth, scenario: str, name: str, speed: float | None = None
    ) -> tuple[str, str]:
        """A new drill from a library scenario: its id and its join code."""
        body: dict[str, Any] = {"scenario": scenario, "name": name}
        if speed is not None:
            body["speed"] = speed
        response = await self._call("POST", "/api/drills", json=body, auth=facilitator)
        created = response.json()
        return str(created["id"]), str(created["join_code"])

    async def join(self, code: str, name: str, role: str | None) -> Identity:
        response = await self._call(
            "POST", "/api/join", json={"code": code, "name": name, "role": role}
        )
        joined = response.json()
        drill_id = str(joined["drill_id"])
        token = _cookie(response, PARTICIPANT_COOKIE_PREFIX + drill_id)
        self.http.cookies.clear()  # each bot carries its own cookie, never the jar's
        return Identity(drill_id, name, role, str(joined["participant_id"]), token)

    async def join_info(self, code: str) -> dict[str, Any]:
        """What the code opens: the drill's id, name, status and roles."""
        response = await self._call("GET", f"/api/join/{code}")
        info: dict[str, Any] = response.json()
        return info

    async def visible_events(self, identity: Identity) -> list[dict[str, Any]]:
        """The drill's log as this participant may read it: the reference bots check against."""
        response = await self._call(
            "GET", f"/api/drills/{identity.drill_id}/events", auth=identity.auth
        )
        events: list[dict[str, Any]] = response.json()
        return events

    async def _call(
        self, method: str, path: str, *, json: Any = None, auth: Auth | None = None
    ) -> httpx.Response:
        headers = auth.headers if auth else {}
        try:
            response = await self.http.request(method, path, json=json, headers=headers)
        except httpx.HTTPError as exc:
            raise SimulationError(f"{method} {self.base_url}{path}: {exc!r}") from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise SimulationError(f"{method} {path}: {response.status_code} {detail}")
        return response


# --------------------------------------------------------------------------- the socket


@dataclass(slots=True)
class Tally:
    """What one client saw and did; the figures `simulate` sums and `bench` measures."""

    events: int = 0
    seqs: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    out_of_order: list[int] = field(default_factory=list)
    foreign: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    sent: int = 0
    acked: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    reconnects: int = 0
    resent: int = 0
    """Commands sent again under their ids after a reconnect (their first ack was lost)."""
    repeated: int = 0
    """Acks that said `repeated`: the command had been committed before, its ack lost."""
    resent_ids: list[str] = field(default_factory=list)
    """The ids of the commands sent again after a reconnect."""
    repeated_ids: list[str] = field(default_factory=list)
    """The ids of the commands acknowledged as `repeated`."""
    ack_latencies: list[float] = field(default_factory=list)
    acknowledged: list[dict[str, Any]] = field(default_factory=list)
    """The commands the server acknowledged: each must be in the log, once."""
    arrivals: dict[int, float] = field(default_factory=dict)
    """seq -> perf_counter() at receipt, when the client records arrivals (the bench)."""

    @property
    def violations(self) -> int:
        return (
            len(self.duplicates)
            + len(self.out_of_order)
            + len(self.foreign)
            + len(self.missing)
            + len(self.errors)
        )


@dataclass(slots=True)
class _Pending:
    message: dict[str, Any]
    sent_at: float
    done: asyncio.Future[int]


class Client:
    """One websocket to a drill: keeps the log it receives in order, checks each event
    against its viewer, sends commands and matches their acks; reconnects with `since`."""

    def __init__(
        self,
        server: Tabletop,
        identity: Identity,
        *,
        record_arrivals: bool = False,
        keep_events: bool = False,
    ) -> None:
        """`keep_events`: keep each event as received (`received`), for a test to judge
        by rules of its own rather than by the server's `visible()`."""
        self.server = server
        self.identity = identity
        self.viewer = identity.viewer
        self.record_arrivals = record_arrivals
        self.keep_events = keep_events
        self.received: list[dict[str, Any]] = []
        self.ended = False
        self.last_inject: dict[str, Any] | None = None
        self.tally = Tally()
        self.last_seq = 0
        self.context: dict[str, Any] = {}
        self.scores_released = False
        self.ready = asyncio.Event()
        self.closed_for_good = False
        self._seen: set[int] = set()
        self._roster_seqs: set[int] = set()
        self._pending: dict[str, _Pending] = {}
        self._sent_ids: set[str] = set()
        """Every command id this client sent: a refusal that arrives after the client
        stopped waiting (its play was cancelled, or it timed out) is still an answer to
        its own command, not a protocol violation."""
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._seq_waiters: list[tuple[int, asyncio.Future[None]]] = []

    # -- connection

    async def start(self) -> None:
        """Connect and read in the background until `stop`."""
        await self._connect()
        self._reader = asyncio.create_task(self._read_forever())

    async def stop(self) -> None:
        self.closed_for_good = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()

    async def _connect(self) -> None:
        url = f"{self.server.ws_base}/ws/drills/{self.identity.drill_id}?since={self.last_seq}"
        headers = {"Origin": self.server.base_url, **self.identity.auth.headers}
        self._ws = await connect(
            url,
            additional_headers=headers,
            compression=None,
            max_size=2**24,
            open_timeout=60,
            ping_interval=None,
        )

    async def _read_forever(self) -> None:
        while not self.closed_for_good:
            assert self._ws is not None
            try:
                async for raw in self._ws:
                    self._receive(json.loads(raw))
            except ConnectionClosed:
                pass
            if self.closed_for_good:
                return
            await self._reconnect()

    async def _reconnect(self) -> None:
        self.ready.clear()
        for attempt in range(1000):
            delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
            await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter
            try:
                await self._connect()
            except (OSError, InvalidHandshake, TimeoutError):
                continue
            self.tally.reconnects += 1
            for pending in list(self._pending.values()):  # same ids: applied once
                self.tally.resent += 1
                self.tally.resent_ids.append(str(pending.message["id"]))
                await self._send(pending.message)
            return
        raise SimulationError(f"{self.identity.name}: could not reconnect")

    @property
    def in_flight(self) -> int:
        """Commands sent and not yet answered."""
        return len(self._pending)

    @property
    def in_flight_ids(self) -> list[str]:
        """The ids of the commands sent and not yet answered."""
        return list(self._pending)

    async def _send(self, message: dict[str, Any]) -> None:
        if self._ws is None:
            return
        with contextlib.suppress(ConnectionClosed):  # the reader reconnects and resends
            await self._ws.send(json.dumps(message))

    # -- commands

    async def command(self, message: dict[str, Any], wait: float = 60.0) -> int | None:
        """Send a command and wait for its ack: the seq it wrote, or None when the server
        refused it (the refusal is counted by its code)."""
        command_id = uuid.uuid4().hex
        message = {**message, "id": command_id}
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = _Pending(message, time.perf_counter(), done)
        self._sent_ids.add(command_id)
        self.tally.sent += 1
        await self._send(message)
        try:
            return await asyncio.wait_for(done, wait)
        except TimeoutError:
            self.tally.errors.append(f"no answer to {message['type']} in {wait:.0f} s")
            return None
        except _Refused:
            return None
        finally:
            self._pending.pop(command_id, None)

    # -- receiving

    def _receive(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "snapshot":
            self.context = message["drill"]
            self.scores_released = bool(self.context.get("scores_released"))
            self.ended = self.context.get("status") == "ended"
            for event in message["events"]:
                self._event(event)
            self.last_seq = max(self.last_seq, int(message["last_seq"]))
            self._wake_seq_waiters()
            self.ready.set()
        elif kind == "event":
            self._event(message["event"])
        elif kind == "ack":
            self._acked(message)
        elif kind == "error":
            self._error(message)

    def _event(self, event: dict[str, Any]) -> None:
        seq = int(event["seq"])
        now = time.perf_counter()
        if seq in self._seen:
            self.tally.duplicates.append(seq)
            return
        if self.tally.seqs and seq < self.tally.seqs[-1]:
            self.tally.out_of_order.append(seq)
        self._seen.add(seq)
        self.tally.seqs.append(seq)
        if self.keep_events:
            self.received.append(event)
        self.tally.events += 1
        self.last_seq = max(self.last_seq, seq)
        if self.record_arrivals:
            self.tally.arrivals[seq] = now
        if event["type"] == EventType.scores_released:
            self.scores_released = True
        elif event["type"] == EventType.drill_ended:
            self.ended = True
        elif event["type"] == EventType.inject_delivered:
            self.last_inject = event
        elif event["type"] in _ROSTER:
            self._roster_seqs.add(seq)
        if not self._may_see(event):
            self.tally.foreign.append(seq)
        self.handle_event(event)
        self._wake_seq_waiters()

    def handle_event(self, event: dict[str, Any]) -> None:
        """For subclasses that act on what arrives."""

    def _may_see(self, event: dict[str, Any]) -> bool:
        """Would the rules show this viewer this event? (A hub that put one role's event on
        another role's socket fails here.)"""
        try:
            parsed = Event.from_dict(event)
        except (KeyError, ValueError):
            return False
        return visible(parsed, self.viewer, self.scores_released) is not None

    def _acked(self, message: dict[str, Any]) -> None:
        command_id = str(message.get("id"))
        pending = self._pending.get(command_id)
        if pending is None or pending.done.done():
            if message.get("repeated") and command_id in self._sent_ids:
                # A resend answered after the bot stopped waiting (its play was stopped):
                # still the proof that the server applied it once and knew it again.
                self.tally.repeated_ids.append(command_id)
            return
        self.tally.acked += 1
        self.tally.repeated += bool(message.get("repeated"))
        if message.get("repeated"):
            self.tally.repeated_ids.append(str(message.get("id")))
        self.tally.ack_latencies.append(time.perf_counter() - pending.sent_at)
        self.tally.acknowledged.append(pending.message)
        pending.done.set_result(int(message["seq"]))

    def _error(self, message: dict[str, Any]) -> None:
        code = str(message.get("code"))
        pending = self._pending.get(str(message.get("id")))
        if code in PROTOCOL_ERRORS or str(message.get("id")) not in self._sent_ids:
            self.tally.errors.append(f"{code}: {message.get('message')}")
        else:
            self.tally.refused[code] = self.tally.refused.get(code, 0) + 1
        if pending is not None and not pending.done.done():
            pending.done.set_exception(_Refused(code))

    # -- waiting

    async def wait_for_seq(self, seq: int, wait: float) -> bool:
        """True once this client has read up to `seq` (what it may see of it)."""
        if self.last_seq >= seq:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq_waiters.append((seq, waiter))
        try:
            await asyncio.wait_for(waiter, wait)
        except TimeoutError:
            return False
        return True

    def _wake_seq_waiters(self) -> None:
        if not self._seq_waiters:
            return
        still = []
        for seq, waiter in self._seq_waiters:
            if self.last_seq >= seq and not waiter.done():
                waiter.set_result(None)
            elif not waiter.done():
                still.append((seq, waiter))
        self._seq_waiters = still

    def check_against(self, reference: Iterable[dict[str, Any]]) -> None:
        """Compare with the server's log for this viewer's role: what it lists and the
        client never got is missing; what the client got and it does not list is foreign.
        Joins and leaves are left out on both sides: a participant sees only their own,
        so they differ within a role (each is checked on arrival instead)."""
        expected = [int(e["seq"]) for e in reference if e["type"] not in _ROSTER]
        expected_set = set(expected)
        seen = set(self.tally.seqs)
        self.tally.missing = [s for s in expected if s not in seen]
        upto = max(expected, default=0)
        extra = [
            s
            for s in self.tally.seqs
            if s <= upto and s not in expected_set and s not in self._roster_seqs
        ]
        self.tally.foreign.extend(s for s in extra if s not in self.tally.foreign)


class _Refused(Exception):
    """A command the server refused (kept as a count, not raised to callers)."""


# --------------------------------------------------------------------------- playing


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How a bot plays: a think time drawn between the bounds before each command."""

    think: tuple[float, float] = (2.0, 6.0)
    answer: bool = True
    message: bool = True


class Bot(Client):
    """A participant that plays: answers its role's open decisions, then messages."""

    def __init__(
        self,
        server: Tabletop,
        identity: Identity,
        behaviour: Behaviour,
        seed: int = 0,
        *,
        keep_events: bool = False,
    ) -> None:
        super().__init__(server, identity, keep_events=keep_events)
        self.behaviour = behaviour
        self.random = random.Random(seed)  # noqa: S311 - play, not secrets
        self.open_decisions: dict[str, str] = {}

    def handle_event(self, event: dict[str, Any]) -> None:
        """Keep track of the decisions open to this bot's role."""
        kind, data = event["type"], event.get("data", {})
        if kind == EventType.decision_opened:
            opened = cast(DecisionOpenedData, data)
            if self.identity.role in opened.get("roles", ()):
                prompt: str = opened.get("prompt", "")
                self.open_decisions[opened["decision_id"]] = str(prompt)
        elif kind in (EventType.decision_closed, EventType.decision_timed_out) or (
            # Its own answer: the answer's actor is the participant who gave it.
            kind == EventType.decision_answered
            and event.get("actor") == self.identity.participant_id
        ):
            self.open_decisions.pop(cast(DecisionData, data).get("decision_id", ""), None)

    async def play(self, until: float) -> None:
        """Act until the monotonic time `until` (or until the drill ends)."""
        await self.ready.wait()
        low, high = self.behaviour.think
        while True:
            pause = self.random.uniform(low, high)
            if time.monotonic() + pause >= until:
                return
            await asyncio.sleep(pause)
            if self.ended:
                return
            move = self.next_move()
            if move is not None:
                await self.command(move)

    def next_move(self) -> dict[str, Any] | None:
        """An answer to an open decision if there is one, else a message."""
        options: dict[str, list[dict[str, str]]] = self.context.get("decision_options", {})
        if self.behaviour.answer:
            for decision_id in list(self.open_decisions):
                choices = options.get(decision_id)
                if choices:
                    self.open_decisions.pop(decision_id)
                    option = self.random.choice(choices)
                    return {
                        "type": "answer",
                        "decision_id": decision_id,
                        "option_id": option["id"],
                        "rationale": f"{self.identity.name} chose {option['label']!r}",
                    }
        if not self.behaviour.message:
            return None
        recipients = [r for r in self.context.get("roles", {}) if r != self.identity.role]
        recipients += list(self.context.get("parties", {}))
        if not recipients:
            return None
        to = self.random.choice(recipients)
        return {
            "type": "send_message",
            "to": [to],
            "subject": "Update",
            "body": f"{self.identity.name} ({self.identity.role}) to {to}: status update "
            f"{self.tally.sent + 1}.",
        }


# --------------------------------------------------------------------------- a whole run


@dataclass(frozen=True, slots=True)
class Plan:
    """One simulation: join `bots` participants to a drill (by code, or a new one from a
    library scenario) and let them play for `duration` seconds."""

    url: str
    bots: int = 10
    code: str | None = None
    scenario: str | None = None
    username: str = ""
    password: str = ""
    api_token: str = ""
    """With `scenario`: the facilitator's API token, instead of username and password."""
    roles: tuple[str, ...] = ()
    behaviour: Behaviour = Behaviour()
    duration: float = 60.0
    speed: float | None = None
    settle: float = 15.0
    join_concurrency: int = 16
    seed: int = 0


@dataclass(slots=True)
class Summary:
    drill_id: str
    code: str
    bots: int
    tallies: list[Tally]
    seconds: float

    @property
    def violations(self) -> int:
        return sum(t.violations for t in self.tallies)

    def figures(self) -> dict[str, Any]:
        latencies = sorted(x for t in self.tallies for x in t.ack_latencies)
        refused: dict[str, int] = {}
        for t in self.tallies:
            for code, n in t.refused.items():
                refused[code] = refused.get(code, 0) + n
        return {
            "drill_id": self.drill_id,
            "join_code": self.code,
            "bots": self.bots,
            "seconds": round(self.seconds, 1),
            "events_received": sum(t.events for t in self.tallies),
            "commands_sent": sum(t.sent for t in self.tallies),
            "commands_acknowledged": sum(t.acked for t in self.tallies),
            "commands_refused": refused,
            "ack_p50_ms": _ms(percentile(latencies, 50)),
            "ack_p99_ms": _ms(percentile(latencies, 99)),
            "reconnects": sum(t.reconnects for t in self.tallies),
            "missing": sum(len(t.missing) for t in self.tallies),
            "duplicates": sum(len(t.duplicates) for t in self.tallies),
            "out_of_order": sum(len(t.out_of_order) for t in self.tallies),
            "foreign": sum(len(t.foreign) for t in self.tallies),
            "errors": sorted({e for t in self.tallies for e in t.errors})[:20],
        }


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return None
    rank = max(0, min(len(values) - 1, round(pct / 100 * len(values) + 0.5) - 1))
    return values[rank]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


async def join_many(
    server: Tabletop, code: str, roles: list[str], count: int, concurrency: int, prefix: str = "Bot"
) -> list[Identity]:
    """`count` participants, dealt round the roles in turn."""
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> Identity:
        role = roles[n % len(roles)]
        async with gate:
            return await server.join(code, f"{prefix} {n + 1:04d}", role)

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def connect_all(clients: list[Client], concurrency: int = 64) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(client: Client) -> None:
        async with gate:
            await client.start()
            await client.ready.wait()

    await asyncio.gather(*(one(c) for c in clients))


async def stop_playing(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the bots' play tasks and wait until every one has ended. A cancel can be
    lost on Python 3.11 when it meets an ack in `asyncio.wait_for` at the same moment
    (the task carries on as if nothing happened), so whatever is still running after a
    few seconds is cancelled again."""
    running = set(tasks)
    while running:
        for task in running:
            task.cancel()
        _, pending = await asyncio.wait(running, timeout=5)
        running = set(pending)


async def verify(server: Tabletop, clients: list[Client], settle: float) -> None:
    """Wait for every client to read what its role may see, then compare it with the
    server's log for that role (one reference per role: participants of a role see the
    same events, their own hot-wash answers aside, which bots do not give)."""
    references: dict[str | None, list[dict[str, Any]]] = {}
    for client in clients:
        role = client.identity.role
        if role not in references:
            references[role] = await server.visible_events(client.identity)

    async def settle_one(client: Client) -> None:
        reference = references[client.identity.role]
        if reference:
            await client.wait_for_seq(int(reference[-1]["seq"]), settle)
        client.check_against(reference)

    await asyncio.gather(*(settle_one(c) for c in clients))


async def simulate(plan: Plan) -> Summary:
    """Run a plan end to end and return what every bot saw."""
    began = time.monotonic()
    server = Tabletop(plan.url)
    facilitator: Client | None = None
    bots: list[Bot] = []
    try:
        if plan.scenario:
            auth = (
                Auth.bearer(plan.api_token)
                if plan.api_token
                else await server.sign_in(plan.username, plan.password)
            )
            drill_id, code = await server.create_drill(
                auth, plan.scenario, "Simulated drill", plan.speed
            )
            facilitator = Client(server, Identity(drill_id, "facilitator", None, None, auth))
            await connect_all([facilitator])
        elif plan.code:
            code = plan.code
        else:
            raise SimulationError("give a join code, or a scenario to create a drill from")
        info = await server.join_info(code)
        drill_id = str(info["drill_id"])
        roles = _roles_to_play(plan.roles, info["roles"])
        identities = await join_many(server, code, roles, plan.bots, plan.join_concurrency)
        bots = [
            Bot(server, identity, plan.behaviour, seed=plan.seed + n)
            for n, identity in enumerate(identities)
        ]
        await connect_all(list(bots))
        if facilitator is not None:
            # Bots are dealt round the roles asked for, which need not be every one.
            await facilitator.command({"type": "start", "confirm_unfilled": True})
        until = time.monotonic() + plan.duration
        await asyncio.gather(*(bot.play(until) for bot in bots))
        await verify(server, list(bots), plan.settle)
        return Summary(drill_id, code, len(bots), [b.tally for b in bots], time.monotonic() - began)
    finally:
        for client in [*bots, *([facilitator] if facilitator else [])]:
            await client.stop()
        await server.close()


def _roles_to_play(asked: tuple[str, ...], in_play: dict[str, str]) -> list[str]:
    if not asked:
        return list(in_play)
    unknown = [r for r in asked if r not in in_play]
    if unknown:
        raise SimulationError(
            f"role {', '.join(unknown)} is not in this drill; its roles are: " + ", ".join(in_play)
        )
    return list(asked)
