"""A drill at x120, as a team meets it: one participant on a phone (390 px), one on a
tablet (820 px). At that speed the ransom decision's 30 story minutes are 15 real seconds:
the countdown must say so, warn, freeze while paused, and nothing new may land unseen.

Screenshots go to SCREENS for a human to look at."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from app.engine import commands as c
from app.engine.scenario import Channel, Severity
from app.services.drills import DrillService
from tests.browser import device, join_page, real_seconds_left, sign_in_page
from tests.live import LiveServer, join, sign_in

SCREENS = Path("/tmp/tabletop-e2e-screens")


def _in_view(page: Page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    viewport = page.viewport_size
    assert viewport is not None
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]


def test_a_drill_at_x120_on_a_phone_and_a_tablet(browser: Browser, live_server: LiveServer) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    service: DrillService = live_server.app.state.service
    fac = sign_in(live_server)
    created = fac.post(
        "/api/drills", json={"scenario": "mini.yaml", "name": "Night shift", "speed": 120}
    )
    assert created.status_code == 201, created.text
    drill_id, code = created.json()["id"], created.json()["join_code"]
    join(live_server, code, "Ian Manager", "incident_manager")  # the required role

    phone = device(browser, 390, 844).new_page()
    tablet = device(browser, 820, 1180).new_page()
    join_page(phone, live_server, code, "Eve Exec", "Executive")
    join_page(tablet, live_server, code, "Lee Legal", "Legal")

    # In the lobby the briefing comes first: the role card and the schedule at x120.
    expect(phone.get_by_role("tab", name="Briefing")).to_have_attribute("aria-selected", "true")
    card = phone.locator(".role-card")
    expect(card).to_contain_text("Your role: Executive sponsor (CISO)")
    expect(card).to_contain_text("Data protection authority")
    expect(phone.locator("#real-length")).to_have_text("2 min")  # 4 story hours at x120
    phone.screenshot(path=str(SCREENS / "30-phone-lobby-briefing.png"), full_page=True)

    console = sign_in_page(device(browser, 1280, 1000).new_page(), live_server)
    console.goto(f"{live_server.url}/drills/{drill_id}/console")
    console.get_by_role("button", name="Start").click()
    expect(phone.get_by_role("tab", name="Inbox and decisions")).to_have_attribute(
        "aria-selected", "true"
    )
    # The facilitator fires the ransom note from "up next" rather than wait for T+10m.
    note = console.locator(".upnext-item", has_text="Ransom note")
    expect(note).to_contain_text("T+00:10")
    note.get_by_role("button", name="Fire now").click()
    # At x120 the decision's 30 story minutes are 15 real seconds.
    decision = phone.locator(".decision.open", has_text="Pay the ransom?")
    expect(decision).to_be_visible()
    waiting = console.locator(".open-decision", has_text="Pay the ransom?")
    expect(waiting.locator(".answers li.waiting")).to_contain_text("Executive sponsor (CISO)")
    left = real_seconds_left(phone)
    assert 0 < left <= 15, left
    expect(decision.locator(".countdown-due")).to_contain_text(re.compile(r"due T\+00:[34]\d"))
    # Under 15 real seconds it is urgent, and said so to screen readers.
    expect(decision.locator(".countdown")).to_have_class(re.compile(r"\burgent\b"))
    expect(phone.locator("#urgent-announce")).to_contain_text("15 seconds left")
    phone.screenshot(path=str(SCREENS / "31-phone-decision-x120.png"))

    # A pause freezes every countdown and says so on every screen.
    console.get_by_role("button", name="Pause").click()
    expect(console.locator("#paused")).to_be_visible()
    expect(phone.locator("#paused")).to_be_visible()
    expect(tablet.locator("#paused")).to_be_visible()
    expect(phone.locator(".decision.open .countdown-left")).to_contain_text("(paused)")
    frozen = phone.locator(".decision.open .countdown-left").inner_text()
    time.sleep(1.5)
    assert phone.locator(".decision.open .countdown-left").inner_text() == frozen

    # Something lands while the phone is scrolled down to the composer: it is announced
    # where the participant is looking, and one tap brings it into view.
    phone.locator("#composer").scroll_into_view_if_needed()
    inject = c.ManualInject(
        "Board chair calls", "Is this in the press?", ["executive"], Channel.phone, Severity.high
    )
    live_server.run(service.execute(drill_id, inject))
    alert = phone.locator("#new-alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("3 new in your inbox")  # two unread before it
    assert _in_view(phone, "#new-alert")
    phone.screenshot(path=str(SCREENS / "32-phone-new-alert.png"))
    alert.tap()
    expect(phone.locator(".msg", has_text="Board chair calls")).to_be_in_viewport()

    console.get_by_role("button", name="Resume").click()
    expect(phone.locator("#paused")).to_be_hidden()
    decision.get_by_role("button", name="Refuse").tap()
    # The facilitator sees who answered what.
    answered = console.locator("#feed [data-type=decision_answered]")
    expect(answered).to_contain_text("Eve Exec")
    expect(answered).to_contain_text("Executive sponsor (CISO) chose Refuse in ")
    # The score panel follows the answer (Refuse is worth 10 of 10) before the screenshot,
    # so the picture never shows a score the drill has moved past.
    decisions = console.locator("#score-dimensions li", has_text="Decisions")
    expect(decisions).to_contain_text("10 / 10")
    console.screenshot(path=str(SCREENS / "35-console-x120.png"), full_page=True)
    # Answered, the decision shrinks to one line below anything still open.
    closed = phone.locator(".decision.collapsed")
    expect(closed).to_contain_text("You answered: Refuse")
    expect(closed.locator(".options")).to_be_hidden()

    # The tablet: legal's Briefing tab opens during play; its composer asks before
    # sending a drawer text with its blanks still in.
    tablet.get_by_role("tab", name="Briefing").click()
    expect(tablet.locator(".role-card")).to_contain_text("Your role: Legal counsel")
    tablet.get_by_role("tab", name="Inbox and decisions").click()
    composer = tablet.locator("#composer")
    composer.locator(".chip", has_text="Data protection authority").locator("input").check()
    composer.get_by_label("Subject").fill("Initial notice")
    composer.get_by_label("Message", exact=True).fill("Awareness: [date, time]. Records: ____.")
    expect(tablet.locator("#blanks-note")).to_contain_text("2 blanks left to fill in")
    composer.get_by_role("button", name="Send").click()
    expect(tablet.locator("#composer-error")).to_contain_text("still has blanks")
    expect(tablet.locator(".sent-item")).to_have_count(0)
    composer.get_by_role("button", name="Send with blanks").click()
    expect(tablet.locator(".sent-item", has_text="Initial notice")).to_be_visible()
    tablet.screenshot(path=str(SCREENS / "33-tablet-legal.png"), full_page=True)
    phone.screenshot(path=str(SCREENS / "34-phone-after.png"), full_page=True)
