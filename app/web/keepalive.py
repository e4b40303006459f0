"""Keepalive pings for every drill socket in one sweep, not a timer per socket.

uvicorn pings each websocket on a timer of its own, started when the socket opened, and
waits for its pong on another. Participants join over minutes, so 1,000 sockets' pings
and pongs fall at 1,000 different moments: the server wakes some 100 times a second to
ping one socket or read one pong (`tabletop bench`: an idle server with 1,000 connected
used 7.5-9.5 ms of CPU a second, 3.5 ms with no pings at all). Here one task pings every
socket each `KEEPALIVE_SECONDS`, 50 at a time, so their pongs come back together and are
read in a few wake-ups.

A socket whose pong to one sweep's ping has not come by the next sweep is closed as
uvicorn closes it (1011, "keepalive ping timeout"): a dead peer is found within two
intervals, as with uvicorn's own 20 s ping and 20 s timeout.

It works through uvicorn's websockets protocol as `app/web/frames` does: the ping is sent
with the protocol's own websockets connection, and uvicorn's pong handler clears the
pending ping's payload as it does for its own pings. Where that protocol is not there
(another server, an older uvicorn), uvicorn keeps pinging as it does by default
(`app/web/server.uvicorn_config`) and the sweep leaves those sockets alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import struct
from typing import Any

from starlette.types import Send as ASGISend
from websockets.protocol import State

from app.web.frames import uvicorn_protocol

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # an older uvicorn: it pings each socket itself
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]

log = logging.getLogger("tabletop.keepalive")

KEEPALIVE_SECONDS = 20.0
"""How often every socket is pinged, and how long it has to answer: uvicorn's defaults."""
SWEEP_SLICE = 50
SLICE_PAUSE_SECONDS = 0.005
"""The sweep pings 50 sockets, then pauses: their pongs come back together and are read
in a wake-up or two, and an inject's fan-out waits for one slice's pings and pongs (~1
ms), never for the whole server's (1,000 sockets' at once held up the many-drills case's
p99 by tens of ms). 1,000 sockets are swept in about 0.1 s."""


def _sweeps_possible() -> bool:
    """uvicorn's websockets protocol is there and handles pongs as the sweep relies on:
    a pong carrying the pending ping's payload clears it (`pending_ping_payload`)."""
    protocol = WebSocketsSansIOProtocol
    if protocol is None:
        return False
    handlers = ("handle_pong", "keepalive_timeout")
    methods = all(callable(getattr(protocol, name, None)) for name in handlers)
    return methods and "pending_ping_payload" in protocol.__init__.__code__.co_names


SWEEPS = _sweeps_possible()
"""True: the server leaves pinging to the sweep (uvicorn's own keepalive is turned off)."""


class Keepalive:
    """The sweep, and the sockets it keeps. Start it with the app, stop it at shutdown."""

    def __init__(self, seconds: float = KEEPALIVE_SECONDS) -> None:
        self.seconds = seconds
        self._protocols: set[Any] = set()
        self._task: asyncio.Task[None] | None = None

    def keep(self, socket_send: ASGISend) -> Any | None:
        """Ping this accepted socket in the sweeps; returns what to pass to `release`
        when the socket ends (None: the sweep cannot ping it, or uvicorn already does)."""
        protocol = uvicorn_protocol(socket_send)
        if not SWEEPS or protocol is None or protocol.ping_interval:
            return None
        self._protocols.add(protocol)
        return protocol

    def release(self, kept: Any | None) -> None:
        self._protocols.discard(kept)

    def __len__(self) -> int:
        return len(self._protocols)

    def unanswered(self) -> int:
        """Sockets whose pong to the last sweep's ping has not come yet."""
        return sum(1 for protocol in self._protocols if _owes_pong(protocol))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="tabletop-keepalive")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.seconds)
            try:
                await self.sweep()
            except Exception:  # the keepalive must live: without it dead peers stay
                log.exception("a keepalive sweep failed; the next one goes on")

    async def sweep(self) -> None:
        """Close the sockets that did not answer the last sweep's ping; ping the rest,
        all with one payload (a late pong to an older ping carries another)."""
        payload = struct.pack("!I", random.getrandbits(32))
        for n, protocol in enumerate(list(self._protocols)):
            if _closing(protocol):
                self._protocols.discard(protocol)
            elif _owes_pong(protocol):
                self._protocols.discard(protocol)
                protocol.keepalive_timeout()  # uvicorn's own close: 1011, and the transport
            else:
                _ping(protocol, payload)
            if n % SWEEP_SLICE == SWEEP_SLICE - 1:
                await asyncio.sleep(SLICE_PAUSE_SECONDS)


def _owes_pong(protocol: Any) -> bool:
    """A ping of the sweep's is unanswered: uvicorn's pong handler clears its payload."""
    return protocol.pending_ping_payload is not None


def _closing(protocol: Any) -> bool:
    return bool(
        protocol.close_sent
        or protocol.disconnected
        or protocol.transport.is_closing()
        or protocol.conn.state is not State.OPEN
    )


def _ping(protocol: Any, payload: bytes) -> None:
    """What uvicorn's own keepalive sends, without its timers: the pong handler clears
    `pending_ping_payload` when the answer comes."""
    protocol.pending_ping_payload = payload
    protocol.ping_sent_at = protocol.loop.time()
    protocol.conn.send_ping(payload)
    protocol.transport.write(b"".join(protocol.conn.data_to_send()))
