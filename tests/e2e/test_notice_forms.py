"""A GDPR notification drafted, signed off and filed for real, in Chromium: legal fills in
the Art. 33(3) form on a phone-width screen, the executive (on a second phone) sees who
wrote what and signs it off, legal files it with the regulator; both panels and the
console show it filed with all its required fields complete, the facilitator sees each
field judged, and the report says the same."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from app.engine import commands as c
from app.services.drills import DrillService
from tests.axe import assert_accessible
from tests.browser import console_page, device, join_page
from tests.live import LiveServer, sign_in

SCREENS = Path("/tmp/tabletop-e2e-screens")
SCENARIOS = Path(__file__).parents[2] / "scenarios"

ART_33 = {
    "Nature of the breach": "An intruder copied the customer database on 27 November",
    "Categories of people concerned": "Customers of the web shop",
    "Approximate number of people concerned": "about 2.3 million",
    "Categories of personal-data records concerned": "Names, addresses, order history, cards",
    "Approximate number of records concerned": "2,300,000",
    "Name and contact of the DPO or other contact point": "dpo@shop.example, +353 1 555 0100",
    "Likely consequences of the breach": "Phishing and card fraud aimed at customers",
    "Measures taken or proposed, including to mitigate its effects": "Access cut, cards "
    "blocked with the acquirer, customers to be told",
}


@pytest.mark.live_settings(scenarios_dir=SCENARIOS)
def test_legal_drafts_the_executive_signs_off_and_the_filing_shows_everywhere(
    browser: Browser, live_server: LiveServer
) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    service: DrillService = live_server.app.state.service
    facilitator = sign_in(live_server)
    created = facilitator.post(
        "/api/drills", json={"scenario": "customer-database-theft.yaml", "name": "Art. 33"}
    )
    assert created.status_code == 201, created.text
    drill_id, code = created.json()["id"], created.json()["join_code"]
    legal = device(browser, 390, 844).new_page()
    join_page(legal, live_server, code, "Lee Legal", "Legal counsel")
    executive = device(browser, 390, 844).new_page()
    join_page(executive, live_server, code, "Eve Exec", "Executive sponsor")
    console = console_page(browser, live_server, drill_id)
    live_server.run(service.execute(drill_id, c.StartClock(confirm_unfilled=True)))
    live_server.run(service.execute(drill_id, c.FireInject("scoping-personal-data")))

    # Legal opens the form and writes every required field, then saves.
    duty = legal.locator("#regulatory .duty").first
    expect(duty.locator(".chip").first).to_have_text("Running")
    # The message composer points a note to the regulator at the form instead.
    regulator = legal.locator("#recipients-parties label", has_text="Data Protection Commission")
    regulator.locator("input").check()
    expect(legal.locator("#notice-hint")).to_contain_text(
        "Data Protection Commission is owed GDPR: Notify the supervisory authority: file it "
        "with its form under Regulatory clocks"
    )
    regulator.locator("input").uncheck()
    expect(legal.locator("#notice-hint")).to_be_hidden()
    duty.locator("summary").click()
    for label, text in ART_33.items():
        duty.get_by_label(label, exact=True).fill(text)
    duty.get_by_role("button", name="Save draft").click()
    expect(duty.locator("summary")).to_have_text("Notice form: 8 of 8 required fields written")
    # Filing before the sign-off is refused, with who must sign.
    duty.get_by_role("button", name="File with Data Protection Commission").click()
    expect(duty.locator(".alert")).to_have_text(
        "Executive sponsor (CISO) must sign off the notice as it stands before it is filed"
    )
    legal.screenshot(path=str(SCREENS / "63-notice-legal-drafting.png"), full_page=True)
    assert_accessible(legal, "legal's page with the notice form", "Skip to decisions")

    # The executive sees the draft as legal left it, and who wrote it, and signs it off.
    on_exec = executive.locator("#regulatory .duty").first
    on_exec.locator("summary").click()
    nature = on_exec.get_by_label("Nature of the breach", exact=True)
    expect(nature).to_have_value(ART_33["Nature of the breach"])
    expect(on_exec.locator(".field").first).to_contain_text("last written by Legal counsel")
    on_exec.get_by_role("button", name="Sign off").click()
    expect(on_exec.locator(".notice-status")).to_have_text(
        "Signed off by Executive sponsor (CISO)."
    )
    executive.screenshot(path=str(SCREENS / "64-notice-executive-signed.png"), full_page=True)

    # Legal's screen learns of the sign-off by itself; filing now goes through.
    expect(duty.locator(".notice-status")).to_have_text("Signed off by Executive sponsor (CISO).")
    duty.get_by_role("button", name="File with Data Protection Commission").click()
    for page in (legal, executive, console):
        first = page.locator("#regulatory .duty").first
        expect(first.locator(".duty-head .chip")).to_have_text("Filed on time")
    # How complete it was is a score: the facilitator sees it now, the team once released.
    expect(console.locator("#regulatory .duty").first.locator("summary")).to_have_text(
        "Notice filed by Legal counsel: 8 of 8 required fields complete"
    )
    for page in (legal, executive):
        summary = page.locator("#regulatory .duty").first.locator("summary")
        expect(summary).to_have_text("Notice filed by Legal counsel")
    # The facilitator sees each field judged: the figures against the 2.3 million known.
    on_console = console.locator("#regulatory .duty").first
    on_console.locator("summary").click()
    expect(on_console.locator(".notice-fields")).to_contain_text(
        "2,300,000, in line with the 2,300,000 known"
    )
    expect(on_console.locator(".chip-field-bad")).to_have_count(0)
    # The facilitator overrides one field, with the reason the report will show.
    console.once("dialog", lambda dialog: dialog.accept("Says nothing about card fraud"))
    consequences = on_console.locator("dd").nth(6)
    consequences.get_by_role("button", name="Rate incomplete").click()
    expect(on_console.locator("summary")).to_have_text(
        "Notice filed by Legal counsel: 7 of 8 required fields complete"
    )
    expect(consequences).to_contain_text("rated by the facilitator: Says nothing about card fraud")
    legal.screenshot(path=str(SCREENS / "65-notice-legal-filed.png"), full_page=True)
    console.screenshot(path=str(SCREENS / "66-notice-console-filed.png"), full_page=True)
    on_console.screenshot(path=str(SCREENS / "67-notice-console-judged.png"))
    assert_accessible(console, "the console with a filed notice")

    live_server.run(service.execute(drill_id, c.EndDrill()))
    live_server.run(service.execute(drill_id, c.ReleaseScores()))
    expect(legal.locator("#regulatory .duty").first.locator("summary")).to_have_text(
        "Notice filed by Legal counsel: 7 of 8 required fields complete"
    )
    legal.screenshot(path=str(SCREENS / "68-notice-legal-after-release.png"), full_page=True)
    report = facilitator.get(f"/drills/{drill_id}/report")
    assert report.status_code == 200, report.text
    assert (
        "Filed: GDPR, Notify the supervisory authority, by Legal counsel, signed off by "
        "Executive sponsor (CISO): 7 of 8 required fields complete"
    ) in report.text
    assert "rated by the facilitator: Says nothing about card fraud" in report.text
    assert "An intruder copied the customer database on 27 November" in report.text
    for page in (legal, executive, console):
        page.close()
