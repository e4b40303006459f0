"""Redis notices between workers: which drill has new events, never the events themselves.

After each commit the drills service calls `RedisBus.publish(drill_id, seq)`; a sender
task puts `"<drill_id> <seq>"` on one pub/sub channel, and every worker (this one too)
hands what it hears to its hub, which reads the events from the database. Pub/sub is
fire-and-forget and Redis may be down, so a notice can be lost: a periodic sweep reads
the last seq of every drill with a connection here and publishes that to the hub as well.
A lost notice costs latency (at most one sweep), never data.

Redis trouble never fails a command (it is committed already): the sender drops what it
cannot send, the subscriber reconnects with exponential backoff and sweeps at once when
it is back, and each outage is logged once when it starts and once when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from app.realtime.hub import Hub
from app.services.drills import DrillService

log = logging.getLogger("tabletop.bus")
CHANNEL = "tabletop:drills"
SWEEP_SECONDS = 3.0
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0
CONNECT_TIMEOUT = 2.0
READ_SECONDS = 1.0
"""How long the subscriber waits for a notice before looking again (and health-checking)."""
HEALTH_CHECK_SECONDS = 10
REDIS_SCHEMES = ("redis", "rediss", "unix")
REDIS_ERRORS = (RedisError, OSError)


def redis_url_problem(url: str) -> str | None:
    """Why `url` cannot be a Redis URL, for a one-line error; None when it can."""
    if urlsplit(url).scheme in REDIS_SCHEMES:
        return None
    return (
        f"TABLETOP_REDIS_URL must start with redis://, rediss:// or unix:// "
        f"(e.g. redis://127.0.0.1:6379/0), not {url!r}"
    )


def safe_redis_url(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=host).geturl()


def notice(drill_id: str, seq: int) -> str:
    return f"{drill_id} {seq}"


REVOKED = "!revoked "
"""A revocation notice: `!revoked <key> <key>...` (app/services/credentials.py keys; no
drill id starts with `!`, and older workers ignore it as malformed)."""


def revocation_notice(keys: list[str]) -> str:
    return REVOKED + " ".join(keys)


def parse_revocation(data: bytes | str) -> list[str] | None:
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    if not text.startswith(REVOKED):
        return None
    return text[len(REVOKED) :].split()


async def publish_revocation(url: str, keys: list[str], channel: str = CHANNEL) -> None:
    """Tell every worker listening on Redis that these credentials ended: for a process
    with no bus of its own (`tabletop user password`)."""
    client = _client(url, retries=1)
    try:
        await client.publish(channel, revocation_notice(keys))
    finally:
        with contextlib.suppress(*REDIS_ERRORS):
            await client.aclose()


def parse_notice(data: bytes | str) -> tuple[str, int] | None:
    """A notice's drill id and seq; None for anything else on the channel."""
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    drill_id, _, seq = text.partition(" ")
    if not drill_id or len(drill_id) > 64 or not seq.isdigit():
        return None
    return drill_id, int(seq)


def _client(url: str, retries: int) -> Redis:
    return Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=CONNECT_TIMEOUT,
        health_check_interval=HEALTH_CHECK_SECONDS,
        retry=Retry(NoBackoff(), retries),
    )


class RedisBus:
    def __init__(
        self,
        url: str,
        hub: Hub,
        service: DrillService,
        *,
        channel: str = CHANNEL,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        problem = redis_url_problem(url)
        if problem is not None:
            raise ValueError(problem)
        self.hub = hub
        self.service = service
        self.channel = channel
        self.sweep_seconds = sweep_seconds
        self.where = f"Redis at {safe_redis_url(url)}"
        # The subscriber must see every disconnection, to catch up with a sweep: no
        # retries inside redis-py. The sender retries once, at once, so that a pooled
        # connection that went stale (Redis restarted) is replaced rather than a notice
        # dropped; beyond that it drops the notice rather than wait.
        self._subscriber = _client(url, retries=0)
        self._sender = _client(url, retries=1)
        self._pending: dict[str, int] = {}
        self._revocations: list[str] = []
        self._wake = asyncio.Event()
        self._down = False
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start listening, sending and sweeping; returns at once even if Redis is down."""
        self._tasks = [
            asyncio.create_task(self._subscribe(), name="tabletop-bus-subscribe"),
            asyncio.create_task(self._send(), name="tabletop-bus-send"),
            asyncio.create_task(self._sweep_every(), name="tabletop-bus-sweep"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for client in (self._subscriber, self._sender):
            with contextlib.suppress(*REDIS_ERRORS):
                await client.aclose()

    async def publish(self, drill_id: str, seq: int) -> None:
        """The service's listener: note the drill's new last seq for the sender task.
        Never waits for Redis; only the latest seq per drill matters, so they merge."""
        self._pending[drill_id] = max(seq, self._pending.get(drill_id, 0))
        self._wake.set()

    async def revoke(self, keys: list[str]) -> None:
        """The service's revocation listener: tell every worker (this one's hub is told
        directly as well). Never waits for Redis. A lost notice leaves the socket open on
        another worker, but its commands are refused (checked in the command's own
        transaction), and it closes at its next command."""
        self._revocations.extend(keys)
        self._wake.set()

    async def sweep(self) -> None:
        """Deliver whatever a lost notice left behind, for every drill connected here."""
        for drill_id in self.hub.connected_drills():
            try:
                drill = await self.service.drill(drill_id)
                await self.hub.publish(drill_id, drill.last_seq)
            except Exception as exc:  # the database may be down; the next sweep retries
                log.info("sweep of drill %s failed: %s", drill_id, exc)

    # ------------------------------------------------------------------ tasks

    async def _send(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            pending, self._pending = self._pending, {}
            revoked, self._revocations = self._revocations, []
            if not pending and not revoked:
                continue
            try:
                if revoked:
                    await self._sender.publish(self.channel, revocation_notice(revoked))
                for drill_id, seq in pending.items():
                    await self._sender.publish(self.channel, notice(drill_id, seq))
            except REDIS_ERRORS as exc:
                self._outage(exc)  # the other workers' sweeps deliver these instead
            else:
                self._recovered()

    async def _subscribe(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            try:
                async with self._subscriber.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._recovered()
                    backoff = BACKOFF_FIRST
                    await self.sweep()  # notices sent while we were away are lost
                    await self._listen(pubsub)
            except REDIS_ERRORS as exc:
                self._outage(exc)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _listen(self, pubsub: PubSub) -> None:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=READ_SECONDS)
            if message is None or message.get("type") != "message":
                continue
            revoked = parse_revocation(message["data"])
            if revoked is not None:
                await self.hub.revoke(revoked)
                continue
            parsed = parse_notice(message["data"])
            if parsed is None:
                log.info("ignoring a malformed notice on %s: %r", self.channel, message["data"])
                continue
            try:
                await self.hub.publish(*parsed)
            except Exception as exc:  # the database may be down; the sweep retries
                log.info("notice for drill %s not delivered yet: %s", parsed[0], exc)

    async def _sweep_every(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_seconds)
            await self.sweep()

    # ------------------------------------------------------------------ outages

    def _outage(self, exc: BaseException) -> None:
        """Warn once per outage, however many reconnects and sends fail meanwhile."""
        if self._down:
            return
        self._down = True
        log.warning(
            "%s is unreachable (%s); live updates from other workers now arrive by the "
            "%.0f s database sweep; reconnecting with backoff up to %.0f s",
            self.where,
            exc,
            self.sweep_seconds,
            BACKOFF_MAX,
        )

    def _recovered(self) -> None:
        if self._down:
            self._down = False
            log.warning("%s answers again; notices between workers are back", self.where)
