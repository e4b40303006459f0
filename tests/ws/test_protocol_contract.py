"""The protocol exactly as the README documents it (issue 18): what a client written from
the README alone meets on a real server, for the cases the README once got wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from app.realtime import protocol
from app.realtime.codes import Close
from tests.live import LiveServer, join
from tests.ws.test_protocol import (
    _SOCKETS,
    _close_sockets,  # noqa: F401 - the autouse fixture
    _cookie_header,
    _drain,
    close_code,
    command,
    drill,  # noqa: F401 - the fixture
    open_socket,
    receive,
    received,
    until,
)


def _socket_at(
    live: LiveServer, path: str, headers: dict[str, str] | None = None
) -> ClientConnection:
    return _SOCKETS.enter_context(
        connect(f"{live.ws_url}{path}", additional_headers=headers or {}, open_timeout=10)
    )


def _read_until_quiet(sock: ClientConnection) -> None:
    while True:
        receive(sock, timeout=1.5)


def test_a_rate_limited_command_is_answered_with_its_id(
    live_server: LiveServer,
    drill: dict[str, Any],  # noqa: F811
) -> None:
    player = join(live_server, drill["join_code"], "Lee", "legal")
    sock = open_socket(live_server, drill["id"], player)
    receive(sock)
    sent = [f"r{n}" for n in range(32)]
    for command_id in sent:  # facilitator-only: each is refused, quickly
        sock.send(json.dumps({"type": "pause", "id": command_id}))
    with pytest.raises(TimeoutError):  # read everything there is
        _read_until_quiet(sock)
    errors = [m for m in received(sock) if m["type"] == "error"]
    limited = [m for m in errors if m["code"] == "rate_limited"]
    assert limited, "nothing was rate limited"
    assert sorted(m["id"] for m in errors) == sorted(sent)  # each once, with its own id


@pytest.mark.parametrize("since", ["abc", "-5", "1.5", ""])
def test_a_malformed_or_negative_since_has_one_answer_on_the_socket_and_over_http(
    live_server: LiveServer,
    drill: dict[str, Any],  # noqa: F811
    since: str,
) -> None:
    facilitator = drill["facilitator"]
    headers = {"Origin": live_server.origin, "Cookie": _cookie_header(facilitator)}
    sock = _socket_at(live_server, f"/ws/drills/{drill['id']}?since={since}", headers)
    with pytest.raises(ConnectionClosed) as closed:
        _drain(sock)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == Close.invalid_since, closed.value.rcvd
    assert "since" in closed.value.rcvd.reason
    assert received(sock) == []  # no snapshot before the close
    if since:
        response = facilitator.get(f"/api/drills/{drill['id']}/events", params={"since": since})
        assert response.status_code == 422, response.text


def test_a_good_since_still_opens_the_socket(
    live_server: LiveServer,
    drill: dict[str, Any],  # noqa: F811
) -> None:
    snapshot = receive(open_socket(live_server, drill["id"], drill["facilitator"], since=1))
    assert snapshot["type"] == "snapshot" and snapshot["events"] == []


def test_a_nul_in_the_address_closes_with_1008_as_documented(
    live_server: LiveServer,
) -> None:
    sock = _socket_at(live_server, "/ws/drills/a%00b", {"Origin": live_server.origin})
    assert close_code(sock) == Close.policy_violation


def test_an_origin_of_another_scheme_is_refused(
    live_server: LiveServer,
    drill: dict[str, Any],  # noqa: F811
) -> None:
    """An http server: https://ITS-HOST:PORT is another origin (another site could serve
    it), on the socket and for state-changing calls alike."""
    https = live_server.origin.replace("http://", "https://")
    sock = open_socket(live_server, drill["id"], drill["facilitator"], origin=https)
    assert close_code(sock) == Close.forbidden_origin
    response = drill["facilitator"].post(
        "/api/drills", json={"scenario": "mini.yaml", "name": "x"}, headers={"Origin": https}
    )
    assert response.status_code == 403, response.text


def test_behind_a_trusted_tls_proxy_the_expected_origin_is_https(
    live_server: LiveServer,
    drill: dict[str, Any],  # noqa: F811
) -> None:
    """The test client is on loopback, which is trusted for X-Forwarded-Proto by
    default: it plays the TLS proxy. Over https the session cookie is `__Host-` named."""
    cookie = "__Host-" + _cookie_header(drill["facilitator"])
    https = live_server.origin.replace("http://", "https://")
    path = f"/ws/drills/{drill['id']}?since=0"
    proxied = {"X-Forwarded-Proto": "https", "Cookie": cookie}
    sock = _socket_at(live_server, path, proxied | {"Origin": https})
    assert receive(sock)["type"] == "snapshot"
    plain = _socket_at(live_server, path, proxied | {"Origin": live_server.origin})
    assert close_code(plain) == Close.forbidden_origin


def test_a_socket_without_an_origin_is_refused_as_documented(
    live_server: LiveServer,
    drill: dict[str, Any],  # noqa: F811
) -> None:
    cookie = _cookie_header(drill["facilitator"])
    sock = _socket_at(live_server, f"/ws/drills/{drill['id']}", {"Cookie": cookie})
    assert close_code(sock) == Close.forbidden_origin


def test_a_reused_id_with_another_command_is_refused_with_its_own_code(
    live_server: LiveServer,
    drill: dict[str, Any],  # noqa: F811
) -> None:
    sock = open_socket(live_server, drill["id"], drill["facilitator"])
    receive(sock)
    first = command(sock, type="note", id="n1", text="Legal was told late")
    same = command(sock, type="note", id="n1", text="Legal was told late")
    other = command(sock, type="note", id="n1", text="Legal was told on time")
    assert first["type"] == "ack" and same == {**first, "repeated": True}
    assert other["type"] == "error" and other["code"] == "command_id_reused"
    assert other["id"] == "n1"
    log = drill["facilitator"].get(f"/api/drills/{drill['id']}/events").json()
    assert [e["data"].get("text") for e in log if e["type"] == "note_added"] == [
        "Legal was told late"
    ]


def test_a_reconnect_with_since_after_the_release_has_the_scores_earned_before_it(
    live_server: LiveServer,
    drill: dict[str, Any],  # noqa: F811
) -> None:
    """An adjustment before the release is hidden from a participant as it happens; one
    who was online then, and comes back after the release with `since` = the last seq it
    saw, gets the adjustment in the release's scorecard."""
    player = join(live_server, drill["join_code"], "Lee", "legal")
    sock = open_socket(live_server, drill["id"], player)
    receive(sock)
    fac = open_socket(live_server, drill["id"], drill["facilitator"])
    receive(fac)
    adjusted = command(
        fac, type="adjust_score", id="a1", objective_id="comms", points=-2, reason="Late notice"
    )
    assert adjusted["type"] == "ack"
    assert command(fac, type="start", id="s1")["type"] == "ack"
    seen = until(sock, lambda m: m.get("event", {}).get("type") == "clock_started")
    assert "score_adjusted" not in [m["event"]["type"] for m in seen if m["type"] == "event"]
    last_seq = seen[-1]["event"]["seq"]
    assert last_seq > adjusted["seq"]
    sock.close()
    assert command(fac, type="release_scores", id="r1")["type"] == "ack"
    back = receive(open_socket(live_server, drill["id"], player, since=last_seq))
    (release,) = [e for e in back["events"] if e["type"] == "scores_released"]
    card = release["data"]["scorecard"]
    mine = [i for i in card["items"] if i["points"] == -2.0 and "Late notice" in i["detail"]]
    assert len(mine) == 1 and mine[0]["objective"] == "comms"
    assert card == player.get(f"/api/drills/{drill['id']}/score").json()


def test_the_snapshot_drill_has_exactly_the_documented_keys(
    live_server: LiveServer,
    drill: dict[str, Any],  # noqa: F811
) -> None:
    player = join(live_server, drill["join_code"], "Lee", "legal")
    watcher = join(live_server, drill["join_code"], "Obi", None)
    everyone = set(protocol.SnapshotDrill.model_fields)
    keys = set(protocol.SnapshotOut.model_fields)
    snapshot = receive(open_socket(live_server, drill["id"], player))
    assert set(snapshot["drill"]) == everyone
    assert set(snapshot) == keys - {"descriptions"}
    observer = receive(open_socket(live_server, drill["id"], watcher))
    assert set(observer["drill"]) == everyone
    assert set(observer) == keys
    facilitator = receive(open_socket(live_server, drill["id"], drill["facilitator"]))
    assert set(facilitator["drill"]) == set(protocol.FacilitatorDrill.model_fields)
    assert set(facilitator) == keys


def test_a_command_id_of_128_characters_works_for_a_participant_too(
    live_server: LiveServer,
    drill: dict[str, Any],  # noqa: F811
) -> None:
    """The README allows ids of 1 to 128 characters; the server keys receipts by sender
    and id, which is longer than 128 for a participant (their id is a UUID)."""
    watcher = join(live_server, drill["join_code"], "Obi", None)  # observers write notes
    sock = open_socket(live_server, drill["id"], watcher)
    receive(sock)
    long_id = "n" * 128
    first = command(sock, type="note", id=long_id, text="Legal was told late")
    again = command(sock, type="note", id=long_id, text="Legal was told late")
    other = command(sock, type="note", id=long_id, text="Legal was told on time")
    assert first["type"] == "ack" and again == {**first, "repeated": True}, (first, again)
    assert other["code"] == "command_id_reused" and other["id"] == long_id
