"""The drill websocket: `/ws/drills/{drill_id}?since=N`. Thin: protocol in, service, out."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope
from starlette.types import Send as ASGISend

from app.engine import commands as c
from app.engine.errors import Code, DomainError
from app.engine.scenario import Scenario, fill
from app.engine.state import DrillState
from app.realtime.codes import Close
from app.realtime.hub import Connection, Hub
from app.realtime.protocol import (
    MAX_MESSAGE_BYTES,
    Ping,
    Sync,
    client_message,
    to_command,
)
from app.realtime.visibility import Viewer, decision_options, visible_log
from app.services.accounts import TOUCH_SECONDS
from app.services.drills import DrillNotFound, DrillService, StorageUnavailable
from app.web.auth import NotYourDrill, drill_credential
from app.web.console_view import facilitator_context
from app.web.deps import accounts, drills, same_origin
from app.web.frames import text_sender
from app.web.keepalive import Keepalive

log = logging.getLogger("tabletop.ws")
SOCKET_PATH = "/ws/drills/"
"""A drill's socket: SOCKET_PATH + its id (served by DrillSockets)."""

RATE_PER_SECOND = 10.0
BURST = 20.0
STRIKES_BEFORE_CUT = 20


def _storage_error(command_id: str | None, exc: StorageUnavailable) -> dict[str, Any]:
    """The typed error a command gets when the database failed under it."""
    advice = (
        "it may or may not have been recorded: send it again with the same id, which "
        "records it at most once"
        if exc.in_doubt
        else "nothing was recorded, send it again"
    )
    return {
        "type": "error",
        "id": command_id,
        "code": "storage_unavailable",
        "message": f"{exc}; {advice}",
    }


@dataclass(slots=True)
class TokenBucket:
    """Messages a client may send: BURST at once, RATE_PER_SECOND sustained."""

    tokens: float = BURST
    stamp: float = 0.0
    strikes: int = 0

    def take(self, now: float) -> bool:
        self.tokens = min(BURST, self.tokens + (now - self.stamp) * RATE_PER_SECOND)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.strikes += 1
        return False


def _context(scenario: Scenario, state: DrillState, viewer: Viewer) -> dict[str, Any]:
    """What a client needs besides the log: names, the clock, what it may send."""
    statements = [
        {
            "id": s.id,
            "title": fill(s.title, state.variables),
            "body": fill(s.body, state.variables),
            "to": s.to,
        }
        for s in scenario.statements
        if viewer.sees_everything or not s.roles or viewer.role in s.roles
    ]
    facilitator = facilitator_context(scenario, state) if viewer.kind == "facilitator" else {}
    return facilitator | {
        "id": state.drill_id,
        "name": state.name,
        "status": str(state.status),
        "scenario": {"id": scenario.id, "title": scenario.title, "version": scenario.version},
        "roles": {r: scenario.role_title(r) for r in state.roles},
        "parties": {p: fill(v.name, state.variables) for p, v in scenario.parties.items()},
        "statements": statements,
        # Participants learn what they were scored on with their scores.
        "objectives": {k: o.title for k, o in scenario.objectives.items()}
        if viewer.sees_everything or state.scores_released
        else {},
        "clock": {
            "status": str(state.status),
            "speed": state.speed,
            "anchor_wall": state.anchor_wall,
            "anchor_scenario": state.anchor_scenario,
            "start": scenario.clock.start.isoformat(),
            "timezone": scenario.clock.timezone,
        },
        "scores_released": state.scores_released,
        # What the play page embeds too: the options of the decisions this role may get.
        "decision_options": decision_options(
            scenario, state, None if viewer.sees_everything else viewer.role
        ),
    }


class DrillSockets:
    """Serves `/ws/drills/{drill_id}` (drill_socket) ahead of FastAPI's routing, and hands
    every other request on. A socket lives as long as its drill is played, and each frame
    of FastAPI's route stack (exception middleware, exit stack, routers, route wrappers)
    stays suspended beneath it the whole time: skipping them cut the memory of an idle
    connection from 39 to 28 KiB, near a bare Starlette socket's 26. It sits inside the
    checks every request passes (RefuseNul, SecurityHeaders, TrustedHostMiddleware);
    drill_socket itself checks the Origin, the drill and the credential."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: ASGISend) -> None:
        if scope["type"] == "websocket" and scope["path"].startswith(SOCKET_PATH):
            drill_id = scope["path"][len(SOCKET_PATH) :]
            if drill_id and "/" not in drill_id:
                await drill_socket(WebSocket(scope, receive, send), drill_id, send)
                return
        await self.app(scope, receive, send)


async def drill_socket(ws: WebSocket, drill_id: str, socket_send: ASGISend) -> None:
    """One drill socket. `socket_send`: the server's send, through which (or past which,
    to the socket's transport: app/web/frames) the hub's frames go without Starlette's
    checks, made once at the accept, on every message to every participant."""
    # Accept first so that every refusal reaches the client as a named close code.
    await ws.accept()
    if not same_origin(ws):
        await ws.close(Close.forbidden_origin, "this page is not served by Tabletop")
        return
    since = parse_since(ws.query_params.get("since", "0"))
    if since is None:
        await ws.close(Close.invalid_since, "since must be a whole number, 0 or more")
        return
    service = drills(ws)
    hub: Hub = ws.app.state.hub
    try:
        try:
            await service.drill(drill_id)
        except DrillNotFound:
            await ws.close(Close.drill_not_found, "there is no such drill")
            return
        try:
            found = await drill_credential(ws, drill_id)
        except NotYourDrill as exc:
            await ws.close(Close.not_drill_facilitator, str(exc)[:120])
            return
        if found is None:
            await ws.close(Close.unauthorized, "join this drill first")
            return
        viewer, credential = found

        async def close(code: int, reason: str) -> None:
            await ws.close(code, reason)

        # The credential stays with the connection: a revocation of it closes the socket
        # with 4001 on every worker (hub.revoke, told through the bus), and each command
        # is checked against it again in its own write transaction (credentials.holding).
        connection = Connection(
            drill_id, viewer, text_sender(socket_send), close, credential=credential
        )
        if credential.kind == "session":
            digest = credential.token_hash
            hub.watch_session(connection, lambda: accounts(ws).session_ends_at(digest))

        async def snapshot() -> dict[str, Any]:
            return await _snapshot(service, drill_id, viewer, since)

        await hub.attach(connection, snapshot)
    except Exception as exc:
        # The database went away while the socket opened (a restart): a named close the
        # client answers by reconnecting, not the 1011 of an unhandled exception.
        if StorageUnavailable.behind(exc) is None:
            raise
        await ws.close(Close.try_again_later, "the database is unavailable; reconnect in a moment")
        return
    keepalive: Keepalive = ws.app.state.keepalive
    kept = keepalive.keep(socket_send)
    try:
        await hub.broadcast_presence(drill_id)
        await _receive(ws, service, hub, connection)
    except WebSocketDisconnect:
        pass
    finally:
        keepalive.release(kept)
        hub.unregister(connection)
        await hub.broadcast_presence(drill_id)


async def _snapshot(
    service: DrillService, drill_id: str, viewer: Viewer, since: int
) -> dict[str, Any]:
    scenario, state = await service.state(drill_id)
    events = await service.events(drill_id, since)
    last_seq = max([state.seq, *(e.seq for e in events)]) if since <= state.seq else state.seq
    return {
        "type": "snapshot",
        "drill": _context(scenario, state, viewer),
        "viewer": {
            "kind": viewer.kind,
            "role": viewer.role,
            "participant_id": viewer.participant_id,
        },
        "last_seq": last_seq,
        "events": visible_log(events, viewer, state.scores_released),
    }


async def _receive(ws: WebSocket, service: DrillService, hub: Hub, conn: Connection) -> None:
    bucket = TokenBucket(stamp=time.monotonic())
    session = conn.credential if conn.credential and conn.credential.kind == "session" else None
    touched = time.monotonic()
    while True:
        raw = await ws.receive_text()
        if session is not None and time.monotonic() - touched >= TOUCH_SECONDS:
            # An open console (its keepalive pings, its commands) is activity: the
            # facilitator's session does not end idle while the page is on screen.
            touched = time.monotonic()
            try:
                await accounts(ws).touch(session.token_hash)
            except Exception as exc:  # the database restarting: the next message tries again
                if StorageUnavailable.behind(exc) is None:
                    raise
        if len(raw.encode()) > MAX_MESSAGE_BYTES:
            await conn.finish(
                Close.message_too_big, f"messages are limited to {MAX_MESSAGE_BYTES} bytes"
            )
            return
        if not bucket.take(time.monotonic()):
            if bucket.strikes > STRIKES_BEFORE_CUT:
                await conn.finish(Close.too_many_messages, "too many messages; slow down")
                return
            conn.offer(
                {
                    "type": "error",
                    "id": _id_of(raw),
                    "code": "rate_limited",
                    "message": "you are sending too fast; this message was dropped",
                }
            )
            continue
        await _handle(raw, service, hub, conn)


async def _handle(raw: str, service: DrillService, hub: Hub, conn: Connection) -> None:
    try:
        message = client_message.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        conn.offer(
            {
                "type": "error",
                "id": _id_of(raw),
                "code": "invalid_message",
                "message": f"{where}: {first['msg']}",
            }
        )
        return
    if isinstance(message, Ping):
        conn.offer({"type": "pong"})
        return
    if isinstance(message, Sync):
        try:
            snapshot = await _snapshot(service, conn.drill_id, conn.viewer, message.since)
        except Exception as exc:
            down = StorageUnavailable.behind(exc)
            if down is None:
                raise
            conn.offer(_storage_error(None, down))
            return
        conn.offer(snapshot)
        return
    actor = c.Actor(conn.viewer.participant_id, user=conn.viewer.user)
    # Receipts per sender: two facilitators' (or participants') ids never collide.
    key = f"{actor.name}:{message.id}"
    try:
        outcome = await service.execute(
            conn.drill_id, to_command(message), actor, key, credential=conn.credential
        )
    except DomainError as exc:
        conn.offer(
            {"type": "error", "id": message.id, "code": str(exc.code), "message": exc.message}
        )
        if exc.code is Code.credential_revoked:
            # Raced the revocation's notice: the answer, then the close it would bring.
            await conn.finish(Close.unauthorized, "your session or participant token ended")
        return
    except Exception as exc:
        # StorageUnavailable from a write, or a read on the way (the drill's state) that
        # met a database restarting: a typed error; anything else is a bug, raised.
        down = StorageUnavailable.behind(exc)
        if down is None:
            raise
        conn.offer(_storage_error(message.id, down))
        return
    # The hub has queued this command's events already (publish runs before execute
    # returns), so the ack follows them: a client sees the effect before the ack.
    conn.offer(
        {"type": "ack", "id": message.id, "seq": outcome.last_seq, "repeated": outcome.repeated}
    )


def parse_since(raw: str) -> int | None:
    """`?since=`: digits only (a whole number, 0 or more), as the JSON API's 422 has it."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def _id_of(raw: str) -> str | None:
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        return None
    found = parsed.get("id") if isinstance(parsed, dict) else None
    return found if isinstance(found, str) and len(found) <= 128 else None
