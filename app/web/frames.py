"""Event frames written straight to the socket: the fan-out's hot path.

An event goes to every participant of a view as the same text, so its websocket frame (a
server's frames are not masked) is the same bytes for each of them: it is serialised once
and written to each socket's transport as it is. The usual path (uvicorn's ASGI send, and
through it the websockets library's protocol) encodes, frames and joins the text again
for every connection: most of the server's own work per delivered message.

The frame is written straight only where that is exactly what uvicorn would write: its
websockets protocol, the connection open and accepted, no close sent, nothing of the
protocol's own waiting to be written, the transport taking writes (not paused by a slow
reader), and no extension negotiated (compression would make each frame the
connection's own; the server negotiates none, app/web/server.py). Anything else, and
any other server, goes through the ASGI send, as before.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from starlette.types import Send as ASGISend
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from app.realtime.hub import Send

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # an older uvicorn: every frame takes the ASGI send
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]

FRAMES_KEPT = 16
"""Frames remembered by their text: a publish has a handful of views (the roles, the
facilitators), each sent to many sockets in turn; past this many, the memory starts
again."""
SHARED_TEXT_CHARS = 16_384
"""Longer texts (a long drill's snapshot, each socket's own) are framed each time, not
kept: what is kept stays small however the cache turns over."""

_frames: dict[str, bytes] = {}


def frame_of(text: str) -> bytes:
    """The text's websocket frame as a server sends it, made once for every socket."""
    frame = _frames.get(text)
    if frame is None:
        frame = Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
        if len(text) <= SHARED_TEXT_CHARS:
            if len(_frames) >= FRAMES_KEPT:
                _frames.clear()
            _frames[text] = frame
    return frame


def uvicorn_protocol(socket_send: ASGISend) -> Any | None:
    """uvicorn's websockets protocol behind `socket_send` (its bound send), if that is
    what it is, with no extension negotiated; None otherwise."""
    protocol = getattr(socket_send, "__self__", None)
    if WebSocketsSansIOProtocol is None or not isinstance(protocol, WebSocketsSansIOProtocol):
        return None
    if protocol.conn.extensions:
        return None
    return protocol


def text_sender(socket_send: ASGISend) -> Send:
    """A text frame to the socket: written at once where it can be (returns None),
    otherwise the ASGI send's awaitable. Call after the socket is accepted."""
    protocol = uvicorn_protocol(socket_send)

    def send(text: str) -> Awaitable[None] | None:
        if protocol is not None and _writes_now(protocol):
            protocol.transport.write(frame_of(text))
            return None
        return socket_send({"type": "websocket.send", "text": text})

    return send


def _writes_now(protocol: Any) -> bool:
    """What uvicorn's send would do at once is to write this frame and nothing else."""
    return bool(
        protocol.writable.is_set()
        and protocol.handshake_complete
        and not protocol.close_sent
        and not protocol.disconnected
        and protocol.initial_response is None
        and protocol.conn.state is State.OPEN
        and not protocol.conn.expect_continuation_frame
        and not protocol.conn.writes
        and not protocol.transport.is_closing()
    )
