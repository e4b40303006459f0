"""Every drill socket is pinged in one sweep (app/web/keepalive): a socket that answers
stays open sweep after sweep; one that does not is closed at the next sweep with 1011, as
uvicorn's own keepalive closes it. Sweeps are run by hand on the server's loop here; the
server runs one every 20 s."""

from __future__ import annotations

import socket
import time
from collections import deque
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from app.web import keepalive
from app.web.server import uvicorn_config
from tests.live import LiveServer, sign_in


class RawSocket:
    """A websocket client that answers pings only when told to (`answers`): a browser
    whose network went away keeps its TCP connection open and answers nothing."""

    def __init__(self, live: LiveServer, path: str, cookies: dict[str, str], answers: bool):
        self.answers = answers
        self.events: deque[Any] = deque()
        self.protocol = ClientProtocol(parse_uri(live.ws_url + path))
        self.sock = socket.create_connection(("127.0.0.1", int(live.url.rsplit(":", 1)[1])), 5)
        request = self.protocol.connect()
        request.headers["Origin"] = live.origin
        request.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.protocol.send_request(request)
        self._flush(always=True)

    def _flush(self, always: bool = False) -> None:
        out = b"".join(self.protocol.data_to_send())
        if out and (always or self.answers):
            self.sock.sendall(out)

    def next_frame(self, timeout: float = 5, texts: bool = False) -> Frame | None:
        """The next frame from the server (text frames, as the presence list a console
        is sent, only when `texts`); None when the connection ended first."""
        deadline = time.monotonic() + timeout
        while True:
            self.events.extend(self.protocol.events_received())
            while self.events:
                event = self.events.popleft()
                if isinstance(event, Frame):
                    if event.opcode is not Opcode.TEXT or texts:
                        return event
                else:
                    assert isinstance(event, Response) and event.status_code == 101, event
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            if not data:
                return None
            self.protocol.receive_data(data)
            self._flush()  # the pong the protocol queued for a ping, when it answers

    def close(self) -> None:
        self.sock.close()


def _drill_socket(live: LiveServer, answers: bool) -> tuple[RawSocket, Any]:
    control = sign_in(live)
    drill = control.post(
        "/api/drills", json={"scenario": "mini.yaml", "name": "Keepalive", "speed": 1}
    ).json()
    raw = RawSocket(live, f"/ws/drills/{drill['id']}?since=0", dict(control.cookies), answers)
    first = raw.next_frame(texts=True)
    assert first is not None and first.opcode is Opcode.TEXT and b'"snapshot"' in first.data
    return raw, control


def _kept(live: LiveServer, count: int, unanswered: int = 0) -> None:
    """Wait until the sweep keeps `count` sockets, `unanswered` of them still owing the
    last ping's pong."""
    kept = live.app.state.keepalive
    deadline = time.monotonic() + 5
    while (len(kept), kept.unanswered()) != (count, unanswered):
        assert time.monotonic() < deadline, (len(kept), kept.unanswered())
        time.sleep(0.02)


def test_a_socket_that_answers_is_pinged_each_sweep_and_one_that_does_not_is_closed(
    live_server: LiveServer,
) -> None:
    answering, _ = _drill_socket(live_server, answers=True)
    silent, _ = _drill_socket(live_server, answers=False)
    sweep = live_server.app.state.keepalive.sweep
    try:
        _kept(live_server, 2)
        live_server.run(sweep())
        pings = [answering.next_frame(), silent.next_frame()]
        assert [p.opcode if p else None for p in pings] == [Opcode.PING, Opcode.PING]
        # One payload for the sweep: the sockets' pings are the same frame.
        assert pings[0] is not None and pings[1] is not None
        assert pings[0].data == pings[1].data and len(pings[0].data) == 4
        _kept(live_server, 2, unanswered=1)  # the answering socket's pong has come

        live_server.run(sweep())
        closed = silent.next_frame()
        assert closed is not None and closed.opcode is Opcode.CLOSE
        assert closed.data[:2] == (1011).to_bytes(2, "big")
        assert b"keepalive ping timeout" in closed.data
        again = answering.next_frame()
        assert again is not None and again.opcode is Opcode.PING
        assert again.data != pings[0].data
        _kept(live_server, 1)

        live_server.run(sweep())  # answered again: still open, pinged a third time
        third = answering.next_frame()
        assert third is not None and third.opcode is Opcode.PING
        _kept(live_server, 1)
    finally:
        answering.close()
        silent.close()
    _kept(live_server, 0)  # a socket that ended is no longer swept


def test_the_server_leaves_pinging_to_the_sweep() -> None:
    """uvicorn's own keepalive (a timer per socket) is off where the sweep can ping; the
    installed uvicorn is such a one, so a dependency update that changes how it handles
    pongs fails here rather than leaving sockets unpinged."""
    assert keepalive.SWEEPS
    config = uvicorn_config("app.web.server:factory", "127.0.0.1", 1)
    assert config.ws_ping_interval is None
    assert config.ws_ping_timeout == keepalive.KEEPALIVE_SECONDS
