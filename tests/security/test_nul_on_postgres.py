"""A NUL character anywhere a user can put one, against a real PostgreSQL (whose text
cannot hold it; SQLite stores it): in addresses, form fields, JSON fields, names and
websocket messages. Always a clear 4xx or a named close, never a 500 or a 1011, and the
drill goes on."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.realtime.codes import Close
from tests.live import LiveServer, running_server, sign_in
from tests.scale.cluster import fresh_database
from tests.ws.test_protocol import command, open_socket

pytestmark = pytest.mark.postgres
NUL = "\x00"


def _no_crash(response: httpx.Response, *expected: int) -> None:
    assert response.status_code in expected, (response.request.url, response.text)


async def test_a_nul_anywhere_is_a_clear_refusal_on_postgresql(tmp_path: Path) -> None:
    async with fresh_database() as database:
        with running_server(tmp_path, database_url=database) as live:
            _walk(live)


def _walk(live: LiveServer) -> None:
    facilitator = sign_in(live)
    created = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "Nul"})
    drill_id, code = created.json()["id"], created.json()["join_code"]

    # Addresses: pages, API, report, websocket.
    for path in ("/drills/a%00b/console", "/drills/a%00b/report", "/api/drills/a%00b/events"):
        _no_crash(facilitator.get(path), 422)
    _no_crash(facilitator.get("/join?code=A%00B"), 422)
    nul = connect(f"{live.ws_url}/ws/drills/a%00b", additional_headers={"Origin": live.origin})
    with nul, pytest.raises(ConnectionClosed) as refused:
        nul.recv(5)
    assert refused.value.rcvd is not None and refused.value.rcvd.code == Close.policy_violation

    # Form fields: sign-in, join (name), a new drill's name.
    browser = live.client()
    login = browser.get("/login")
    csrf = browser.cookies["tt_csrf"]
    form = {"csrf": csrf, "username": f"fac{NUL}", "password": "x" * 12, "next": "/"}
    signed = browser.post("/login", data=form)
    _no_crash(signed, 401)
    assert "Wrong user name or password" in signed.text
    assert login.status_code == 200
    browser.get("/join")
    joined = browser.post(
        "/join", data={"csrf": browser.cookies["tt_csrf"], "code": code, "name": f"Pat{NUL}"}
    )
    _no_crash(joined, 400, 422)
    assert "control characters" in joined.text

    # JSON: a participant named with a NUL, a drill named with one.
    api = live.client()
    named = api.post("/api/join", json={"code": code, "name": f"Pat{NUL}", "role": "legal"})
    _no_crash(named, 400, 422)
    drill = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": f"D{NUL}"})
    _no_crash(drill, 400, 422)

    # Websocket: a NUL in a message and a note is just text, stored and shown.
    lee = live.client()
    assert lee.post("/api/join", json={"code": code, "name": "Lee", "role": "legal"}).is_success
    console = open_socket(live, drill_id, facilitator)
    assert command(console, type="start", id="s")["type"] == "ack"
    sock = open_socket(live, drill_id, lee)
    sent = command(sock, type="send_message", id="m", to=["executive"], body=f"a{NUL}b")
    assert sent["type"] == "ack", sent
    noted = command(console, type="note", id="n", text=f"x{NUL}y")
    assert noted["type"] == "ack", noted

    log = facilitator.get(f"/api/drills/{drill_id}/events").json()
    assert [e["data"]["body"] for e in log if e["type"] == "message_sent"] == [f"a{NUL}b"]
    names = [e["data"]["name"] for e in log if e["type"] == "participant_joined"]
    assert names == ["Lee"]  # the refused joins left nothing
    assert facilitator.get(f"/drills/{drill_id}/console").status_code == 200
