"""The server-rendered pages against a real server: sign-in, headers, escaping, CSRF."""

from __future__ import annotations

import re

import httpx

from tests.live import PASSWORD, LiveServer, join, sign_in


def _csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def _create(client: httpx.Client) -> tuple[str, str]:
    """A drill of mini.yaml made through the JSON API: its id and join code."""
    created = client.post("/api/drills", json={"scenario": "mini.yaml", "name": "Friday"})
    assert created.status_code == 201, created.text
    body = created.json()
    return body["id"], body["join_code"]


def test_facilitator_pages_redirect_to_sign_in(live_server: LiveServer) -> None:
    client = live_server.client()
    for path in ("/", "/drills/new?scenario=mini.yaml", "/drills/x/console"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login")
    assert client.get("/drills/x/play").headers["location"] == "/join"
    back = client.get("/drills/new?scenario=mini.yaml").headers["location"]
    assert back == "/login?next=%2Fdrills%2Fnew%3Fscenario%3Dmini.yaml"


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(
    live_server: LiveServer,
) -> None:
    client = live_server.client()
    for asked, landed in (
        ("/drills/new?scenario=mini.yaml", "/drills/new?scenario=mini.yaml"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
    ):
        token = _csrf(client, "/login")
        response = client.post(
            "/login", data={"csrf": token, "username": "fac", "password": PASSWORD, "next": asked}
        )
        assert response.status_code == 303 and response.headers["location"] == landed


def test_every_page_sends_a_strict_content_security_policy(live_server: LiveServer) -> None:
    client = live_server.client()
    for path in ("/login", "/join", "/static/app.css", "/api/drills/x/events"):
        headers = client.get(path).headers
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


def test_sign_in_through_the_form_and_create_a_drill(live_server: LiveServer) -> None:
    client = live_server.client()
    token = _csrf(client, "/login")
    signed_in = client.post(
        "/login", data={"csrf": token, "username": "fac", "password": PASSWORD, "next": "/"}
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    home = client.get("/")
    assert "Mini drill" in home.text
    token = _csrf(client, "/drills/new?scenario=mini.yaml")
    created = client.post(
        "/drills/new",
        data={
            "csrf": token,
            "scenario": "mini.yaml",
            "name": "Form drill",
            "speed": "5",
            "roles": ["incident_manager", "executive", "legal"],
        },
    )
    assert created.status_code == 303
    console = client.get(created.headers["location"])
    assert console.status_code == 200
    assert re.search(r"[A-Z0-9]{5}-[A-Z0-9]{5}", console.text)
    assert "<svg" in console.text and "style=" not in console.text
    assert "<script>" not in console.text  # modules only, loaded from /static


def test_a_participant_name_is_escaped_in_the_console_roster(live_server: LiveServer) -> None:
    facilitator = sign_in(live_server)
    drill_id, code = _create(facilitator)
    join(live_server, code, "<script>alert(1)</script>", "legal")
    console = facilitator.get(f"/drills/{drill_id}/console").text
    assert "<script>alert(1)</script>" not in console
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in console


def test_forms_refuse_a_post_without_the_csrf_token(live_server: LiveServer) -> None:
    client = live_server.client()
    _csrf(client, "/login")  # the cookie is set, but the form field is missing
    refused = client.post("/login", data={"username": "fac", "password": PASSWORD})
    assert refused.status_code == 403
    assert "tt_session" not in client.cookies
    wrong = client.post("/login", data={"csrf": "x" * 43, "username": "fac", "password": PASSWORD})
    assert wrong.status_code == 403
    facilitator = sign_in(live_server)
    _, code = _create(facilitator)
    assert facilitator.post("/logout").status_code == 403
    no_token = live_server.client().post("/join", data={"code": code, "name": "Mallory"})
    assert no_token.status_code == 403
    assert (
        facilitator.post(
            "/drills/new", data={"scenario": "mini.yaml", "name": "Sneaky"}
        ).status_code
        == 403
    )


def test_join_through_the_form_lands_on_the_play_screen(live_server: LiveServer) -> None:
    _, code = _create(sign_in(live_server))
    client = live_server.client()
    picker = client.get(f"/join/{code}")
    assert picker.status_code == 200 and "Legal" in picker.text and "0 joined" in picker.text
    token = _csrf(client, f"/join?code={code}")
    joined = client.post(
        "/join", data={"csrf": token, "code": code, "name": "Lee", "role": "legal"}
    )
    assert joined.status_code == 303
    play = client.get(joined.headers["location"])
    assert play.status_code == 200 and "Lee" in play.text
    assert "1 joined" in client.get(f"/join/{code}").text
