"""Hypothesis throws bad input at a participant's real websocket: malformed JSON, wrong
types, unknown message types, deep nesting, huge strings, the facilitator's commands, and
answers to decisions that are another role's, closed or unknown. Against a drill that is
running with a decision open (on SQLite and on PostgreSQL), each kind of bad input gets
its own refusal: the typed error or the close code that says what was wrong; never an
internal error (1011), and the drill's log never changes. Against an ended drill, every
command is refused the same way."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from app.engine.errors import Code
from app.realtime.codes import Close
from tests.live import LiveServer, join, running_server, sign_in
from tests.scale.cluster import fresh_database
from tests.ws.test_protocol import command, open_socket, receive

KNOWN_CODES = {str(code) for code in Code} | {"invalid_message", "rate_limited"}
# The closes a client may meet for what it sent: too big, or too fast. 1011 (a handler
# that crashed) is never one of them.
REFUSAL_CLOSES = {1009, 4008}
assert Close.internal_error not in REFUSAL_CLOSES
FACILITATOR_ONLY = ["start", "pause", "resume", "jump", "end", "release_scores"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)
nested = st.integers(min_value=50, max_value=5000).map(lambda n: "[" * n + "]" * n)
unknown_type = st.fixed_dictionaries(
    {"type": st.text(max_size=30).filter(lambda t: t not in {"ping", "sync"}), "id": st.text()}
)
wrong_types = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["answer", "send_message", "note", "feedback", "sync"]),
        "id": st.one_of(st.integers(), st.none(), st.text(min_size=129, max_size=200)),
        "to": json_values,
        "body": json_values,
        "since": st.one_of(st.text(max_size=5), st.integers(max_value=-1)),
    }
)
not_yours = st.builds(
    lambda kind, n: {"type": kind, "id": f"x{n}"},
    st.sampled_from(FACILITATOR_ONLY),
    st.integers(0, 10**6),
)
closed_decision = st.builds(
    lambda option, n: {"type": "answer", "id": f"a{n}", "decision_id": "pay", "option_id": option},
    st.sampled_from(["yes", "no", "maybe"]),
    st.integers(0, 10**6),
)
raw_texts = st.text(max_size=200).filter(lambda t: not _is_json_object(t))
bad_messages = st.one_of(
    raw_texts,
    json_values.map(json.dumps),
    nested,
    unknown_type.map(json.dumps),
    wrong_types.map(json.dumps),
    not_yours.map(json.dumps),
    closed_decision.map(json.dumps),
    st.integers(70_000, 200_000).map(
        lambda n: json.dumps({"type": "note", "id": "n", "text": "x" * n})
    ),
)


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _log_length(facilitator: httpx.Client, drill_id: str) -> int:
    return len(facilitator.get(f"/api/drills/{drill_id}/events").json())


@pytest.fixture
def ended_drill(live_server: LiveServer) -> dict[str, Any]:
    """A drill whose decision (put to the executive) has been answered, then ended; the
    fuzzing participant is legal: every command it sends now must be refused."""
    facilitator = sign_in(live_server)
    created = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "Fuzz"})
    drill: dict[str, Any] = created.json()
    legal = join(live_server, drill["join_code"], "Lee", "legal")
    executive = join(live_server, drill["join_code"], "Eve", "executive")
    fac = open_socket(live_server, drill["id"], facilitator)
    assert receive(fac)["type"] == "snapshot"
    assert command(fac, type="start", id="s")["type"] == "ack"
    assert command(fac, type="jump", id="j")["type"] == "ack"  # the ransom note opens `pay`
    sock = open_socket(live_server, drill["id"], executive)
    assert receive(sock)["type"] == "snapshot"
    answered = command(sock, type="answer", id="a", decision_id="pay", option_id="no")
    assert answered["type"] == "ack"
    assert command(fac, type="end", id="e")["type"] == "ack"
    sock.close()
    drill.update(facilitator=facilitator, legal=legal)
    return drill


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(message=bad_messages)
def test_bad_input_gets_a_typed_error_or_a_named_close_and_changes_nothing(
    live_server: LiveServer, ended_drill: dict[str, Any], message: str
) -> None:
    before = _log_length(ended_drill["facilitator"], ended_drill["id"])
    sock = open_socket(live_server, ended_drill["id"], ended_drill["legal"])
    assert receive(sock)["type"] == "snapshot"
    try:
        sock.send(message)
        sock.send(json.dumps({"type": "ping"}))
        while (reply := receive(sock))["type"] != "pong":
            assert reply["type"] == "error", reply
            assert reply["code"] in KNOWN_CODES, reply
            assert reply["message"], reply
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else None
        assert code in REFUSAL_CLOSES, f"closed with {code} after {message[:80]!r}"
    finally:
        sock.close()
    assert _log_length(ended_drill["facilitator"], ended_drill["id"]) == before


# ------------------------------------------------------------------ a drill still running

TOO_BIG = "message_too_big"
"""Expected outcome: the socket closes with 1009."""

# Each kind of bad input with the one refusal that names what is wrong with it.
malformed = st.one_of(
    raw_texts, json_values.map(json.dumps), nested, unknown_type.map(json.dumps)
).map(lambda text: (text, "invalid_message"))
mistyped = wrong_types.map(lambda message: (json.dumps(message), "invalid_message"))
facilitators_command = not_yours.map(lambda message: (json.dumps(message), "not_permitted"))
others_decision = st.builds(
    lambda option, n: (
        json.dumps({"type": "answer", "id": f"a{n}", "decision_id": "pay", "option_id": option}),
        "wrong_role",
    ),
    st.sampled_from(["yes", "no"]),
    st.integers(0, 10**6),
)
unknown_decision = st.builds(
    lambda decision, n: (
        json.dumps({"type": "answer", "id": f"u{n}", "decision_id": decision, "option_id": "no"}),
        "unknown_decision",
    ),
    st.text(min_size=1, max_size=20).filter(lambda d: d != "pay"),
    st.integers(0, 10**6),
)
huge = st.integers(70_000, 200_000).map(
    lambda n: (json.dumps({"type": "note", "id": "n", "text": "x" * n}), TOO_BIG)
)
refused_while_running = st.one_of(
    malformed, mistyped, facilitators_command, others_decision, unknown_decision, huge
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LiveServer]:
    if request.param == "sqlite":
        with running_server(tmp_path) as live:
            yield live
        return
    async with fresh_database() as database:
        with running_server(tmp_path, database_url=database) as live:
            yield live


@pytest.fixture
def running_drill(server: LiveServer) -> dict[str, Any]:
    """Running with the ransom decision open for the executive, so slowly (0.1x) that the
    story moves seconds while the test runs; the fuzzing participant is legal."""
    facilitator = sign_in(server)
    created = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "Fuzz"})
    drill: dict[str, Any] = created.json()
    legal = join(server, drill["join_code"], "Lee", "legal")
    join(server, drill["join_code"], "Eve", "executive")
    fac = open_socket(server, drill["id"], facilitator)
    assert receive(fac)["type"] == "snapshot"
    for kind in ("start", "jump"):
        assert command(fac, type=kind, id=kind)["type"] == "ack"
    assert command(fac, type="set_speed", id="slow", speed=0.1)["type"] == "ack"
    log = facilitator.get(f"/api/drills/{drill['id']}/events").json()
    opened = [e for e in log if e["type"] == "decision_opened"]
    assert [e["data"]["decision_id"] for e in opened] == ["pay"]
    assert not any(e["type"] == "decision_answered" for e in log)
    drill.update(facilitator=facilitator, legal=legal, log=log)
    return drill


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=refused_while_running)
def test_bad_input_to_a_running_drill_gets_its_own_refusal_and_changes_nothing(
    server: LiveServer, running_drill: dict[str, Any], case: tuple[str, str]
) -> None:
    message, expected = case
    sock = open_socket(server, running_drill["id"], running_drill["legal"])
    assert receive(sock)["type"] == "snapshot"
    refusals: list[str] = []
    try:
        sock.send(message)
        sock.send(json.dumps({"type": "ping"}))
        while (reply := receive(sock))["type"] != "pong":
            assert reply["type"] == "error" and reply["message"], reply
            refusals.append(reply["code"])
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else None
        assert code != Close.internal_error, f"1011 after {message[:80]!r}"
        refusals.append(Close(code).name if code in set(Close) else str(code))
    finally:
        sock.close()
    assert refusals == [expected], (message[:80], refusals)
    log = running_drill["facilitator"].get(f"/api/drills/{running_drill['id']}/events").json()
    assert log == running_drill["log"]
