"""Links that carry a secret after "#", in real Chromium: the browser never sends that
part; the page's script copies it into the form and out of the address bar. The first-run
setup link (it creates the first account, an admin) and the drill's join link."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Request, expect

from tests.live import LiveServer, sign_in


def test_the_setup_link_fills_the_form_and_its_code_never_reaches_the_server(
    browser: Browser, fresh_server: LiveServer
) -> None:
    token = fresh_server.run(fresh_server.app.state.accounts.new_setup_token())
    page = browser.new_page()
    sent: list[str] = []

    def on_request(request: Request) -> None:
        sent.append(f"{request.url} {request.headers.get('referer', '')}")

    page.on("request", on_request)
    page.goto(f"{fresh_server.url}/setup#token={token}")
    expect(page.locator('input[name="token"]')).to_have_value(token)
    assert page.url == f"{fresh_server.url}/setup"  # the code left the address bar too
    page.fill('input[name="username"]', "first")
    page.fill('input[name="password"]', "a new password")
    page.fill('input[name="confirm"]', "a new password")
    page.click("button[type=submit]")
    expect(page.get_by_text("Scenario library")).to_be_visible()
    assert sent and not [line for line in sent if token in line]
    page.close()


def test_the_join_link_carries_its_code_in_no_url_the_server_sees(
    browser: Browser, live_server: LiveServer
) -> None:
    """The QR code's link has the drill's code after "#": the page's script posts it, so
    it reaches no access log, proxy or Referer; the address bar loses it too."""
    fac = sign_in(live_server)
    made = fac.post("/api/drills", json={"scenario": "mini.yaml", "name": "Linked"}).json()
    console = fac.get(f"/drills/{made['id']}/console").text
    link = re.search(r'id="join-link" href="([^"]+)"', console)
    assert link is not None and "#code=" in link.group(1)
    code = made["join_code"]
    page = browser.new_page(viewport={"width": 390, "height": 844})
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.url} {r.headers.get('referer', '')}"))
    page.goto(link.group(1))
    expect(page.get_by_label("Your name")).to_be_visible()  # the code was taken: roles next
    assert "#" not in page.url
    page.get_by_label("Your name").fill("Pat")
    page.locator(".role-choice").first.locator("input").check()
    page.get_by_role("button", name="Join drill").click()
    expect(page.locator("#conn")).to_have_text("Live")
    plain = code.replace("-", "")
    assert sent and not [line for line in sent if code in line or plain in line]
    page.close()
