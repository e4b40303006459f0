"""The first-run setup link in real Chromium: its code rides after "#", which the browser
never sends, is copied into the form by the page's script and out of the address bar, and
creates the first account (an admin)."""

from __future__ import annotations

from playwright.sync_api import Browser, Request, expect

from tests.live import LiveServer


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
