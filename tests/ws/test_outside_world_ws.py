"""The outside world over the real websocket: a party's thread reaches only the roles in it
and the white cell that plays the party; feed posts reach everyone; the white cell sees
nothing of the team's own traffic; and a socket opened with `since` replays exactly what
the live socket delivered after that seq, for every seat."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.engine import commands as c
from tests.conftest import ROOT
from tests.live import LiveServer, join, sign_in
from tests.ws.test_protocol import command, open_socket, receive, received, until

PRESS = "press"


def _join_white_cell(live: LiveServer, code: str, parties: list[str]) -> httpx.Client:
    client = live.client()
    answer = client.post("/api/join", json={"code": code, "name": "Wes", "parties": parties})
    assert answer.status_code == 200, answer.text
    return client


def _after(events: list[dict[str, Any]], since: int) -> list[tuple[int, str]]:
    return [(e["seq"], e["type"]) for e in events if e["seq"] > since]


@pytest.mark.live_settings(scenarios_dir=ROOT / "scenarios")
def test_threads_and_the_feed_reach_exactly_their_audience_live_and_on_replay(
    live_server: LiveServer,
) -> None:
    live = live_server
    fac = sign_in(live)
    made = fac.post(
        "/api/drills", json={"scenario": "customer-database-theft.yaml", "name": "WS"}
    ).json()
    white_code = live.app.state.service.white_cell_code(made["id"])
    refused = live.client().post(
        "/api/join", json={"code": white_code, "name": "X", "role": "legal", "parties": []}
    )
    assert refused.status_code == 400 and "white-cell code" in refused.json()["detail"]
    comms = join(live, made["join_code"], "Cass", "communications")
    legal = join(live, made["join_code"], "Lee", "legal")
    white = _join_white_cell(live, white_code, [PRESS])
    seats = {"comms": comms, "legal": legal, "white": white, "fac": fac}
    sockets = {name: open_socket(live, made["id"], client) for name, client in seats.items()}
    for sock in sockets.values():
        assert receive(sock)["type"] == "snapshot"
    service = live.app.state.service
    live.run(service.execute(made["id"], c.StartClock(confirm_unfilled=True)))
    since = live.run(service.state(made["id"]))[1].seq

    assert (
        command(sockets["comms"], id="m1", type="send_message", to=[PRESS], body="Call us")["type"]
        == "ack"
    )
    assert (
        command(
            sockets["legal"], id="m2", type="send_message", to=["communications"], body="Internal"
        )["type"]
        == "ack"
    )
    answer = command(
        sockets["white"],
        id="r1",
        type="reply_as_party",
        party=PRESS,
        to="communications",
        body="Deadline 21:00",
    )
    assert answer["type"] == "ack", answer
    wrong = command(
        sockets["white"],
        id="r2",
        type="reply_as_party",
        party="regulator",
        to="legal",
        body="Noted",
    )
    assert (wrong["type"], wrong["code"]) == ("error", "not_permitted")
    post = command(sockets["white"], id="p1", type="post_to_feed", outlet="X", text="Silent?")
    assert post["type"] == "ack"
    last = post["seq"]

    live_seen: dict[str, list[tuple[int, str]]] = {}
    for name, sock in sockets.items():
        # Everyone sees the post (seq `last`); what came before it on this socket,
        # including what a command's wait for its ack read, is all in `received`.
        if not any(m["type"] == "event" and m["event"]["seq"] == last for m in received(sock)):
            until(sock, lambda m: m["type"] == "event" and m["event"]["seq"] == last)
        live_seen[name] = [
            (m["event"]["seq"], m["event"]["type"]) for m in received(sock) if m["type"] == "event"
        ]
    kinds = {name: {k for _, k in seen} for name, seen in live_seen.items()}
    assert "party_replied" in kinds["comms"] and "party_replied" not in kinds["legal"]
    assert "feed_posted" in kinds["legal"] and "feed_posted" in kinds["comms"]
    white_kinds = kinds["white"]
    assert {"message_sent", "party_replied", "feed_posted"} <= white_kinds
    white_messages = [s for s, k in live_seen["white"] if k == "message_sent"]
    assert len(white_messages) == 1  # the one to the press, not legal's to communications

    for name, client in seats.items():
        replayed = open_socket(live, made["id"], client, since=since)
        snapshot = receive(replayed)
        assert snapshot["type"] == "snapshot"
        assert _after(snapshot["events"], since) == [
            pair for pair in live_seen[name] if pair[0] > since
        ], name
        over_http = client.get(f"/api/drills/{made['id']}/events", params={"since": since})
        assert _after(over_http.json(), since) == _after(snapshot["events"], since), name
