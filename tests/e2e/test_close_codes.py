"""The drill pages take the websocket close codes from the server (app/realtime/codes.py,
rendered by app/web/client.py): a refusal stops the page and says why, any other close
reconnects. The socket is routed here so that each close can be chosen."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Browser, WebSocketRoute, expect

from app.realtime.codes import Close
from tests.browser import sign_in_page
from tests.live import LiveServer, sign_in

SOCKET = re.compile(r"/ws/drills/")


def _drill(live: LiveServer) -> str:
    created = sign_in(live).post("/api/drills", json={"scenario": "mini.yaml", "name": "Codes"})
    assert created.status_code == 201, created.text
    drill_id: str = created.json()["id"]
    return drill_id


def test_a_refusal_is_final_and_the_page_says_why(
    browser: Browser, live_server: LiveServer
) -> None:
    drill_id = _drill(live_server)
    page = sign_in_page(browser.new_page(), live_server)
    tries: list[str] = []

    def refuse(ws: WebSocketRoute) -> None:
        tries.append(ws.url)
        ws.close(code=Close.unauthorized, reason="join this drill first")

    page.route_web_socket(SOCKET, refuse)
    page.goto(f"{live_server.url}/drills/{drill_id}/console")
    constants = json.loads(page.locator("#tabletop-client").text_content() or "")
    assert constants == {"close": {code.name: int(code) for code in Close}}
    conn = page.locator("#conn")
    expect(conn).to_have_text("join this drill first")
    expect(conn).to_have_attribute("data-state", "refused")
    page.wait_for_timeout(2000)  # longer than the first backoff: no second try
    assert len(tries) == 1
    page.close()


def test_any_other_close_reconnects(browser: Browser, live_server: LiveServer) -> None:
    drill_id = _drill(live_server)
    page = sign_in_page(browser.new_page(), live_server)
    tries: list[str] = []

    def slow_then_through(ws: WebSocketRoute) -> None:
        tries.append(ws.url)
        if len(tries) == 1:
            ws.close(code=Close.too_slow, reason="too slow; reconnect with since to catch up")
        else:
            ws.connect_to_server()

    page.route_web_socket(SOCKET, slow_then_through)
    page.goto(f"{live_server.url}/drills/{drill_id}/console")
    expect(page.locator("#conn")).to_have_text("Live")
    assert len(tries) == 2
    page.close()
