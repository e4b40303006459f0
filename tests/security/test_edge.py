"""The server's edge, as a client and an operator see it: headers on every response (500s
included), no caching of what is private, downloads named in any language, a body cap
before anything is read, and data files only their owner can read."""

from __future__ import annotations

import asyncio
import socket
import stat
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi import Request

from app.config import Settings
from app.engine import commands as c
from app.services.runtime import open_service
from tests.live import FIXTURES, LiveServer, sign_in

NAME = 'Übung 北京 "quoted"'


def test_a_report_downloads_under_a_name_in_any_language(live_server: LiveServer) -> None:
    """`Übung 北京` made every download of its report answer 500."""
    fac = sign_in(live_server)
    drill = fac.post("/api/drills", json={"scenario": "mini.yaml", "name": NAME}).json()
    live_server.run(live_server.app.state.service.execute(drill["id"], c.EndDrill()))
    for fmt in ("md", "html", "json", "csv"):
        got = fac.get(f"/drills/{drill['id']}/report.{fmt}")
        assert got.status_code == 200, (fmt, got.text[:300])
        disposition = got.headers["content-disposition"]
        assert disposition.isascii()
        fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
        assert fallback.startswith("after-action-") and '"' not in fallback
        real = unquote(disposition.split("filename*=UTF-8''", 1)[1])
        assert "übung-北京" in real and real.endswith(f".{fmt}")


def test_every_response_carries_the_security_headers_even_a_500(live_server: LiveServer) -> None:
    async def broken(request: Request) -> None:
        raise RuntimeError("a bug, for this test")

    live_server.app.add_api_route("/test-only/broken", broken)
    failed = live_server.client().get("/test-only/broken")  # the server drops its connection
    assert failed.status_code == 500 and "a bug" not in failed.text
    client = live_server.client()
    for response in (failed, client.get("/login"), client.get("/api/scenarios")):
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cross-origin-opener-policy"] == "same-origin"
        assert "camera=()" in headers["permissions-policy"]
        assert headers["cache-control"] == "no-store"  # private: never kept in a cache
    static = client.get("/static/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")
    assert static.headers["x-content-type-options"] == "nosniff"


def test_a_signed_in_page_and_a_download_are_not_cached(live_server: LiveServer) -> None:
    fac = sign_in(live_server)
    assert fac.get("/").headers["cache-control"] == "no-store"
    assert fac.get("/api/drills").headers["cache-control"] == "no-store"


def _raw(live: LiveServer, request: bytes) -> bytes:
    """Send the bytes as they are, then read the answer until the server closes."""
    host, port = live.url.removeprefix("http://").split(":")
    answer = b""
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def test_an_oversized_body_is_refused_before_it_is_read(live_server: LiveServer) -> None:
    """A declared 30 MiB upload, unauthenticated, is answered 413 after its headers alone:
    the client never sends the body, and the answer still comes."""
    answer = _raw(
        live_server,
        b"POST /scenarios/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
        b"boundary=b\r\nContent-Length: 31457280\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"TABLETOP_MAX_BODY_MIB" in answer
    assert live_server.client().get("/healthz").status_code == 200


@pytest.mark.live_settings(max_body_mib=0.01)
def test_a_chunked_body_over_the_cap_is_refused(live_server: LiveServer) -> None:
    """No declared length: read up to the cap (10 KiB here), refused once past it. Small
    pieces: the server reads them at once, and has nothing unread when it closes."""
    piece = b"x" * 2600
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    head = b"POST /api/join HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    # The last chunk takes the body past the cap; nothing follows it, so the server has read
    # all it was sent when it answers and closes (unread bytes would make it reset).
    over = _raw(live_server, head + chunk * 5)
    assert over.startswith(b"HTTP/1.1 413"), over[:200]
    under = _raw(
        live_server,
        head.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") + chunk + b"0\r\n\r\n",
    )
    assert under.startswith(b"HTTP/1.1 403"), under[:200]  # on to the route: no Origin


@pytest.mark.parametrize("fresh", ["data", "deeper/data"])
def test_data_files_are_created_private(tmp_path: Path, fresh: str) -> None:
    settings = Settings(data_dir=tmp_path / fresh, scenarios_dir=FIXTURES)

    async def start() -> None:
        async with open_service(settings):
            pass

    asyncio.run(start())
    folder = settings.data_dir
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("tabletop.db", "secret_key"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name


@pytest.mark.live_settings(allowed_hosts=["127.0.0.1"], api_docs=False)
def test_production_settings_refuse_other_hosts_and_hide_the_api_docs(
    live_server: LiveServer,
) -> None:
    """A Host header naming another site would have put that site in the console's join
    link and QR code; the API's documentation advertises every route."""
    client = live_server.client()
    assert client.get("/login").status_code == 200
    forged = client.get("/login", headers={"Host": "evil.example"})
    assert forged.status_code == 400
    assert forged.headers["x-content-type-options"] == "nosniff"
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 404, path
    assert client.get("/asyncapi.json").status_code == 200  # the protocol stays documented
    # A drill's socket, served ahead of the routes, still passes the host check first.
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    refused = client.get("/ws/drills/some-drill", headers=upgrade | {"Host": "evil.example"})
    assert refused.status_code == 400 and "Invalid host header" in refused.text


def test_exports_neutralise_script_links_and_remote_images(live_server: LiveServer) -> None:
    """A reviewer's summary with a javascript: link and a tracking image: the Markdown
    kept both for whatever viewer opens the file next."""
    fac = sign_in(live_server)
    drill = fac.post("/api/drills", json={"scenario": "mini.yaml", "name": "Links"}).json()
    live_server.run(live_server.app.state.service.execute(drill["id"], c.EndDrill()))
    fac.get(f"/drills/{drill['id']}/report")
    hostile = (
        "Read [the runbook](javascript:alert(document.cookie)) and "
        "![pixel](https://tracker.example/p.png?who=ciso) or [the wiki](https://wiki.example)"
    )
    saved = fac.post(
        f"/drills/{drill['id']}/report/summary",
        data={"csrf": fac.cookies["tt_csrf"], "summary": hostile},
    )
    assert saved.status_code < 400, saved.text
    markdown = fac.get(f"/drills/{drill['id']}/report.md").text
    assert "Read the runbook and [image: pixel]" in markdown
    assert "[the wiki](https://wiki.example)" in markdown  # ordinary links stay
    assert "javascript:" not in markdown and "tracker.example" not in markdown
    html = fac.get(f"/drills/{drill['id']}/report.html").text  # the text shown as text
    assert 'href="javascript' not in html and 'src="https://tracker' not in html
