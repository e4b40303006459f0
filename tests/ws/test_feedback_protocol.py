"""Score adjustments and hot-wash answers over the drill websocket, against a real server."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.live import LiveServer, join, sign_in


@pytest.fixture
def sockets() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def drill(live_server: LiveServer) -> dict[str, Any]:
    facilitator = sign_in(live_server)
    created = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "Hot wash"})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    body["facilitator"] = facilitator
    return body


class Socket:
    """One websocket with everything it received kept, to check what it never saw."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.seen: list[dict[str, Any]] = []
        self.snapshot = self.receive()
        assert self.snapshot["type"] == "snapshot"

    def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.connection.recv(5))
        self.seen.append(message)
        return message

    def command(self, **body: Any) -> dict[str, Any]:
        self.connection.send(json.dumps(body))
        while True:
            reply = self.receive()
            if reply["type"] in ("ack", "error") and reply.get("id") == body["id"]:
                return reply

    def round_trip(self) -> None:
        """Whatever the server queued for this socket before now has arrived."""
        self.connection.send(json.dumps({"type": "ping"}))
        while self.receive()["type"] != "pong":
            pass

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [
            m["event"] for m in self.seen if m["type"] == "event" and m["event"]["type"] == kind
        ]


def _open(
    stack: contextlib.ExitStack, live: LiveServer, drill_id: str, client: httpx.Client
) -> Socket:
    cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    connection = connect(
        f"{live.ws_url}/ws/drills/{drill_id}",
        additional_headers={"Origin": live.origin, "Cookie": cookies},
        open_timeout=10,
    )
    return Socket(stack.enter_context(connection))


def _started(stack: contextlib.ExitStack, live: LiveServer, drill: dict[str, Any]) -> Socket:
    fac = _open(stack, live, drill["id"], drill["facilitator"])
    assert fac.command(type="start", id="start")["type"] == "ack"
    return fac


FEEDBACK = {"went_well": "Quick refusal", "improve": "Tell legal sooner", "confidence": 4}


def test_the_facilitator_adjusts_a_score_and_participants_may_not(
    live_server: LiveServer, drill: dict[str, Any], sockets: contextlib.ExitStack
) -> None:
    legal_client = join(live_server, drill["join_code"], "Lee", "legal")
    legal = _open(sockets, live_server, drill["id"], legal_client)
    fac = _started(sockets, live_server, drill)
    ack = fac.command(
        type="adjust_score",
        id="adj",
        objective_id="comms",
        points=-2.5,
        reason="  The notice named   no contact ",
        role="legal",
    )
    assert ack["type"] == "ack" and ack["repeated"] is False
    [adjusted] = fac.events("score_adjusted")
    assert adjusted["seq"] == ack["seq"]
    assert adjusted["data"] == {
        "objective_id": "comms",
        "points": -2.5,
        "reason": "The notice named no contact",
        "role": "legal",
    }
    score = drill["facilitator"].get(f"/api/drills/{drill['id']}/score").json()
    assert score["objectives"]["comms"]["points"] == -2.5

    refused = legal.command(
        type="adjust_score", id="mine", objective_id="comms", points=50, reason="we were great"
    )
    assert refused["type"] == "error" and refused["code"] == "not_permitted"
    legal.round_trip()
    assert legal.events("score_adjusted") == []  # hidden until the scores are released

    unknown = fac.command(type="adjust_score", id="u", objective_id="luck", points=1, reason="r")
    assert unknown["code"] == "unknown_objective"
    no_reason = fac.command(type="adjust_score", id="r", objective_id="comms", points=1, reason="")
    assert no_reason["code"] == "invalid_input"
    zero = fac.command(type="adjust_score", id="z", objective_id="comms", points=0, reason="x")
    assert zero["code"] == "invalid_input"
    missing = fac.command(type="adjust_score", id="m", objective_id="comms", reason="x")
    assert missing["code"] == "invalid_message" and "points" in missing["message"]

    # Released: what was adjusted before is in the log this participant now gets.
    assert fac.command(type="release_scores", id="release")["type"] == "ack"
    again = _open(sockets, live_server, drill["id"], legal_client)
    reasons = [
        e["data"]["reason"] for e in again.snapshot["events"] if e["type"] == "score_adjusted"
    ]
    assert reasons == ["The notice named no contact"]


def test_hot_wash_answers_only_after_the_end_and_once(
    live_server: LiveServer, drill: dict[str, Any], sockets: contextlib.ExitStack
) -> None:
    legal = _open(
        sockets, live_server, drill["id"], join(live_server, drill["join_code"], "Lee", "legal")
    )
    executive = _open(
        sockets, live_server, drill["id"], join(live_server, drill["join_code"], "Eve", "executive")
    )
    fac = _started(sockets, live_server, drill)

    early = legal.command(type="feedback", id="early", **FEEDBACK)
    assert early["type"] == "error" and early["code"] == "drill_not_ended"
    facilitator = fac.command(type="feedback", id="f", **FEEDBACK)
    assert facilitator["code"] == "not_permitted"

    assert fac.command(type="end", id="end", reason="time for the hot wash")["type"] == "ack"
    first = legal.command(type="feedback", id="hw", **FEEDBACK)
    assert first["type"] == "ack"
    repeated = legal.command(type="feedback", id="hw", **FEEDBACK)
    assert repeated["type"] == "ack" and repeated["repeated"] is True
    second = legal.command(type="feedback", id="hw2", **{**FEEDBACK, "confidence": 2})
    assert second["type"] == "error" and second["code"] == "feedback_given"

    [mine] = legal.events("feedback_given")
    assert mine["data"]["confidence"] == 4 and mine["data"]["role"] == "legal"
    assert mine["data"]["went_well"] == "Quick refusal"
    fac.round_trip()
    executive.round_trip()
    assert len(fac.events("feedback_given")) == 1  # the facilitator reads every answer
    assert executive.events("feedback_given") == []  # the other players never do


def test_hot_wash_answers_are_checked(
    live_server: LiveServer, drill: dict[str, Any], sockets: contextlib.ExitStack
) -> None:
    legal = _open(
        sockets, live_server, drill["id"], join(live_server, drill["join_code"], "Lee", "legal")
    )
    fac = _started(sockets, live_server, drill)
    assert fac.command(type="end", id="end")["type"] == "ack"
    too_sure = legal.command(type="feedback", id="a", **{**FEEDBACK, "confidence": 6})
    assert too_sure["code"] == "invalid_input" and "1" in too_sure["message"]
    no_rating = legal.command(type="feedback", id="b", went_well="ok", improve="ok")
    assert no_rating["code"] == "invalid_message" and "confidence" in no_rating["message"]
    essay = legal.command(type="feedback", id="c", **{**FEEDBACK, "improve": "x" * 2001})
    assert essay["code"] == "invalid_message" and "improve" in essay["message"]
    blank = legal.command(type="feedback", id="d", went_well="", improve="", confidence=3)
    assert blank["type"] == "ack"  # the rating alone is an answer
