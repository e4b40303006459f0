"""The JSON API against a real server: sign-in, joining, what each caller may read."""

from __future__ import annotations

import re
from typing import Any

from tests.live import PASSWORD, LiveServer, join, sign_in


def _drill(live: LiveServer) -> dict[str, Any]:
    facilitator = sign_in(live)
    created = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "Drill"})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    body["facilitator"] = facilitator
    return body


def test_health_and_readiness(live_server: LiveServer) -> None:
    client = live_server.client()
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}


def test_sign_in_sets_an_httponly_samesite_cookie_and_wrong_passwords_are_refused(
    live_server: LiveServer,
) -> None:
    client = live_server.client()
    wrong = client.post("/api/session", json={"username": "fac", "password": "nope"})
    assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
    good = client.post("/api/session", json={"username": "fac", "password": PASSWORD})
    cookie = good.headers["set-cookie"].lower()
    assert good.status_code == 200 and "httponly" in cookie and "samesite=lax" in cookie
    first = client.cookies["tt_session"]
    client.post("/api/session", json={"username": "fac", "password": PASSWORD})
    assert client.cookies["tt_session"] != first  # a new session at every sign-in


def test_sign_in_is_throttled(live_server: LiveServer) -> None:
    client = live_server.client()
    codes = [
        client.post("/api/session", json={"username": "fac", "password": "guess"}).status_code
        for _ in range(12)
    ]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]


def test_a_cross_site_post_is_refused(live_server: LiveServer) -> None:
    client = live_server.client()
    response = client.post(
        "/api/session",
        json={"username": "fac", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403 and "cross-site" in response.text


def test_only_facilitators_create_drills(live_server: LiveServer) -> None:
    response = live_server.client().post("/api/drills", json={"scenario": "mini.yaml", "name": "X"})
    assert response.status_code == 401


def test_join_code_guessing_is_limited_per_client(live_server: LiveServer) -> None:
    client = live_server.client()
    codes = [
        client.post(
            "/api/join", json={"code": f"ZZZZZ-ZZZ{n:02d}", "name": "G", "role": "legal"}
        ).status_code
        for n in range(22)
    ]
    assert codes[:20] == [404] * 20 and codes[20:] == [429, 429]


def test_a_whole_room_behind_one_address_can_join_with_the_right_code(
    live_server: LiveServer,
) -> None:
    """Only wrong codes count against an address: 40 people behind one NAT all get in."""
    code = _drill(live_server)["join_code"]
    client = live_server.client()
    statuses = [
        client.post("/api/join", json={"code": code, "name": f"P{n}", "role": None}).status_code
        for n in range(40)
    ]
    assert statuses == [200] * 40


def test_a_participant_reads_only_their_roles_events_and_not_another_drills(
    live_server: LiveServer,
) -> None:
    drill = _drill(live_server)
    other = _drill(live_server)
    legal = join(live_server, drill["join_code"].lower().replace("-", " "), "Lee", "legal")
    drill["facilitator"].post("/api/drills", json={"scenario": "mini.yaml", "name": "Y"})
    events = legal.get(f"/api/drills/{drill['id']}/events").json()
    assert [e["type"] for e in events][:2] == ["drill_created", "participant_joined"]
    assert legal.get(f"/api/drills/{other['id']}/events").status_code == 401


def test_joining_an_unknown_role_says_which_roles_exist(live_server: LiveServer) -> None:
    drill = _drill(live_server)
    response = live_server.client().post(
        "/api/join", json={"code": drill["join_code"], "name": "Pat", "role": "cfo"}
    )
    assert response.status_code == 400
    assert "unknown_role" in response.text and "incident_manager" in response.text


def test_a_join_sent_again_with_its_attempt_id_joins_once_with_a_new_token(
    live_server: LiveServer,
) -> None:
    """After a 503 that could not say whether the join landed, or an answer lost on the
    way, the client sends the same join again: one participant, and the token that
    counts is the one it finally received."""
    drill = _drill(live_server)
    body = {"code": drill["join_code"], "name": "Dana", "role": "legal", "attempt": "a" * 22}
    first, again = live_server.client(), live_server.client()
    one = first.post("/api/join", json=body)
    two = again.post("/api/join", json={**body, "name": "Dana (again)"})
    assert one.status_code == two.status_code == 200, (one.text, two.text)
    assert one.json()["participant_id"] == two.json()["participant_id"]
    assert first.get(f"/api/drills/{drill['id']}/events").status_code == 401  # replaced
    log = again.get(f"/api/drills/{drill['id']}/events").json()
    assert [e["data"]["name"] for e in log if e["type"] == "participant_joined"] == ["Dana"]
    other = live_server.client().post("/api/join", json={**body, "attempt": "b" * 22})
    assert other.json()["participant_id"] != one.json()["participant_id"]


def test_the_join_form_posted_twice_joins_once(live_server: LiveServer) -> None:
    drill = _drill(live_server)
    browser = live_server.client()
    page = browser.get(f"/join?code={drill['join_code']}")
    attempt = re.search(r'name="attempt" value="([^"]+)"', page.text)
    assert attempt is not None and len(attempt.group(1)) >= 16
    form = {
        "csrf": browser.cookies["tt_csrf"],
        "code": drill["join_code"],
        "name": "Eve",
        "role": "executive",
        "attempt": attempt.group(1),
    }
    for _ in range(2):  # a double click, or Back and Join again after an error
        assert browser.post("/join", data=form).status_code == 303
    facilitator = sign_in(live_server)
    log = facilitator.get(f"/api/drills/{drill['id']}/events").json()
    assert [e["data"]["name"] for e in log if e["type"] == "participant_joined"] == ["Eve"]
    assert browser.get(f"/drills/{drill['id']}/play").status_code == 200


def test_a_drill_is_made_from_a_scenario_named_with_or_without_its_extension(
    live_server: LiveServer,
) -> None:
    facilitator = sign_in(live_server)
    bare = facilitator.post("/api/drills", json={"scenario": "mini", "name": "Bare"})
    assert bare.status_code == 201, bare.text
    unknown = facilitator.post("/api/drills", json={"scenario": "no-such", "name": "X"})
    assert unknown.status_code == 404
    assert "GET /api/scenarios lists" in unknown.json()["detail"]
