"""Behind a TLS proxy: what TABLETOP_TRUSTED_PROXIES changes. From a trusted proxy the
client's scheme and address are believed, so every cookie is Secure and `__Host-`
prefixed and throttles count real clients; from any other peer those headers are ignored.

The proxy is played by this test: it connects from 127.0.0.1 and sends what a proxy
terminating TLS would add (X-Forwarded-Proto, X-Forwarded-For). Cookies are carried by
hand, because an http client rightly keeps Secure cookies to itself."""

from __future__ import annotations

import json
from http.cookies import SimpleCookie

import httpx
import pytest
from websockets.sync.client import connect

from app.web.limits import LOGIN_ADDRESS_LIMIT
from tests.live import PASSWORD, LiveServer

HTTPS = {"X-Forwarded-Proto": "https"}


def _as_https(live: LiveServer) -> httpx.Client:
    """A client as the proxy forwards it: https outside, so an https Origin."""
    origin = live.url.replace("http://", "https://")
    return httpx.Client(base_url=live.url, headers={"Origin": origin, **HTTPS}, timeout=10)


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name: its attributes, lower-cased."""
    found: dict[str, str] = {}
    for header in response.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0]
        found[name] = header.lower()
    return found


def _value(response: httpx.Response, name: str) -> str:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return jar[name].value


def _sign_in(client: httpx.Client) -> httpx.Response:
    response = client.post("/api/session", json={"username": "fac", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response


@pytest.mark.live_settings(trusted_proxies="127.0.0.1")
def test_from_a_trusted_proxy_every_cookie_is_secure_and_host_only(
    live_server: LiveServer,
) -> None:
    with _as_https(live_server) as client:
        signed_in = _sign_in(client)
        session = _set_cookies(signed_in)
        assert list(session) == ["__Host-tt_session"], session
        attributes = session["__Host-tt_session"]
        assert "secure" in attributes and "path=/" in attributes and "domain" not in attributes
        secret = _value(signed_in, "__Host-tt_session")

        client.cookies.clear()
        page = client.get("/", headers={"Cookie": f"__Host-tt_session={secret}"})
        assert page.status_code == 200 and "Sign out" in page.text
        csrf = _set_cookies(page)
        assert list(csrf) == ["__Host-tt_csrf"], csrf
        assert "secure" in csrf["__Host-tt_csrf"] and "samesite=strict" in csrf["__Host-tt_csrf"]

        # The same secret under the unprefixed name is not read over https: a cookie
        # planted from plain http or a sibling host cannot stand in for the real one.
        planted = client.get("/api/scenarios", headers={"Cookie": f"tt_session={secret}"})
        assert planted.status_code == 401

        out = client.delete("/api/session", headers={"Cookie": f"__Host-tt_session={secret}"})
        assert out.status_code == 204
        expired = _set_cookies(out)["__Host-tt_session"]
        assert "secure" in expired and "max-age=0" in expired
        again = client.get("/api/scenarios", headers={"Cookie": f"__Host-tt_session={secret}"})
        assert again.status_code == 401

    # Over plain http (no forwarded scheme) the cookie is the plain one, and a
    # prefixed one is not read.
    plain = live_server.client()
    over_http = _sign_in(plain)
    assert list(_set_cookies(over_http)) == ["tt_session"]
    assert "secure" not in _set_cookies(over_http)["tt_session"]
    fresh = _value(over_http, "tt_session")
    plain.cookies.clear()
    prefixed = plain.get("/api/scenarios", headers={"Cookie": f"__Host-tt_session={fresh}"})
    assert prefixed.status_code == 401
    assert plain.get("/api/scenarios", headers={"Cookie": f"tt_session={fresh}"}).status_code == 200


@pytest.mark.live_settings(trusted_proxies="127.0.0.1")
def test_a_participant_joins_through_a_trusted_proxy(live_server: LiveServer) -> None:
    with _as_https(live_server) as client:
        secret = _value(_sign_in(client), "__Host-tt_session")
        fac = {"Cookie": f"__Host-tt_session={secret}"}
        created = client.post(
            "/api/drills", json={"scenario": "mini.yaml", "name": "Via proxy"}, headers=fac
        )
        assert created.status_code == 201, created.text
        drill = created.json()
        client.cookies.clear()
        joined = client.post(
            "/api/join", json={"code": drill["join_code"], "name": "Ana", "role": "legal"}
        )
        assert joined.status_code == 200, joined.text
        name = f"__Host-tt_p_{drill['id']}"
        assert list(_set_cookies(joined)) == [name]
        token = _value(joined, name)
        client.cookies.clear()
        events = client.get(
            f"/api/drills/{drill['id']}/events", headers={"Cookie": f"{name}={token}"}
        )
        assert events.status_code == 200
        # The websocket, as the proxy forwards it (wss outside): the same cookie opens it.
        headers = {"Origin": client.headers["Origin"], "Cookie": f"{name}={token}", **HTTPS}
        url = f"{live_server.ws_url}/ws/drills/{drill['id']}?since=0"
        with connect(url, additional_headers=headers, open_timeout=10) as sock:
            first = json.loads(sock.recv(10))
        assert first["type"] == "snapshot" and first["viewer"]["role"] == "legal", first


@pytest.mark.live_settings(trusted_proxies="10.9.9.9")
def test_forwarded_headers_from_an_untrusted_peer_are_ignored(live_server: LiveServer) -> None:
    """A peer that is not the configured proxy cannot claim https (its cookies stay
    plain-http ones) nor dodge the per-address throttle by inventing client addresses."""
    with _as_https(live_server) as client:
        refused = client.post("/api/session", json={"username": "fac", "password": PASSWORD})
        # Its https Origin does not match the http server it really reached.
        assert refused.status_code == 403
    with live_server.client() as client:
        session = _sign_in(client)
        assert list(_set_cookies(session)) == ["tt_session"]
        answers = []
        for n in range(LOGIN_ADDRESS_LIMIT + 1):
            client.cookies.clear()
            answers.append(
                client.post(
                    "/api/session",
                    json={"username": f"nobody{n}", "password": "wrong password"},
                    headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
                ).status_code
            )
        assert set(answers) == {401, 429}, answers
        assert answers[-1] == 429  # one address: the forwarded ones were not believed


@pytest.mark.live_settings(trusted_proxies="127.0.0.1")
def test_a_trusted_proxy_s_clients_are_throttled_one_by_one(live_server: LiveServer) -> None:
    """Behind the proxy, one client's wrong passwords do not lock out the room."""
    with live_server.client() as client:
        for n in range(LOGIN_ADDRESS_LIMIT + 1):
            wrong = client.post(
                "/api/session",
                json={"username": f"nobody{n}", "password": "wrong password"},
                headers={"X-Forwarded-For": "203.0.113.7"},
            )
        assert wrong.status_code == 429
        other = client.post(
            "/api/session",
            json={"username": "fac", "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.8"},
        )
        assert other.status_code == 200, other.text
