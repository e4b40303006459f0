"""Accounts and drill owners in real Chromium: an admin makes an account and hands over its
one-time link, the new facilitator chooses a password and opens the owner's console,
refused until the owner adds them from it; then the admin disables them."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from app.services.accounts import AccountRole
from tests.axe import assert_accessible
from tests.browser import sign_in_page
from tests.live import LiveServer, sign_in

SCREENS = Path("/tmp/tabletop-e2e-screens")
ADMIN_PASSWORD = "the admin's own pass phrase"
NEW_PASSWORD = "jo runs the autumn drill"


def _sign_in_as(page: Page, live: LiveServer, username: str, password: str) -> None:
    page.goto(f"{live.url}/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live.url}/")


def test_an_account_from_its_link_to_a_refused_then_shared_console(
    browser: Browser, live_server: LiveServer
) -> None:
    live = live_server
    SCREENS.mkdir(exist_ok=True)
    live.run(live.app.state.accounts.create_user("boss", ADMIN_PASSWORD, AccountRole.admin))
    made = sign_in(live).post("/api/drills", json={"scenario": "mini.yaml", "name": "Autumn"})
    drill_id = made.json()["id"]

    admin = browser.new_page(viewport={"width": 1280, "height": 900})
    admin.set_default_timeout(10_000)
    _sign_in_as(admin, live, "boss", ADMIN_PASSWORD)
    admin.get_by_role("link", name="Accounts").click()
    admin.get_by_label("User name").fill("jo")
    admin.get_by_role("button", name="Create account").click()
    link_box = admin.get_by_label("One-time link for jo")
    expect(link_box).to_be_visible()
    link = link_box.input_value()
    assert re.fullmatch(rf"{re.escape(live.url)}/setup#token=[\w-]+", link)
    assert_accessible(admin, "accounts page")
    admin.screenshot(path=str(SCREENS / "accounts-created.png"), full_page=True)

    jo = browser.new_page(viewport={"width": 390, "height": 844})
    jo.set_default_timeout(10_000)
    jo.goto(link)
    jo.get_by_label("User name").fill("jo")
    jo.get_by_label("Password (10 characters").fill(NEW_PASSWORD)
    jo.get_by_label("The same password again").fill(NEW_PASSWORD)
    jo.get_by_role("button", name="Save and sign in").click()
    expect(jo).to_have_url(f"{live.url}/")
    expect(jo.get_by_text("Autumn")).to_have_count(0)  # not jo's drill

    jo.goto(f"{live.url}/drills/{drill_id}/console")
    expect(jo.get_by_text("this drill is run by fac")).to_be_visible()
    jo.screenshot(path=str(SCREENS / "console-refused.png"), full_page=True)

    owner = browser.new_page(viewport={"width": 1280, "height": 1000})
    owner.set_default_timeout(10_000)
    sign_in_page(owner, live)
    owner.goto(f"{live.url}/drills/{drill_id}/console")
    owner.get_by_label("Co-facilitator's user name").fill("jo")
    owner.get_by_role("button", name="Add", exact=True).click()
    expect(owner.locator(".facilitators")).to_contain_text("jo")
    owner.locator(".facilitators").screenshot(path=str(SCREENS / "console-facilitators.png"))

    jo.goto(f"{live.url}/drills/{drill_id}/console")
    expect(jo.locator("#conn")).to_have_text("Live")

    admin.goto(f"{live.url}/admin/accounts")
    admin.get_by_role("button", name="Disable jo").click()
    expect(admin.get_by_text("jo is disabled.")).to_be_visible()
    expect(jo.locator("#conn")).not_to_have_text("Live")  # its socket closed at once
    admin.goto(f"{live.url}/admin/audit")
    expect(admin.locator("tbody")).to_contain_text("account disabled")
    admin.screenshot(path=str(SCREENS / "audit.png"), full_page=True)
    for page in (admin, jo, owner):
        page.close()
