"""Sign-out ends the sockets opened with the session, on the embedded default (one
server, SQLite, in-process fan-out): 4001 within a second, and a command sent in that
window is refused and never logged. The several-workers paths: tests/scale/test_revocation.py."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from app.realtime.codes import Close
from tests.live import LiveServer, sign_in


def _open(live: LiveServer, drill_id: str, cookies: dict[str, str]) -> ClientConnection:
    sock = connect(
        f"{live.ws_url}/ws/drills/{drill_id}?since=0",
        additional_headers={
            "Origin": live.origin,
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
        },
        open_timeout=10,
    )
    assert json.loads(sock.recv(5))["type"] == "snapshot"
    return sock


def _send(sock: ClientConnection, message: dict[str, Any]) -> str:
    """Send a command; its id. On a socket closed already nothing is sent."""
    command_id = uuid.uuid4().hex
    with contextlib.suppress(ConnectionClosed):
        sock.send(json.dumps({**message, "id": command_id}))
    return command_id


def _answer(sock: ClientConnection, command_id: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(sock.recv(5))
        if message.get("id") == command_id:
            return message


def _inject(title: str) -> dict[str, Any]:
    return {"type": "manual_inject", "title": title, "body": "b", "to": ["all"]}


def test_sign_out_closes_the_socket_4001_and_refuses_what_it_sends(
    live_server: LiveServer,
) -> None:
    control = sign_in(live_server)
    drill = control.post(
        "/api/drills", json={"scenario": "mini.yaml", "name": "Revoked", "speed": 1}
    ).json()
    leaving = sign_in(live_server)
    control_sock = _open(live_server, drill["id"], dict(control.cookies.items()))
    sock = _open(live_server, drill["id"], dict(leaving.cookies.items()))
    quiet = _open(live_server, drill["id"], dict(leaving.cookies.items()))
    try:
        started = _answer(sock, _send(sock, {"type": "start", "confirm_unfilled": True}))
        assert started["type"] == "ack", started
        assert _answer(sock, _send(sock, _inject("before")))["type"] == "ack"

        assert leaving.delete("/api/session").status_code == 204
        revoked_at = time.monotonic()
        late = _send(sock, _inject("after sign-out"))
        answers = []
        try:
            while True:
                answers.append(json.loads(sock.recv(5)))
        except ConnectionClosed:
            took = time.monotonic() - revoked_at
        assert sock.close_code == Close.unauthorized
        assert took <= 1.0, took
        # A second socket of the session sends nothing: its close is the notice's.
        try:
            while True:
                quiet.recv(max(0.01, 1.0 - (time.monotonic() - revoked_at)))
        except ConnectionClosed:
            pass
        assert quiet.close_code == Close.unauthorized
        reply = [a for a in answers if a.get("id") == late]
        assert all(a["type"] == "error" for a in reply), reply
        assert leaving.get(f"/api/drills/{drill['id']}/events").status_code == 401

        log = control.get(f"/api/drills/{drill['id']}/events").json()
        assert "before" in json.dumps(log)
        assert "after sign-out" not in json.dumps(log)
        # The other session's socket is untouched.
        assert _answer(control_sock, _send(control_sock, _inject("control")))["type"] == "ack"
    finally:
        sock.close()
        quiet.close()
        control_sock.close()


def test_revoking_an_api_token_closes_its_socket_4001(live_server: LiveServer) -> None:
    """`tabletop token revoke` (here the same service call, in the server's process, as on
    the embedded default): the socket the token opened closes, its command is not logged."""
    accounts = live_server.app.state.accounts
    control = sign_in(live_server)
    drill = control.post(
        "/api/drills", json={"scenario": "mini.yaml", "name": "Scripted", "speed": 1}
    ).json()
    secret = live_server.run(accounts.create_api_token("bot", "fac"))
    sock = connect(
        f"{live_server.ws_url}/ws/drills/{drill['id']}?since=0",
        additional_headers={"Authorization": f"Bearer {secret}"},
        open_timeout=10,
    )
    try:
        assert json.loads(sock.recv(5))["type"] == "snapshot"
        assert _answer(sock, _send(sock, _inject("by the bot")))["type"] == "error"  # not started
        assert live_server.run(accounts.revoke_api_token("bot"))
        revoked_at = time.monotonic()
        # Nothing sent: the close is the revocation's notice, not a refused command's.
        try:
            while True:
                sock.recv(5)
        except ConnectionClosed:
            took = time.monotonic() - revoked_at
        assert sock.close_code == Close.unauthorized
        assert took <= 1.0, took
    finally:
        sock.close()
