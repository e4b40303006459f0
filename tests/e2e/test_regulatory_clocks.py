"""The regulatory clocks panel, in real Chromium: the console shows every GDPR duty's
clock counting down in story and real time; legal, whom the scenario names for the GDPR,
sees the same panel on a phone, and it turns to "Filed on time" when the regulator is
told; a role the scenario does not name never gets the panel."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from app.engine import commands as c
from app.services.drills import DrillService
from tests.axe import assert_accessible
from tests.browser import device, join_page, sign_in_page
from tests.live import LiveServer, sign_in

SCREENS = Path("/tmp/tabletop-e2e-screens")
SCENARIOS = Path(__file__).parents[2] / "scenarios"
LEFT = re.compile(r"^\d+ h( \d\d min)? left \(\d+:\d\d(:\d\d)? real\), due T\+\d\d:\d\d")


@pytest.mark.live_settings(scenarios_dir=SCENARIOS)
def test_the_gdpr_clocks_on_the_console_and_on_legal_s_phone(
    browser: Browser, live_server: LiveServer
) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    service: DrillService = live_server.app.state.service
    created = sign_in(live_server).post(
        "/api/drills", json={"scenario": "customer-database-theft.yaml", "name": "Black Friday"}
    )
    assert created.status_code == 201, created.text
    drill_id, code = created.json()["id"], created.json()["join_code"]
    phone = device(browser, 390, 844).new_page()
    join_page(phone, live_server, code, "Lee Legal", "Legal")
    hr = device(browser, 390, 844).new_page()
    join_page(hr, live_server, code, "Hal HR", "HR")
    console = browser.new_page(viewport={"width": 1280, "height": 1000})
    console.set_default_timeout(10_000)
    sign_in_page(console, live_server)
    console.goto(f"{live_server.url}/drills/{drill_id}/console")
    expect(console.locator("#conn")).to_have_text("Live")

    duties = console.locator("#regulatory .duty")
    expect(duties).to_have_count(2)
    expect(duties.first).to_contain_text("GDPR: Notify the supervisory authority")
    expect(duties.first.locator(".duty-head .chip")).to_have_text("Not started")

    live_server.run(service.execute(drill_id, c.StartClock(confirm_unfilled=True)))
    live_server.run(service.execute(drill_id, c.FireInject("scoping-personal-data")))
    for page in (console, phone):
        first = page.locator("#regulatory .duty").first
        expect(first.locator(".duty-head .chip")).to_have_text("Running")
        expect(first.locator(".duty-when")).to_have_text(LEFT)
    expect(hr.locator("#regulatory")).to_have_count(0)  # HR is not named for the GDPR
    phone.screenshot(path=str(SCREENS / "60-regulatory-phone-running.png"), full_page=True)
    assert_accessible(console, "the console with regulatory clocks")
    assert_accessible(phone, "legal's page with regulatory clocks", "Skip to decisions")

    notice = c.SendMessage(["regulator"], "Art. 33 notification, first phase.", from_role="legal")
    live_server.run(service.execute(drill_id, notice))
    for page in (console, phone):
        first = page.locator("#regulatory .duty").first
        expect(first.locator(".duty-head .chip")).to_have_text("Filed on time")
        expect(first.locator(".duty-when")).to_contain_text("Filed ")
        # The people affected are still owed their notice.
        people = page.locator("#regulatory .duty").nth(1)
        expect(people.locator(".duty-head .chip")).to_have_text("Running")
    # A message is not the form: on time, but none of the Art. 33(3) fields filled in.
    expect(console.locator("#regulatory .duty").first.locator("summary")).to_have_text(
        "Notice: a free-text message by Legal counsel, 0 of 8 fields"
    )
    console.screenshot(path=str(SCREENS / "61-regulatory-console-filed.png"), full_page=True)
    phone.screenshot(path=str(SCREENS / "62-regulatory-phone-filed.png"), full_page=True)
    for page in (console, phone, hr):
        page.close()
