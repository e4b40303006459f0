"""The drill websocket against a real server: isolation, replay, idempotency, limits."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from app.realtime.codes import Close
from tests.live import LiveServer, join, sign_in


def _cookie_header(client: httpx.Client) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


_SOCKETS = contextlib.ExitStack()


@pytest.fixture(autouse=True)
def _close_sockets(live_server: LiveServer) -> Iterator[None]:
    """Every test here talks to a live server; its sockets close before the server stops
    (a server stopping under open sockets waits on them)."""
    yield
    _SOCKETS.close()
    RECEIVED.clear()


def open_socket(
    live: LiveServer,
    drill_id: str,
    client: httpx.Client | None,
    since: int = 0,
    origin: str | None = None,
) -> ClientConnection:
    headers = {"Origin": origin or live.origin}
    if client is not None:
        headers["Cookie"] = _cookie_header(client)
    return _SOCKETS.enter_context(
        connect(
            f"{live.ws_url}/ws/drills/{drill_id}?since={since}",
            additional_headers=headers,
            max_size=None,
            open_timeout=10,
        )
    )


RECEIVED: dict[int, list[dict[str, Any]]] = {}
"""Everything each socket received, so isolation checks miss nothing read in passing."""


def receive(sock: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(sock.recv(timeout))
    RECEIVED.setdefault(id(sock), []).append(message)
    return message


def received(sock: ClientConnection) -> list[dict[str, Any]]:
    return RECEIVED.get(id(sock), [])


def until(sock: ClientConnection, predicate: Any, timeout: float = 5) -> list[dict[str, Any]]:
    """Messages up to and including the first that matches."""
    seen = []
    while True:
        message = receive(sock, timeout)
        seen.append(message)
        if predicate(message):
            return seen


def command(sock: ClientConnection, **body: Any) -> dict[str, Any]:
    sock.send(json.dumps(body))
    replies = until(sock, lambda m: m["type"] in ("ack", "error") and m.get("id") == body["id"])
    return replies[-1]


def _drain(sock: ClientConnection, timeout: float = 5) -> None:
    """Read until the server closes the socket (raises ConnectionClosed)."""
    while True:
        receive(sock, timeout)


def close_code(sock: ClientConnection, timeout: float = 5) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        _drain(sock, timeout)
    return closed.value.rcvd.code if closed.value.rcvd else None


def event_types(messages: list[dict[str, Any]]) -> list[str]:
    return [m["event"]["type"] for m in messages if m["type"] == "event"]


@pytest.fixture
def drill(live_server: LiveServer) -> dict[str, Any]:
    facilitator = sign_in(live_server)
    created = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "Friday"})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    body["facilitator"] = facilitator
    return body


def _start_and_reach_the_ransom_note(live: LiveServer, drill: dict[str, Any]) -> ClientConnection:
    fac = open_socket(live, drill["id"], drill["facilitator"])
    assert receive(fac)["type"] == "snapshot"
    assert command(fac, type="start", id="start")["type"] == "ack"
    assert command(fac, type="jump", id="jump")["type"] == "ack"  # to T+10m: the note
    return fac


def test_each_participant_sees_only_what_reaches_their_role(
    live_server: LiveServer, drill: dict[str, Any]
) -> None:
    legal = join(live_server, drill["join_code"], "Lee", "legal")
    executive = join(live_server, drill["join_code"], "Eve", "executive")
    legal_ws = open_socket(live_server, drill["id"], legal)
    exec_ws = open_socket(live_server, drill["id"], executive)
    for sock in (legal_ws, exec_ws):
        snapshot = receive(sock)
        assert snapshot["type"] == "snapshot" and snapshot["drill"]["name"] == "Friday"
        assert "variables" not in snapshot["events"][0]["data"]
    fac = _start_and_reach_the_ransom_note(live_server, drill)
    until(exec_ws, lambda m: m.get("event", {}).get("type") == "decision_opened")
    until(legal_ws, lambda m: m.get("event", {}).get("data", {}).get("inject_id") == "note")
    assert (
        command(
            legal_ws,
            type="send_message",
            id="m1",
            to=["regulator"],
            body="We are assessing a possible breach.",
        )["type"]
        == "ack"
    )
    assert (
        command(
            exec_ws, type="send_message", id="m2", to=["legal"], body="Legal: ransom note received."
        )["type"]
        == "ack"
    )
    until(
        legal_ws,
        lambda m: m.get("event", {}).get("data", {}).get("body") == "Legal: ransom note received.",
    )
    until(fac, lambda m: m.get("event", {}).get("data", {}).get("to") == ["legal"])
    # The facilitator skips the nudge meant for the incident manager: bookkeeping that only
    # the facilitator's feed shows.
    assert command(fac, type="skip_inject", id="skip", inject_id="nudge")["type"] == "ack"
    if "inject_skipped" not in event_types(received(fac)):  # it may come before the ack
        until(fac, lambda m: m.get("event", {}).get("type") == "inject_skipped")
    # A round trip after everything: whatever the server sent the executive has arrived.
    exec_ws.send(json.dumps({"type": "ping"}))
    until(exec_ws, lambda m: m["type"] == "pong")
    legal_ws.send(json.dumps({"type": "ping"}))
    until(legal_ws, lambda m: m["type"] == "pong")

    exec_seen, legal_seen = received(exec_ws), received(legal_ws)
    assert "decision_opened" in event_types(exec_seen)
    assert "decision_opened" not in event_types(legal_seen)  # the decision is the executive's
    exec_bodies = [m["event"]["data"].get("body") for m in exec_seen if m["type"] == "event"]
    assert "We are assessing a possible breach." not in exec_bodies  # legal's own message
    assert "inject_skipped" in event_types(received(fac))
    assert "inject_skipped" not in event_types(legal_seen + exec_seen)
    assert not {"expectation_met", "expectation_missed"} & set(event_types(legal_seen))
    assert "message_sent" in event_types(received(fac))  # the facilitator sees everything


def test_reconnecting_with_since_gets_exactly_the_missed_events_in_order(
    live_server: LiveServer, drill: dict[str, Any]
) -> None:
    executive = join(live_server, drill["join_code"], "Eve", "executive")
    sock = open_socket(live_server, drill["id"], executive)
    last_seq = receive(sock)["last_seq"]
    sock.close()
    fac = _start_and_reach_the_ransom_note(live_server, drill)
    assert (
        command(
            fac,
            type="manual_inject",
            id="mi",
            title="Board chair calls",
            body="Is this in the press?",
            to=["executive"],
        )["type"]
        == "ack"
    )
    again = open_socket(live_server, drill["id"], executive, since=last_seq)
    snapshot = receive(again)
    full = open_socket(live_server, drill["id"], executive, since=0)
    everything = receive(full)["events"]
    missed = [e for e in everything if e["seq"] > last_seq]
    assert snapshot["events"] == missed
    seqs = [e["seq"] for e in snapshot["events"]]
    assert seqs == sorted(set(seqs)) and seqs[0] > last_seq
    assert any(e["data"].get("title") == "Board chair calls" for e in snapshot["events"])


def test_a_repeated_command_id_is_acknowledged_again_and_applied_once(
    live_server: LiveServer, drill: dict[str, Any]
) -> None:
    executive = join(live_server, drill["join_code"], "Eve", "executive")
    sock = open_socket(live_server, drill["id"], executive)
    receive(sock)
    _start_and_reach_the_ransom_note(live_server, drill)
    first = command(sock, type="answer", id="a1", decision_id="pay", option_id="no")
    again = command(sock, type="answer", id="a1", decision_id="pay", option_id="no")
    assert first["type"] == again["type"] == "ack"
    assert again["seq"] == first["seq"] and again["repeated"] is True
    log = drill["facilitator"].get(f"/api/drills/{drill['id']}/events").json()
    assert [e["type"] for e in log].count("decision_answered") == 1


def test_a_command_for_another_role_is_refused_with_wrong_role(
    live_server: LiveServer, drill: dict[str, Any]
) -> None:
    legal = join(live_server, drill["join_code"], "Lee", "legal")
    sock = open_socket(live_server, drill["id"], legal)
    receive(sock)
    _start_and_reach_the_ransom_note(live_server, drill)
    reply = command(sock, type="answer", id="x", decision_id="pay", option_id="yes")
    assert reply["type"] == "error" and reply["code"] == "wrong_role"
    facilitator_only = command(sock, type="end", id="y")
    assert facilitator_only["code"] == "not_permitted"
    malformed = command(sock, type="answer", id="z", decision_id="pay")
    assert malformed["code"] == "invalid_message" and "option_id" in malformed["message"]


def test_a_foreign_origin_is_closed_with_its_code(
    live_server: LiveServer, drill: dict[str, Any]
) -> None:
    sock = open_socket(
        live_server, drill["id"], drill["facilitator"], origin="https://evil.example"
    )
    assert close_code(sock) == Close.forbidden_origin


def test_no_or_a_forged_token_is_closed_as_unauthorized(
    live_server: LiveServer, drill: dict[str, Any]
) -> None:
    assert close_code(open_socket(live_server, drill["id"], None)) == Close.unauthorized
    forged = live_server.client()
    forged.cookies.set(f"tt_p_{drill['id']}", "not-a-token")
    assert close_code(open_socket(live_server, drill["id"], forged)) == Close.unauthorized
    assert (
        close_code(open_socket(live_server, "no-such-drill", drill["facilitator"]))
        == Close.drill_not_found
    )


def test_a_one_mebibyte_message_is_refused_with_1009(
    live_server: LiveServer, drill: dict[str, Any]
) -> None:
    sock = open_socket(live_server, drill["id"], drill["facilitator"])
    receive(sock)
    sock.send(json.dumps({"type": "note", "id": "big", "text": "x" * (1024 * 1024)}))
    assert close_code(sock) == Close.message_too_big


def test_a_flood_is_slowed_then_cut_off(live_server: LiveServer, drill: dict[str, Any]) -> None:
    sock = open_socket(live_server, drill["id"], drill["facilitator"])
    receive(sock)
    for n in range(200):
        try:
            sock.send(json.dumps({"type": "ping", "n": n}))
        except ConnectionClosed:
            break
    with pytest.raises(ConnectionClosed) as closed:
        _drain(sock)
    assert "rate_limited" in [m.get("code") for m in received(sock)]
    assert closed.value.rcvd is not None and closed.value.rcvd.code == Close.too_many_messages
