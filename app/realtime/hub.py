"""Fan-out of committed events to the connections of a drill, in process.

The drills service tells the hub a drill's new last seq after each commit (and the Redis
bus does, for commits on other workers). The hub takes the new events once per drill (from
the drills service's memory, or the database), filters, renders and encodes each once per
kind of viewer, and offers the text to each connection: a socket that can take the frame
gets it at once (app/web/frames writes it straight to the socket), and one that must wait
finishes in the connection's own writer task, with what comes meanwhile on its bounded
queue, so one slow browser never delays the others. A connection whose queue is full is
closed and catches up when it reconnects.

The viewers who see everything (the facilitator, observers) get each event told in words
as well, beside it (the event itself stays what every other path shows): the timeline's
line (app/engine/timeline), so the console writes none of its own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any

from app.engine.events import Event, EventType
from app.engine.scenario import Scenario
from app.engine.timeline import describe_filled
from app.realtime.codes import Close
from app.realtime.visibility import Viewer, visible
from app.services.credentials import Credential
from app.services.drills import DrillService

log = logging.getLogger("tabletop.hub")
QUEUE_LIMIT = 1000
FLUSH_SECONDS = 2.0
"""How long a closing connection may take to send what it has queued."""

Send = Callable[[str], Awaitable[None] | None]
"""Sends one text frame: None when it was written at once, else what finishes sending it."""
Encoded = dict[tuple[Any, ...], str | None]
"""Per publish: (seq, view key) -> the event message as sent, or None when not shown."""
CloseFn = Callable[[int, str], Awaitable[None]]
SessionEnd = Callable[[], Awaitable[float | None]]
"""When a session ends (epoch seconds), read afresh; None when it has ended already."""
SESSION_RETRY_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Teller:
    """A drill's events told in words: its scenario and {{variable}} values."""

    scenario: Scenario
    values: dict[str, str]

    def tell(self, event: Event) -> str | None:
        """The event's line; None for bookkeeping (the console names it by its type)."""
        entry = describe_filled(self.scenario, event, self.values)
        return None if entry is None else entry.text

    def told(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        """A snapshot (of a view that sees everything) with its events told, by seq."""
        shown = snapshot.get("events", [])
        told = {e["seq"]: self.tell(Event.from_dict(e)) for e in shown}
        return snapshot | {"descriptions": told}


@dataclass(eq=False, slots=True)
class Connection:
    drill_id: str
    viewer: Viewer
    send: Send
    close: CloseFn
    last_seq: int = 0
    scores_released: bool = False
    pending: deque[str | None] = field(default_factory=deque)
    writer: asyncio.Task[None] | None = None
    closing: bool = False
    teller: Teller | None = None
    """Set by Hub.attach for viewers who see everything: their events are told in words."""
    credential: Credential | None = None
    """What the socket was opened with: a revocation of one of its keys closes it (4001)."""
    watcher: asyncio.Task[None] | None = None
    """Closes a session's socket when the session ends (Hub.watch_session)."""

    def offer(self, message: dict[str, Any]) -> bool:
        """Queue a message; False when the client cannot keep up. Every snapshot passes
        here (the first, from attach, and each a client asks for with `sync`), so this is
        where one is told in words for a connection with a teller."""
        if self.teller is not None and message.get("type") == "snapshot":
            message = self.teller.told(message)
        return self.offer_text(encode(message))

    def offer_text(self, text: str | None) -> bool:
        """Queue a message already encoded (an event encoded once for many connections);
        None marks the end. A writer task runs only while there is something to send, so
        an idle connection costs no task and no queue (memory per idle participant)."""
        if len(self.pending) >= QUEUE_LIMIT:
            return False
        idle = self.writer is None or self.writer.done()
        if idle and text is not None and not self.pending:
            # Nothing in flight: send now. A socket that can take the frame takes it
            # without waiting, so most sends cost no task; one that must wait (a slow
            # browser) finishes in its own task, and whatever comes meanwhile queues.
            sending = self.send(text)
            if sending is None:  # written at once (app/web/frames)
                return True
            waiting = _run_until_wait(sending)
            if waiting is not None:
                self.writer = asyncio.create_task(self._drain(waiting))
            return True
        self.pending.append(text)
        if idle:
            self.writer = asyncio.create_task(self._drain())
        return True

    async def finish(self, code: int, reason: str) -> None:
        """Send what is already queued (the errors that explain the close), then close."""
        self.closing = True
        self.pending.append(None)
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._drain())
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self.writer), FLUSH_SECONDS)
        await self.close(code, reason)

    async def _drain(self, started: Waiting | None = None) -> None:
        if started is not None:
            try:
                await _resume(*started)
            except Exception:  # the socket is gone: its receive loop ends the connection
                self.pending.clear()
                return
        while self.pending:
            message = self.pending.popleft()
            if message is None:
                return
            try:
                sending = self.send(message)
                if sending is not None:
                    await sending
            except Exception:  # the socket is gone: its receive loop ends the connection
                self.pending.clear()
                return


Waiting = tuple[Generator[Any, None, None], Any]
"""An awaitable run up to its first wait, and what it waits on (a future, or None)."""


def _run_until_wait(send: Awaitable[None]) -> Waiting | None:
    """Run `send` up to its first wait, in the caller (what Python 3.12's eager tasks do):
    None when it finished, or failed, without one. A failure is the socket going away,
    which its receive loop notices and ends."""
    steps = send.__await__()
    try:
        waiting = steps.send(None)
    except Exception:  # StopIteration (it finished) among them
        return None
    return steps, waiting


@types.coroutine
def _resume(steps: Generator[Any, None, None], waiting: Any) -> Generator[Any, Any, None]:
    """Finish what `_run_until_wait` started, now waiting on `waiting` (a future, or None
    for a bare yield), as `yield from` would: what it waits on goes to the task as it is,
    and what the task sends or throws (a cancellation) goes back to it.

    Not `await waiting`: the future is already marked as awaited by the wait that yielded
    it, and a second await of a pending future fails ("await wasn't used with future")."""
    while True:
        try:
            sent = yield waiting
        except BaseException as exc:  # cancelled while it waited: let it clean up
            try:
                waiting = steps.throw(exc)
            except StopIteration:
                return
            continue
        try:
            waiting = steps.send(sent)
        except StopIteration:
            return


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


_PERSONAL = {EventType.participant_joined, EventType.participant_left, EventType.feedback_given}


def view_key(event: Event, viewer: Viewer, scores_released: bool) -> tuple[Any, ...]:
    """Everything `visible` looks at besides the event: viewers with the same key see the
    same thing. Facilitators and observers see all; participants see by role and by
    whether scores are out, and their own joins and hot-wash answers."""
    if viewer.sees_everything:
        return (event.seq, "all")
    if event.type in _PERSONAL:
        return (event.seq, "self", viewer.participant_id)
    return (event.seq, viewer.role, scores_released)


def _framed(shown: dict[str, Any], event: Event, connection: Connection) -> dict[str, Any]:
    """The event message; told in words for a connection with a teller (once per view:
    the caller encodes each view once)."""
    message: dict[str, Any] = {"type": "event", "event": shown}
    if connection.teller is not None:
        message["description"] = connection.teller.tell(event)
    return message


def _deliver(connection: Connection, events: list[Event], encoded: Encoded) -> bool:
    """Queue what the connection has not had of `events`, each encoded once per view
    (`encoded`, shared by the publish's connections). False when the connection cannot
    keep up (its queue is full)."""
    for event in events:
        if event.seq <= connection.last_seq:
            continue
        connection.last_seq = event.seq
        if event.type is EventType.scores_released:
            connection.scores_released = True
        key = view_key(event, connection.viewer, connection.scores_released)
        if key not in encoded:
            shown = visible(event, connection.viewer, connection.scores_released)
            encoded[key] = None if shown is None else encode(_framed(shown, event, connection))
        text = encoded[key]
        if text is not None and not connection.offer_text(text):
            return False
    return True


class Hub:
    def __init__(self, service: DrillService) -> None:
        self.service = service
        self._connections: dict[str, set[Connection]] = {}
        self._published: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tellers: dict[str, Teller] = {}
        self._ending: set[asyncio.Task[None]] = set()

    async def publish(self, drill_id: str, seq: int) -> None:
        """A commit happened: deliver everything after what was last delivered here."""
        self.service.heard_of(drill_id, seq)
        connections = self._connections.get(drill_id)
        if not connections:
            self._published[drill_id] = max(seq, self._published.get(drill_id, 0))
            return
        async with self._locks.setdefault(drill_id, asyncio.Lock()):
            since = self._published.get(drill_id, 0)
            if seq <= since:
                return
            events = await self.service.events(drill_id, since)
            if not events:
                return
            self._published[drill_id] = events[-1].seq
            # What a viewer may see depends only on a few things (view_key), so each event
            # is filtered, rendered and encoded once per kind of viewer, not per connection.
            encoded: Encoded = {}
            for connection in list(self._connections.get(drill_id, ())):
                # A plain call, not a coroutine per connection: the fan-out's hot loop.
                if not _deliver(connection, events, encoded):
                    await self._drop_slow(connection)

    async def _drop_slow(self, connection: Connection) -> None:
        log.info("closing a connection to drill %s that cannot keep up", connection.drill_id)
        self.unregister(connection)
        connection.closing = True
        await connection.close(Close.too_slow, "too slow; reconnect with since to catch up")

    async def attach(
        self, connection: Connection, snapshot: Callable[[], Awaitable[dict[str, Any]]]
    ) -> None:
        """Send the snapshot and start the live feed with no gap and no overlap: while the
        drill's lock is held no publish can slip between the two."""
        if connection.viewer.sees_everything and connection.teller is None:
            connection.teller = await self._teller(connection.drill_id)
        async with self._locks.setdefault(connection.drill_id, asyncio.Lock()):
            first = await snapshot()
            connection.last_seq = int(first["last_seq"])
            connection.offer(first)
            self._connections.setdefault(connection.drill_id, set()).add(connection)

    async def _teller(self, drill_id: str) -> Teller:
        """The drill's teller, made once while it has connections here: a drill's
        scenario and values never change."""
        teller = self._tellers.get(drill_id)
        if teller is None:
            scenario, state = await self.service.state(drill_id)
            teller = self._tellers.setdefault(drill_id, Teller(scenario, state.variables))
        return teller

    async def revoke(self, keys: list[str]) -> None:
        """Credentials ended (committed already): close their sockets here with 4001.
        A command such a socket sent meanwhile is refused by the drills service, which
        checks the credential in the command's own transaction."""
        ended = set(keys)
        doomed = [
            connection
            for peers in self._connections.values()
            for connection in peers
            if connection.credential is not None and ended & connection.credential.keys()
        ]
        for connection in doomed:
            self._spawn(self.end(connection, "your session or participant token ended"))

    async def end(self, connection: Connection, reason: str) -> None:
        """Close one connection with 4001 (its receive loop unregisters it)."""
        if connection.closing:
            return
        connection.closing = True
        with contextlib.suppress(Exception):
            await connection.close(Close.unauthorized, reason)

    def _spawn(self, closing: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(closing)
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    def watch_session(self, connection: Connection, ends_at: SessionEnd) -> None:
        """Close the connection with 4001 when its session ends: at its absolute end, or
        when it has gone unused for its idle limit. `ends_at` reads when that is now (None:
        the session is gone); activity anywhere (a page, another worker's socket) moves
        it, so the watcher sleeps until the time it read and then reads it again."""

        async def watch() -> None:
            while True:
                try:
                    ends = await ends_at()
                except Exception:  # the database restarting: read it again soon
                    log.warning("could not read a session's end; trying again", exc_info=True)
                    await asyncio.sleep(SESSION_RETRY_SECONDS)
                    continue
                wait = 0.0 if ends is None else ends - time.time()
                if wait <= 0:
                    await self.end(connection, "your session has ended; sign in again")
                    return
                await asyncio.sleep(wait)

        connection.watcher = asyncio.create_task(watch())

    def unregister(self, connection: Connection) -> None:
        if connection.watcher is not None:
            connection.watcher.cancel()
        peers = self._connections.get(connection.drill_id)
        if peers is not None:
            peers.discard(connection)
            if not peers:
                del self._connections[connection.drill_id]
                self._tellers.pop(connection.drill_id, None)
        if connection.writer is not None and not connection.writer.done():
            connection.writer.cancel()

    def connected_participants(self, drill_id: str) -> list[str]:
        return sorted(
            {
                c.viewer.participant_id
                for c in self._connections.get(drill_id, ())
                if c.viewer.participant_id is not None
            }
        )

    async def broadcast_presence(self, drill_id: str) -> None:
        """Tell the facilitator and observers who is connected now."""
        message = {"type": "presence", "connected": self.connected_participants(drill_id)}
        for connection in list(self._connections.get(drill_id, ())):
            if connection.viewer.sees_everything:
                connection.offer(message)

    def connected_drills(self) -> list[str]:
        """Drills with at least one connection here: the ones a lost notice could delay."""
        return list(self._connections)

    def connection_count(self) -> int:
        return sum(len(peers) for peers in self._connections.values())
