"""The facilitator's and observers' messages tell each event in words, the timeline's line
(app/engine/timeline.describe with the drill's values filled in), so the console writes
none of its own: beside each live event, and by seq in the snapshot (the first, and the
one a `sync` asks for). The events themselves stay what every other path shows, and
participants get no words."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.sync.client import ClientConnection

from tests.live import LiveServer, join, sign_in
from tests.ws.test_protocol import command, open_socket, receive, received, until


@pytest.fixture
def drill(live_server: LiveServer) -> dict[str, Any]:
    facilitator = sign_in(live_server)
    created = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "Friday"})
    assert created.status_code == 201, created.text
    return {**created.json(), "facilitator": facilitator}


def _is(kind: str) -> Any:
    return lambda m: m["type"] == "event" and m["event"]["type"] == kind


def _message(sock: ClientConnection, kind: str) -> dict[str, Any]:
    """The first message with a `kind` event the socket has had, waiting if need be."""
    found = [m for m in received(sock) if _is(kind)(m)] or until(sock, _is(kind))[-1:]
    return found[0]


def _told(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A snapshot's descriptions by event type (JSON names the seqs as strings)."""
    return {e["type"]: snapshot["descriptions"][str(e["seq"])] for e in snapshot["events"]}


def test_the_facilitator_gets_the_servers_words_and_participants_do_not(
    live_server: LiveServer, drill: dict[str, Any]
) -> None:
    legal = join(live_server, drill["join_code"], "Lee", "legal")
    fac = open_socket(live_server, drill["id"], drill["facilitator"])
    first = receive(fac)
    assert first["type"] == "snapshot"
    assert _told(first)["drill_created"].startswith("Drill 'Friday' created")
    assert _told(first)["participant_joined"].startswith("Lee joined as ")
    assert all("description" not in e for e in first["events"])

    player = open_socket(live_server, drill["id"], legal)
    assert "descriptions" not in receive(player)

    assert command(fac, type="start", id="start")["type"] == "ack"
    assert _message(fac, "clock_started")["description"] == "Clock started at 10x"
    # The inject's title holds {{org_name}}: the line says the drill's value.
    alert = _message(fac, "inject_delivered")
    assert alert["description"].startswith("EDR alert at Acme Retail")
    assert "{{" not in alert["description"] and "description" not in alert["event"]
    _message(player, "inject_delivered")
    assert all("description" not in m for m in received(player))

    fac.send(json.dumps({"type": "sync", "since": 0}))
    again = until(fac, lambda m: m["type"] == "snapshot")[-1]
    assert all(isinstance(text, str) for text in _told(again).values())
    assert _told(again)["clock_started"] == "Clock started at 10x"


def test_an_observer_gets_the_same_words_as_the_facilitator(
    live_server: LiveServer, drill: dict[str, Any]
) -> None:
    observer = join(live_server, drill["join_code"], "Olu", None)
    fac = open_socket(live_server, drill["id"], drill["facilitator"])
    watcher = open_socket(live_server, drill["id"], observer)
    assert receive(fac)["type"] == "snapshot" and receive(watcher)["type"] == "snapshot"
    assert command(fac, type="note", id="n1", text="Calm so far")["type"] == "ack"
    note = _message(watcher, "note_added")
    assert note["description"] == "Note: Calm so far"
    assert _message(fac, "note_added")["description"] == note["description"]
