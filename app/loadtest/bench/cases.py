"""The bench's cases, each against servers a `Fleet` started; each returns table rows.

Latencies are measured in the bench process from the moment a command is sent to the
moment each participant's socket delivers the event (both clocks are the same
`perf_counter`). Every case also counts events lost and duplicated, which must be zero.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app.loadtest.bench.servers import Server
from app.loadtest.bots import (
    Auth,
    Behaviour,
    Bot,
    Client,
    Identity,
    Tabletop,
    connect_all,
    join_many,
    percentile,
    verify,
)

ROLES = [
    "incident_manager",
    "lead_investigator",
    "soc_analyst",
    "legal",
    "communications",
    "hr",
    "executive",
]
DELIVERY_WAIT = 60.0
INJECT_BODY = (
    "**Update from the SOC.** EDR shows `vssadmin delete shadows` on FS-01 and FS-02; the "
    "file server share is being encrypted. The attacker's note names a leak site. Decide "
    "who you tell, and when: legal, the executive sponsor, and whether to call the "
    "regulator within the 72-hour window."
)


@dataclass(slots=True)
class Row:
    """One line of the bench table."""

    case: str
    size: str
    backend: str
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    lost: int = 0
    duplicated: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "size": self.size,
            "backend": self.backend,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            **self.figures,
            "lost": self.lost,
            "duplicated": self.duplicated,
        }


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def spread(latencies: list[float]) -> tuple[float | None, float | None, float | None]:
    ordered = sorted(latencies)
    return (
        ms(percentile(ordered, 50)),
        ms(percentile(ordered, 95)),
        ms(percentile(ordered, 99)),
    )


@dataclass(slots=True)
class Room:
    """One drill on the servers, with its participants connected (round-robin over the
    servers when there are several) and its facilitator's socket."""

    servers: list[Tabletop]
    drill_id: str
    code: str
    facilitator: Client
    clients: list[Client]

    async def close(self) -> None:
        await asyncio.gather(*(c.stop() for c in [*self.clients, self.facilitator]))


async def open_room(
    servers: list[Tabletop],
    session: Auth,
    participants: int,
    *,
    name: str,
    bots: Behaviour | None = None,
    seed: int = 0,
    created: Callable[[], None] | None = None,
) -> Room:
    """Create a drill, join and connect its participants, start it. `created`: called
    once the drill exists, before anyone joins."""
    first = servers[0]
    drill_id, code = await first.create_drill(session, "bench.yaml", name)
    if created is not None:
        created()
    identities = await join_many(first, code, ROLES, participants, concurrency=16)
    clients: list[Client] = [
        Bot(servers[n % len(servers)], identity, bots, seed=seed + n)
        if bots is not None
        else Client(servers[n % len(servers)], identity, record_arrivals=True)
        for n, identity in enumerate(identities)
    ]
    facilitator = Client(first, Identity(drill_id, "facilitator", None, None, session))
    await connect_all([facilitator, *clients])
    await facilitator.command({"type": "start", "confirm_unfilled": True})
    return Room(servers, drill_id, code, facilitator, clients)


def inject_command(n: int) -> dict[str, Any]:
    return {
        "type": "manual_inject",
        "title": f"Inject {n + 1}",
        "body": INJECT_BODY,
        "to": ["all"],
        "channel": "email",
        "severity": "high",
    }


@dataclass(slots=True)
class Delivery:
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    sample: dict[str, Any] | None = None


async def fire_and_collect(
    facilitator: Client,
    clients: list[Client],
    injects: int,
    gap: float,
    delivery: Delivery,
    command: Callable[[int], dict[str, Any]] = inject_command,
) -> None:
    """Send injects to everyone one after another; time each participant's receipt."""
    for n in range(injects):
        sent = time.perf_counter()
        seq = await facilitator.command(command(n))
        if seq is None:
            delivery.lost += len(clients)
            continue
        arrived = await asyncio.gather(*(c.wait_for_seq(seq, DELIVERY_WAIT) for c in clients))
        for client, ok in zip(clients, arrived, strict=True):
            at = client.tally.arrivals.get(seq)
            if not ok or at is None:
                delivery.lost += 1
            else:
                delivery.latencies.append(at - sent)
        await asyncio.sleep(gap)


def facilitator_auth(server: Server) -> Auth:
    """The bench runs its drills as scripts do: with an API token, no sign-in."""
    return Auth.bearer(server.api_token)


# --------------------------------------------------------------------------- fan-out


@dataclass(slots=True)
class FanOut:
    row: Row
    payload: dict[str, Any] | None
    memory_per_participant_kib: float | None
    baseline: Row | None = None
    """The bare broadcast's row, its rounds run between this case's (`beside`)."""


@dataclass(slots=True)
class Round:
    """One round of injects to everyone: its receipts and the server's CPU over it."""

    delivery: Delivery
    cpu_seconds: float
    """Every server's CPU over the round, summed."""
    cpu_by_server: tuple[float, ...] = ()
    """Each server's own, in the order they were given."""

    @property
    def p99_ms(self) -> float | None:
        return spread(self.delivery.latencies)[2]


async def rounds_of(
    servers: list[Server],
    sender: Client,
    clients: list[Client],
    rounds: int,
    injects: int,
    command: Callable[[int], dict[str, Any]] = inject_command,
) -> list[Round]:
    """`rounds` rounds of `injects` each over the same connections, each timed and with
    the servers' CPU read around it: one round is at the mercy of a collection or of
    another process on the shared cores; the median of several is not."""
    measured = []
    for _ in range(rounds):
        delivery = Delivery()
        before = [s.cpu_seconds() for s in servers]
        await fire_and_collect(sender, clients, injects, 0.3, delivery, command)
        used = tuple(s.cpu_seconds() - b for s, b in zip(servers, before, strict=True))
        measured.append(Round(delivery, sum(used), used))
    return measured


T = TypeVar("T")


def lower_middle(ordered: list[T]) -> T:
    """The median of a sorted list (the lower middle of an even count)."""
    return ordered[(len(ordered) - 1) // 2]


def median_round(rounds: list[Round]) -> Round:
    """The round whose p99 is the median of the rounds'."""
    return lower_middle(
        sorted(rounds, key=lambda r: r.p99_ms if r.p99_ms is not None else float("inf"))
    )


def round_figures(rounds: list[Round]) -> dict[str, Any]:
    """The receipts, the median of the rounds' CPU per message (a figure of its own: the
    median-latency round need not be the median-CPU one), and the spread of the rounds."""
    middle = median_round(rounds)
    p99s = [r.p99_ms for r in rounds if r.p99_ms is not None]
    cpus = sorted(
        cpu
        for r in rounds
        if (cpu := cpu_per_message(r.cpu_seconds, len(r.delivery.latencies))) is not None
    )
    figures: dict[str, Any] = {
        "receipts": sum(len(r.delivery.latencies) for r in rounds),
        "rounds": len(rounds),
        "cpu_us_per_message": lower_middle(cpus) if cpus else None,
    }
    workers = len(middle.cpu_by_server)
    if workers > 1:
        # Participants are spread over the workers in turn, so each delivered an equal
        # share: each worker's own CPU per message it sent, the bus's cost included.
        share = len(middle.delivery.latencies) / workers
        figures["cpu_us_per_message_per_worker"] = " / ".join(
            f"{cpu / share * 1e6:.1f}" if share else "-" for cpu in middle.cpu_by_server
        )
    if len(rounds) > 1 and p99s and cpus:
        figures["p99_ms_rounds"] = f"{min(p99s):g}-{max(p99s):g}"
        figures["cpu_us_rounds"] = f"{min(cpus):g}-{max(cpus):g}"
    return figures


async def fan_out(
    servers: list[Server],
    participants: int,
    injects: int,
    backend: str,
    rounds: int = 1,
    beside: Server | None = None,
) -> FanOut:
    """One drill, `participants` connected; the facilitator sends `injects` injects to
    everyone, `rounds` times; the row is the median round's. `beside`: the bare broadcast,
    connected to as many and given a round after each of this case's, so each pair of
    rounds meets the same moment of a shared machine (its row is in `baseline`)."""
    clients_of = [Tabletop(s.url) for s in servers]
    session = facilitator_auth(servers[0])
    # What the participants cost: the server's growth from their drill created (a
    # server's first drill also loads what any drill needs, once) to all of them joined
    # and connected.
    before: list[int] = []

    def drill_created() -> None:
        if len(servers) == 1:
            before.append(servers[0].rss_kib())

    room = await open_room(
        clients_of, session, participants, name=f"Fan-out {participants}", created=drill_created
    )
    memory = (servers[0].rss_kib() - before[0]) / participants if before else None
    bare = None if beside is None else await BareRoom.open(beside, participants)
    measured: list[Round] = []
    try:
        for _ in range(rounds):
            measured += await rounds_of(servers, room.facilitator, room.clients, 1, injects)
            payload = _sample_payload(room.clients[0])
            if bare is not None and payload is not None:
                await bare.round(injects, payload)
        await verify(clients_of[0], room.clients, settle=DELIVERY_WAIT)
        payload = _sample_payload(room.clients[0])
    finally:
        if bare is not None:
            await bare.close()
        await room.close()
        await asyncio.gather(*(c.close() for c in clients_of))
    p50, p95, p99 = spread(median_round(measured).delivery.latencies)
    workers = f"{len(servers)} workers" if len(servers) > 1 else "1 worker"
    row = Row(
        "fan-out",
        _fan_out_size(participants, injects, rounds),
        f"{backend}, {workers}",
        p50,
        p95,
        p99,
        round_figures(measured),
        lost=sum(r.delivery.lost for r in measured)
        + sum(len(c.tally.missing) for c in room.clients),
        duplicated=sum(len(c.tally.duplicates) for c in room.clients),
    )
    row.figures["foreign"] = sum(len(c.tally.foreign) for c in room.clients)
    baseline = None if bare is None or not bare.rounds else bare.row(participants, injects)
    return FanOut(row, payload, memory, baseline)


def _fan_out_size(participants: int, injects: int, rounds: int) -> str:
    size = f"{participants:,} participants, {injects} injects"
    return size if rounds == 1 else f"{size}, median of {rounds} rounds"


def cpu_per_message(cpu: float, delivered: int) -> float | None:
    """Server CPU microseconds per message delivered (None when none was)."""
    return round(cpu / delivered * 1e6, 1) if delivered else None


def _sample_payload(client: Client) -> dict[str, Any] | None:
    """One inject exactly as a participant received it: what the baseline broadcasts."""
    return client.last_inject


@dataclass(slots=True)
class BareRoom:
    """The bare Starlette broadcast with `participants` connected, for rounds of the same
    payload as Tabletop's participants received."""

    server: Server
    base: Tabletop
    sender: Client
    clients: list[Client]
    rounds: list[Round] = field(default_factory=list)

    @classmethod
    async def open(cls, server: Server, participants: int) -> BareRoom:
        base = Tabletop(server.url)
        drill = uuid.uuid4().hex
        clients = [
            Client(
                base,
                Identity(drill, f"P{n}", ROLES[n % len(ROLES)], f"p{n}", Auth.cookie("x", "y")),
                record_arrivals=True,
            )
            for n in range(participants)
        ]
        sender = Client(base, Identity(drill, "sender", None, None, Auth.cookie("x", "y")))
        await connect_all([sender, *clients])
        return cls(server, base, sender, clients)

    async def round(self, injects: int, payload: dict[str, Any]) -> None:
        def fire(n: int) -> dict[str, Any]:
            event = {**payload, "data": {**payload["data"], "title": f"Inject {n + 1}"}}
            return {"type": "fire", "event": event}

        self.rounds += await rounds_of([self.server], self.sender, self.clients, 1, injects, fire)

    def row(self, participants: int, injects: int) -> Row:
        p50, p95, p99 = spread(median_round(self.rounds).delivery.latencies)
        return Row(
            "fan-out baseline",
            _fan_out_size(participants, injects, len(self.rounds)),
            "bare Starlette broadcast",
            p50,
            p95,
            p99,
            round_figures(self.rounds),
            lost=sum(r.delivery.lost for r in self.rounds),
            duplicated=sum(len(c.tally.duplicates) for c in self.clients),
        )

    async def close(self) -> None:
        await asyncio.gather(*(c.stop() for c in [self.sender, *self.clients]))
        await self.base.close()


# --------------------------------------------------------------------------- commands


async def commands(
    server: Server, participants: int, period: float, seconds: float, backend: str
) -> Row:
    """`participants` each sending a command every `period` seconds (messages to other
    roles and parties); acknowledgement latency and commands per second."""
    base = Tabletop(server.url)
    session = facilitator_auth(server)
    behaviour = Behaviour(think=(period * 0.5, period * 1.5), answer=False)
    room = await open_room([base], session, participants, name="Commands", bots=behaviour)
    try:
        began = time.monotonic()
        until = began + seconds
        bots = [c for c in room.clients if isinstance(c, Bot)]
        await asyncio.gather(*(b.play(until) for b in bots))
        elapsed = time.monotonic() - began
        await verify(base, room.clients, settle=DELIVERY_WAIT)
    finally:
        await room.close()
        await base.close()
    tallies = [c.tally for c in room.clients]
    acked = sum(t.acked for t in tallies)
    p50, p95, p99 = spread([x for t in tallies for x in t.ack_latencies])
    unanswered = (
        sum(t.sent for t in tallies) - acked - sum(sum(t.refused.values()) for t in tallies)
    )
    return Row(
        "commands",
        f"{participants} participants, 1 per {period:g} s, {seconds:g} s",
        backend,
        p50,
        p95,
        p99,
        {"commands_per_s": round(acked / elapsed, 1), "acknowledged": acked},
        lost=sum(len(t.missing) for t in tallies) + unanswered,
        duplicated=sum(len(t.duplicates) for t in tallies),
    )


# --------------------------------------------------------------------------- outside world


def post_command(n: int) -> dict[str, Any]:
    return {
        "type": "post_to_feed",
        "outlet": "X",
        "handle": "@benchwatch",
        "text": f"Post {n + 1}: why is the company silent? #bench",
        "tone": "negative",
        "likes": 100 * (n + 1),
    }


async def outside_world(
    server: Server, participants: int, posts: int, seconds: float, backend: str
) -> Row:
    """The feed and the threads busy at once: `participants` bots write to roles and
    outside parties (whose authored replies answer them), the facilitator answers as the
    press in every role's thread and puts `posts` posts in the public feed; the figures
    are each post's delivery to every participant. Nothing lost, duplicated or foreign."""
    base = Tabletop(server.url)
    session = facilitator_auth(server)
    behaviour = Behaviour(think=(1.0, 3.0), answer=False)
    room = await open_room([base], session, participants, name="Outside world", bots=behaviour)
    delivery = Delivery()
    try:
        until = time.monotonic() + seconds
        bots = [c for c in room.clients if isinstance(c, Bot)]
        for bot in bots:  # the posts' delivery is timed at each participant
            bot.record_arrivals = True
        gap = max(seconds / max(posts, 1) - 0.2, 0.05)

        async def white_cell() -> int:
            answered = 0
            while time.monotonic() < until:
                for role in ROLES:
                    reply = {
                        "type": "reply_as_party",
                        "party": "press",
                        "to": role,
                        "body": "Any comment before 21:00?",
                    }
                    answered += (await room.facilitator.command(reply)) is not None
                await asyncio.sleep(1.0)
            return answered

        cell = asyncio.create_task(white_cell())
        await asyncio.gather(
            *(b.play(until) for b in bots),
            fire_and_collect(room.facilitator, room.clients, posts, gap, delivery, post_command),
        )
        answered = await cell
        await verify(base, room.clients, settle=DELIVERY_WAIT)
        log = await base.visible_events(room.facilitator.identity)
    finally:
        await room.close()
        await base.close()
    tallies = [c.tally for c in room.clients]
    kinds = [e["type"] for e in log]
    p50, p95, p99 = spread(delivery.latencies)
    return Row(
        "outside world",
        f"{participants} participants, {posts} feed posts, threads, {seconds:g} s",
        backend,
        p50,
        p95,
        p99,
        {
            "post_receipts": len(delivery.latencies),
            "white_cell_answers": answered,
            "authored_replies": sum(
                1 for e in log if e["type"] == "party_replied" and e["data"]["by"] == "author"
            ),
            "team_messages": kinds.count("message_sent"),
            "feed_posts": kinds.count("feed_posted"),
        },
        lost=delivery.lost + sum(len(t.missing) for t in tallies),
        duplicated=sum(len(t.duplicates) for t in tallies),
    )


# --------------------------------------------------------------------------- many drills


async def many_drills(
    server: Server, drills: int, participants: int, injects: int, backend: str
) -> Row:
    """`drills` drills of `participants` each at once; every facilitator sends injects at
    the same time as the others."""
    base = Tabletop(server.url)
    session = facilitator_auth(server)
    rooms: list[Room] = []
    try:
        for n in range(drills):
            rooms.append(await open_room([base], session, participants, name=f"Drill {n + 1}"))
        deliveries = [Delivery() for _ in rooms]
        await asyncio.gather(
            *(
                fire_and_collect(room.facilitator, room.clients, injects, 1.0, delivery)
                for room, delivery in zip(rooms, deliveries, strict=True)
            )
        )
        for room in rooms:
            await verify(base, room.clients, settle=DELIVERY_WAIT)
    finally:
        await asyncio.gather(*(room.close() for room in rooms))
        await base.close()
    clients = [c for room in rooms for c in room.clients]
    p50, p95, p99 = spread([x for d in deliveries for x in d.latencies])
    return Row(
        "many drills",
        f"{drills} drills x {participants} participants, {injects} injects each",
        f"{backend}, 1 worker",
        p50,
        p95,
        p99,
        {"receipts": sum(len(d.latencies) for d in deliveries)},
        lost=sum(d.lost for d in deliveries) + sum(len(c.tally.missing) for c in clients),
        duplicated=sum(len(c.tally.duplicates) for c in clients),
    )
