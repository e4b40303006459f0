"""A join link a phone can use: TABLETOP_PUBLIC_URL drives the console's link and QR code;
a loopback link says it will not work on a phone and how to fix it; `tabletop serve` says
where participants can join."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from app.cli.serve import _where_phones_join
from app.config import Settings
from app.web.join_link import is_loopback_host, join_link, lan_addresses
from tests.live import LiveServer, sign_in


def _console(live: LiveServer) -> str:
    facilitator = sign_in(live)
    created = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "Links"})
    assert created.status_code == 201, created.text
    return facilitator.get(f"/drills/{created.json()['id']}/console").text


def test_a_loopback_link_says_a_phone_cannot_open_it(live_server: LiveServer) -> None:
    page = _console(live_server)
    link = re.search(r'id="join-link" href="([^"]+)"', page)
    assert link is not None and link.group(1).startswith("http://127.0.0.1:")
    assert 'id="loopback-warning"' in page
    assert "tabletop serve --host 0.0.0.0" in page and "TABLETOP_PUBLIC_URL" in page


@pytest.mark.live_settings(public_url="http://192.0.2.10:8000/")
def test_the_public_url_is_the_link_and_the_qr_code(live_server: LiveServer) -> None:
    page = _console(live_server)
    link = re.search(r'id="join-link" href="([^"]+)"', page)
    assert link is not None
    assert re.fullmatch(
        r"http://192\.0\.2\.10:8000/join#code=[A-Z0-9]{5}-[A-Z0-9]{5}", link.group(1)
    )
    assert 'id="loopback-warning"' not in page


def test_loopback_hosts_are_recognised() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"):
        assert is_loopback_host(host), host
    for host in ("192.168.1.20", "drills.example.org", "0.0.0.0"):
        assert not is_loopback_host(host), host
    assert join_link("", "http://localhost:8000/", "AB").loopback
    assert not join_link("https://drills.example.org", "http://127.0.0.1:8000/", "AB").loopback


def test_a_bad_public_url_is_refused_with_what_to_write() -> None:
    with pytest.raises(ValidationError, match=r"http or https address such as"):
        Settings(public_url="192.168.1.20:8000")
    assert Settings(public_url="http://192.168.1.20:8000/").public_url == "http://192.168.1.20:8000"


def test_serve_says_where_phones_join() -> None:
    (local,) = _where_phones_join("", "127.0.0.1", 8000)
    assert "phones and other computers cannot join" in local and "--host 0.0.0.0" in local
    (public,) = _where_phones_join("https://drills.example.org", "0.0.0.0", 8000)
    assert public == "Participants join at https://drills.example.org/join (TABLETOP_PUBLIC_URL)"
    (wide,) = _where_phones_join("", "0.0.0.0", 8123)
    addresses = lan_addresses()
    if addresses:  # this machine's own interfaces, read locally
        assert f"http://{addresses[0]}:8123/join" in wide
        assert f"TABLETOP_PUBLIC_URL=http://{addresses[0]}:8123" in wide
    else:
        assert "No network address found" in wide
    assert all(not is_loopback_host(a) for a in addresses)
