"""The console a facilitator runs the room from: up next with real times, fire now and skip,
open decisions with who has answered, the guide and each inject's notes as it fires, a feed
of names rather than ids, and a start that asks before leaving a required role empty."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Locator, Page, expect

from tests.browser import sign_in_page
from tests.live import LiveServer, join, sign_in
from tests.ws.test_protocol import command, open_socket

SCREENS = Path("/tmp/tabletop-e2e-screens")
SCENARIOS = Path(__file__).parents[2] / "scenarios"


def _console(browser: Browser, live: LiveServer, drill_id: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(10_000)
    sign_in_page(page, live)
    page.goto(f"{live.url}/drills/{drill_id}/console")
    expect(page.locator("#conn")).to_have_text("Live")
    return page


def _answer_dialog(page: Page, button: Locator, accept: bool) -> str:
    """Click a button that asks for confirmation (window.confirm), answer it, and return
    the question. The handler is in place before the click: some buttons ask at once,
    inside the click, others after the server answers."""
    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    page.once("dialog", answer)
    button.click(no_wait_after=True)
    deadline = time.monotonic() + 10
    while not asked:
        assert time.monotonic() < deadline, "no confirmation was asked"
        page.wait_for_timeout(50)
    return asked[0]


def test_the_facilitator_runs_the_room_from_the_console(
    browser: Browser, live_server: LiveServer
) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    fac = sign_in(live_server)
    created = fac.post("/api/drills", json={"scenario": "mini.yaml", "name": "Console"}).json()
    drill_id, code = created["id"], created["join_code"]
    executive = join(live_server, code, "Eve Exec", "executive")
    legal = join(live_server, code, "Lee Legal", "legal")
    page = _console(browser, live_server, drill_id)
    expect(page.locator("#loopback-warning")).to_contain_text("a phone cannot open it")
    roles = page.locator("#role-list")
    expect(roles.locator("li.unfilled")).to_contain_text("Incident manager")

    # Before the start nothing is on the clock yet: up next lists what the scenario's
    # clock holds (not "nothing is scheduled"), with nothing to fire or skip.
    waiting = page.locator(".upnext-item")
    expect(waiting.first).to_contain_text("EDR alert at Acme Retail")
    expect(waiting.first).to_contain_text("T+00:00")
    expect(waiting.nth(1)).to_contain_text("Ransom note")
    expect(waiting.get_by_role("button")).to_have_count(0)
    expect(page.locator("#upnext-note")).to_be_visible()
    expect(page.locator("#upnext-empty")).to_be_hidden()

    page.get_by_role("button", name="Start").click()
    expect(page.locator("#upnext-note")).to_be_hidden()
    # The ransom note is up next at T+00:10: one real minute away at x10.
    first = page.locator(".upnext-item").first
    expect(first).to_contain_text("Ransom note")
    expect(first).to_contain_text("T+00:10")
    expect(first.locator(".upnext-real")).to_have_text(re.compile(r" · in 0:[0-5]\d"))
    first.get_by_role("button", name="Fire now").click()
    feed = page.locator("#feed")
    # The feed says what the server's timeline says; the facilitator fired this one.
    fired = feed.locator("[data-type=inject_delivered]").first
    expect(fired).to_contain_text(
        "Ransom note (fired now by the facilitator) -> Executive sponsor (CISO), Legal counsel"
    )
    expect(fired.locator(".actor")).to_have_text("Facilitator (fac)")
    seen = legal.get(f"/api/drills/{drill_id}/events").json()
    assert any(e["data"].get("title") == "Ransom note" for e in seen)
    assert not any("fired_by_facilitator" in e["data"] for e in seen)  # the room need not know

    # The decision the note opened, and who has answered it.
    decision = page.locator(".open-decision", has_text="Pay the ransom?")
    expect(decision).to_contain_text("Executive sponsor (CISO)")
    expect(decision.locator(".answers li.waiting")).to_have_count(1)
    expect(decision.locator(".countdown-left")).to_have_text(re.compile(r"^\d+:\d\d left"))
    page.screenshot(path=str(SCREENS / "40-console-up-next.png"), full_page=True)
    sock = open_socket(live_server, drill_id, executive)  # the executive answers, live
    reply = command(sock, type="answer", id="a1", decision_id="pay", option_id="no")
    assert reply["type"] == "ack", reply
    expect(page.locator(".open-decision")).to_have_count(0)
    expect(feed.locator("[data-type=decision_answered]")).to_contain_text(
        "Executive sponsor (CISO) chose Refuse in "
    )
    expect(feed).not_to_contain_text("pay: no")

    # Skip what the answer scheduled: it leaves "up next" and never arrives.
    follow_up = page.locator(".upnext-item", has_text="Leak site post")
    expect(follow_up).to_be_visible()
    _answer_dialog(page, follow_up.get_by_role("button", name="Skip"), accept=True)
    expect(follow_up).to_have_count(0)
    expect(feed.locator("[data-type=inject_skipped]").first).to_contain_text(
        "Leak site post skipped: skipped by the facilitator"
    )
    # Filters: legal's items only.
    page.locator("#feed-role").select_option(label="Legal counsel")
    expect(feed.locator("[data-type=decision_answered]")).to_be_hidden()
    expect(feed.locator("[data-type=inject_delivered]", has_text="Ransom note")).to_be_visible()

    _answer_dialog(page, page.get_by_role("button", name="End drill"), accept=True)
    expect(page.locator("#report-link")).to_be_visible()
    expect(page.get_by_role("link", name="Open the after-action report")).to_have_attribute(
        "href", f"/drills/{drill_id}/report"
    )
    page.screenshot(path=str(SCREENS / "41-console-ended.png"), full_page=True)
    page.close()


@pytest.mark.live_settings(scenarios_dir=SCENARIOS)
def test_starting_with_a_required_role_empty_asks_first(
    browser: Browser, live_server: LiveServer
) -> None:
    fac = sign_in(live_server)
    created = fac.post(
        "/api/drills", json={"scenario": "ransomware-holiday-weekend.yaml", "name": "Xmas"}
    ).json()
    join(live_server, created["join_code"], "Lee Legal", "legal")
    page = _console(browser, live_server, created["id"])
    expect(page.locator("#guide-card")).to_be_visible()  # the scenario's facilitator guide
    expect(page.locator("#unfilled-note")).to_contain_text("Incident manager")
    start = page.get_by_role("button", name="Start")
    question = _answer_dialog(page, start, accept=False)
    assert "Incident manager" in question and "Start anyway?" in question
    expect(page.locator("#status")).to_have_text("lobby")  # declined: nothing started
    _answer_dialog(page, start, accept=True)
    expect(page.locator("#status")).to_have_text("running")
    started = page.locator("#feed [data-type=clock_started]")
    expect(started).to_contain_text("Clock started at")
    # The first inject's notes and questions for the facilitator appear as it fires.
    expect(page.locator("#feed .facilitator-note").first).to_be_visible()
    page.close()
