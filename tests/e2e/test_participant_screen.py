"""The participant's screen during a live drill, in Chromium at phone (390 px) and tablet
(820 px) width: countdowns in real time that follow the facilitator's speed and pause at
once, decisions that collapse once answered and open again on a tap, recipients grouped
into the team and outside parties, a skip link, and a briefing an observer can read with
every {{variable}} filled and no facilitator note.

Screenshots go to SHOTS for a human to look at."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from app.authoring.loader import load_scenario_file
from app.engine import commands as c
from app.services.drills import DrillService
from tests.browser import console_page, device, join_page, real_seconds_left
from tests.live import LiveServer, join, sign_in

SHOTS = Path("/tmp/shots")
RANSOMWARE = Path(__file__).resolve().parents[2] / "scenarios" / "ransomware-holiday-weekend.yaml"


def _fits_the_width(page: Page) -> bool:
    """No sideways scrolling: nothing wider than the screen."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_countdowns_follow_speed_and_pause_and_answered_decisions_fold(
    browser: Browser, live_server: LiveServer
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    service: DrillService = live_server.app.state.service
    created = sign_in(live_server).post(
        "/api/drills", json={"scenario": "mini.yaml", "name": "Night shift", "speed": 120}
    )
    assert created.status_code == 201, created.text
    drill_id, code = created.json()["id"], created.json()["join_code"]
    join(live_server, code, "Ian Manager", "incident_manager")
    phone = device(browser, 390, 844).new_page()
    tablet = device(browser, 820, 1180).new_page()
    join_page(phone, live_server, code, "Eve Exec", "Executive")
    join_page(tablet, live_server, code, "Lee Legal", "Legal")

    live_server.run(service.execute(drill_id, c.StartClock(confirm_unfilled=True)))
    live_server.run(service.execute(drill_id, c.FireInject("note")))
    decision = phone.locator(".decision.open", has_text="Pay the ransom?")
    expect(decision).to_be_visible()
    # 30 story minutes at x120 are 15 real seconds: urgent from the first moment.
    assert 0 < real_seconds_left(phone) <= 15
    expect(decision.locator(".countdown")).to_have_class(re.compile(r"\burgent\b"))

    # The facilitator slows the story to x30: the same deadline is now four times as far
    # in real time, and the countdown says so at once (no reload, no waiting).
    live_server.run(service.execute(drill_id, c.SetSpeed(30)))
    expect(decision.locator(".countdown")).not_to_have_class(re.compile(r"\burgent\b"))
    slowed = real_seconds_left(phone)
    assert 15 < slowed <= 60, slowed
    expect(decision.locator(".countdown")).to_have_class(re.compile(r"\bwarn\b"))
    # Opened past both thresholds: screen readers hear the tighter one.
    expect(phone.locator("#urgent-announce")).to_have_text("15 seconds left: Pay the ransom?")
    phone.screenshot(path=str(SHOTS / "phone-390-countdown-x30.png"))

    # A pause freezes the countdown under a banner on every screen.
    live_server.run(service.execute(drill_id, c.PauseClock()))
    for page in (phone, tablet):
        expect(page.locator("#paused")).to_be_visible()
        expect(page.locator("#paused")).to_contain_text("Paused by the facilitator")
    expect(decision.locator(".countdown-left")).to_contain_text("(paused)")
    frozen = decision.locator(".countdown-left").inner_text()
    time.sleep(1.5)
    assert decision.locator(".countdown-left").inner_text() == frozen
    phone.screenshot(path=str(SHOTS / "phone-390-paused.png"))
    live_server.run(service.execute(drill_id, c.ResumeClock()))
    expect(phone.locator("#paused")).to_be_hidden()
    expect(decision.locator(".countdown-left")).not_to_contain_text("(paused)")
    resumed = real_seconds_left(phone)
    time.sleep(1.5)
    assert real_seconds_left(phone) < resumed  # ticking again

    # The skip link lands on the decisions.
    phone.locator("a.skip", has_text="Skip to decisions").focus()
    phone.keyboard.press("Enter")
    expect(phone.locator("#decisions-card")).to_be_focused()

    # Answered, the decision folds to one line; a tap opens it again to read.
    decision.get_by_role("button", name="Refuse").tap()
    closed = phone.locator(".decision.collapsed", has_text="Pay the ransom?")
    expect(closed.locator(".options")).to_be_hidden()
    summary = phone.locator(".decision.closed .decision-summary")
    expect(summary).to_contain_text("You answered: Refuse")
    box = closed.bounding_box()
    assert box is not None and box["height"] < 90, box  # one line, not the whole card
    phone.screenshot(path=str(SHOTS / "phone-390-collapsed.png"))
    summary.tap()
    expect(phone.locator(".decision.closed .options")).to_be_visible()
    expect(summary).to_have_attribute("aria-expanded", "true")

    # The tablet's composer: the team and the outside parties, each under its own name.
    team = tablet.get_by_role("group", name="Team")
    expect(team).to_contain_text("Incident manager")
    expect(team).not_to_contain_text("Data protection authority")
    expect(tablet.get_by_role("group", name="Outside parties")).to_contain_text(
        "Data protection authority"
    )
    assert _fits_the_width(tablet) and _fits_the_width(phone)
    tablet.screenshot(path=str(SHOTS / "tablet-820-play.png"), full_page=True)
    phone.screenshot(path=str(SHOTS / "phone-390-play.png"), full_page=True)


@pytest.mark.live_settings(scenarios_dir=RANSOMWARE.parent)
def test_an_observer_reads_the_filled_briefing_and_schedule_but_no_facilitator_note(
    browser: Browser, live_server: LiveServer
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    loaded = load_scenario_file(RANSOMWARE)
    assert loaded.scenario is not None
    scenario = loaded.scenario
    created = sign_in(live_server).post(
        "/api/drills",
        json={"scenario": RANSOMWARE.name, "name": "Xmas", "speed": 60},
    )
    assert created.status_code == 201, created.text
    code = created.json()["join_code"]
    observer = device(browser, 390, 844).new_page()
    legal = device(browser, 820, 1180).new_page()
    join_page(observer, live_server, code, "Olga Observer", "Observer")
    join_page(legal, live_server, code, "Lee Legal", "Legal")

    panel = observer.locator("#panel-briefing")
    expect(observer.get_by_role("tab", name="Briefing")).to_have_attribute("aria-selected", "true")
    org = scenario.variables["org_name"].default
    expect(panel).to_contain_text(f"{org} runs contract logistics")
    expect(panel).to_contain_text(scenario.variables["im_name"].default)
    expect(panel).to_contain_text("Thu 24 Dec 2026, 22:40 (Europe/Amsterdam)")
    # 28 story hours at x60 are 28 real minutes.
    expect(observer.locator("#real-length")).to_have_text("28 min")
    expect(panel.locator(".role-card")).to_have_count(0)  # an observer plays no role
    text = observer.locator("body").inner_text()
    assert "{{" not in text
    assert scenario.notes and "Facilitator guide" in scenario.notes
    assert "Facilitator guide" not in text
    observer.screenshot(path=str(SHOTS / "phone-390-observer-briefing.png"), full_page=True)

    card = legal.locator(".role-card")
    expect(card).to_contain_text("Your role: Legal counsel")
    expect(card).to_contain_text("owns notifications, the insurer and law enforcement")
    expect(card).to_contain_text("Your backup")
    expect(card).to_contain_text(scenario.role_title("executive"))
    first_party = next(iter(scenario.parties.values()))
    expect(card).to_contain_text(first_party.name.replace("{{org_name}}", org))
    # The role card's long lists (the whole team, every party) stay inside their card.
    assert _fits_the_width(legal) and _fits_the_width(observer)
    legal.screenshot(path=str(SHOTS / "tablet-820-briefing.png"), full_page=True)


@pytest.mark.live_settings(scenarios_dir=RANSOMWARE.parent)
def test_a_drawer_statement_with_blanks_is_sent_only_on_a_second_explicit_choice(
    browser: Browser, live_server: LiveServer
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    service: DrillService = live_server.app.state.service
    created = sign_in(live_server).post(
        "/api/drills", json={"scenario": "ceo-fraud-wire-transfer.yaml", "name": "Wire"}
    )
    assert created.status_code == 201, created.text
    drill_id, code = created.json()["id"], created.json()["join_code"]
    phone = device(browser, 390, 844).new_page()
    join_page(phone, live_server, code, "Lee Legal", "Legal")
    live_server.run(service.execute(drill_id, c.StartClock(confirm_unfilled=True)))
    expect(phone.get_by_role("tab", name="Inbox and decisions")).to_have_attribute(
        "aria-selected", "true"
    )

    composer = phone.locator("#composer")
    composer.get_by_label("Start from").select_option(value="recall-request")
    note = phone.locator("#blanks-note")
    expect(note).to_contain_text("blanks left to fill in")
    expect(note.locator("mark.blank", has_text="[date]")).to_be_visible()
    expect(note.locator("mark.blank", has_text="[name, mobile]")).to_be_visible()
    # The drawer fills its own variables: the bank's name and the amount, never {{...}}.
    body = composer.get_by_label("Message", exact=True).input_value()
    assert "{{" not in body and "Amount: " in body
    phone.screenshot(path=str(SHOTS / "phone-390-blanks.png"), full_page=True)

    composer.get_by_role("button", name="Send").click()
    expect(phone.locator("#composer-error")).to_contain_text("still has blanks")
    expect(phone.locator(".sent-item")).to_have_count(0)  # the first click sent nothing
    composer.get_by_role("button", name="Send with blanks").click()
    expect(phone.locator(".sent-item", has_text="Wire recall")).to_be_visible()


def _ransomware_on_a_phone(
    browser: Browser, live_server: LiveServer, name: str, role: str
) -> tuple[str, Page]:
    """The shipped ransomware drill at x60, one participant joined as `role` (by id: two
    role titles hold "Incident manager") on a 390 px phone, the clock started."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    service: DrillService = live_server.app.state.service
    created = sign_in(live_server).post(
        "/api/drills", json={"scenario": RANSOMWARE.name, "name": "Xmas", "speed": 60}
    )
    assert created.status_code == 201, created.text
    drill_id, code = created.json()["id"], created.json()["join_code"]
    phone = device(browser, 390, 844).new_page()
    phone.goto(f"{live_server.url}/join#code={code}")
    phone.get_by_label("Your name").fill(name)
    phone.locator(f"input[name=role][value={role}]").check()
    phone.get_by_role("button", name="Join drill").click()
    expect(phone.locator("#conn")).to_have_text("Live")
    live_server.run(service.execute(drill_id, c.StartClock(confirm_unfilled=True)))
    return drill_id, phone


@pytest.mark.live_settings(scenarios_dir=RANSOMWARE.parent)
def test_a_role_out_of_reach_in_the_story_is_told_so_and_who_acts_for_it(
    browser: Browser, live_server: LiveServer
) -> None:
    """The ransomware story makes the incident manager unreachable at 23:05: their player
    is told who acts for them and cannot send (the server would refuse), until the story
    brings them back; an empty inbox alone would look like a broken screen."""
    service: DrillService = live_server.app.state.service
    drill_id, phone = _ransomware_on_a_phone(
        browser, live_server, "Ian Manager", "incident_manager"
    )
    away = phone.locator("#away")
    expect(away).to_be_hidden()
    expect(phone.locator("#send-button")).to_be_enabled()

    live_server.run(service.execute(drill_id, c.FireInject("im-unreachable")))
    expect(away).to_be_visible()
    expect(away).to_contain_text(
        "In the story you cannot be reached right now: Central SOC manager (deputy incident "
        "manager) acts for you."
    )
    expect(phone.locator("#send-button")).to_be_disabled()
    assert _fits_the_width(phone)
    phone.screenshot(path=str(SHOTS / "phone-390-out-of-reach.png"), full_page=True)
    # The facilitator's roles list says it too.
    console = console_page(browser, live_server, drill_id)
    manager = console.locator(
        "#role-list li", has=console.locator(".role", has_text=re.compile("^Incident manager$"))
    )
    expect(manager.locator(".away")).to_have_text(
        "out of reach in the story: Central SOC manager (deputy incident manager) acts"
    )
    console.screenshot(path=str(SHOTS / "console-out-of-reach.png"), full_page=True)
    # A reload replays the story: still out of reach.
    phone.reload()
    expect(away).to_be_visible()
    expect(phone.locator("#send-button")).to_be_disabled()

    live_server.run(service.execute(drill_id, c.FireInject("im-back")))
    expect(away).to_be_hidden()
    expect(manager.locator(".away")).to_have_count(0)
    expect(phone.locator("#send-button")).to_be_enabled()
    expect(phone.locator("#announce")).to_have_text(
        "You are back in the story: messages and decisions reach you again."
    )


@pytest.mark.live_settings(scenarios_dir=RANSOMWARE.parent)
def test_log_lines_and_a_ransom_note_never_make_the_phone_scroll_sideways(
    browser: Browser, live_server: LiveServer
) -> None:
    """A SIEM alert's log lines and a ransom note are preformatted and wider than a
    phone: they scroll inside their box, and the page, the open decision and its
    buttons stay as wide as the screen (they once ran 816 px wide, the decision cut off)."""
    service: DrillService = live_server.app.state.service
    drill_id, phone = _ransomware_on_a_phone(browser, live_server, "Sanne SOC", "soc_manager")
    for inject in ("siem-mass-rename", "im-unreachable", "ransom-note"):
        live_server.run(service.execute(drill_id, c.FireInject(inject)))
    expect(phone.locator("#inbox .msg pre")).not_to_have_count(0)
    decision = phone.locator(".decision.open")
    expect(decision).to_be_visible()
    assert _fits_the_width(phone)
    box = decision.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    phone.screenshot(path=str(SHOTS / "phone-390-wide-log-lines.png"), full_page=True)


CHAIN = """\
id: chain
title: Chain
summary: The manager is away, then the deputy too.
duration: 1h
clock: {start: 2026-12-24T22:40:00, speed: 60}
roles:
  incident_manager: {backup: soc_manager}
  soc_manager: {title: Deputy, backup: executive}
  executive: {}
objectives:
  o1: {title: Cover, phase: containment}
injects:
  - {id: start, title: Start, body: Go., to: [all], at: 0m}
  - {id: manager-away, title: Manager away, body: Gone., to: [all], at: 50m,
     unavailable: [incident_manager]}
  - {id: deputy-away, title: Deputy away, body: Gone too., to: [all], at: 55m,
     unavailable: [soc_manager]}
  - {id: deputy-back, title: Deputy back, body: Back., to: [all], at: 58m,
     available: [soc_manager], ends_drill: true}
"""


def test_when_the_backup_is_out_of_reach_too_the_phone_names_who_acts_now(
    browser: Browser, live_server: LiveServer
) -> None:
    """Backups form a chain: with the manager and the deputy both away, the executive acts
    for the manager (as the server routes it), and the deputy's return names the deputy."""
    service: DrillService = live_server.app.state.service
    drill_id = live_server.run(
        service.create_drill(CHAIN, "chain.yaml", c.CreateDrill("chain-1", "Chain"))
    )
    code = service.join_code(drill_id)
    phone = device(browser, 390, 844).new_page()
    phone.goto(f"{live_server.url}/join#code={code}")
    phone.get_by_label("Your name").fill("Ian Manager")
    phone.locator("input[name=role][value=incident_manager]").check()
    phone.get_by_role("button", name="Join drill").click()
    expect(phone.locator("#conn")).to_have_text("Live")
    live_server.run(service.execute(drill_id, c.StartClock(confirm_unfilled=True)))
    away = phone.locator("#away")
    live_server.run(service.execute(drill_id, c.FireInject("manager-away")))
    expect(away).to_contain_text("cannot be reached right now: Deputy acts for you.")
    live_server.run(service.execute(drill_id, c.FireInject("deputy-away")))
    expect(away).to_contain_text(
        "cannot be reached right now: Executive sponsor (CISO) acts for you."
    )
    phone.reload()  # the replayed story ends the same way
    expect(away).to_contain_text("Executive sponsor (CISO) acts for you.")
    live_server.run(service.execute(drill_id, c.FireInject("deputy-back")))
    expect(away).to_contain_text("cannot be reached right now: Deputy acts for you.")
