"""A whole drill in a real browser: the facilitator runs it, two participants play it.

Drives the Debian chromium at /usr/bin/chromium through Playwright (never a downloaded
browser). Screenshots of every screen go to SCREENS for a human to look at."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
)

from app.engine import commands as c
from app.engine.scenario import Channel, Severity
from app.realtime.hub import Hub
from app.services.accounts import AccountRole
from tests.browser import join_page
from tests.live import PASSWORD, LiveServer

SCREENS = Path("/tmp/tabletop-e2e-screens")


class Problems:
    """Console errors and uncaught exceptions of every page (CSP violations land here)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, page: Page, who: str) -> Page:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.seen.append(f"{who}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.seen.append(f"{who}: {error}"))
        return page


def _context(browser: Browser, width: int = 1400, height: int = 900) -> BrowserContext:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(10_000)
    return context


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


async def _cut_and_inject(live: LiveServer, drill_id: str, role: str, title: str) -> None:
    """Cut a role's websocket server-side (as for a slow client), then deliver an inject
    to it before it can reconnect: it must arrive through the resumed connection."""
    hub: Hub = live.app.state.hub
    for connection in list(hub._connections.get(drill_id, ())):
        if connection.viewer.role == role:
            await hub._drop_slow(connection)
    command = c.ManualInject(title, "Your CEO is quoted.", [role], Channel.news, Severity.high)
    await live.app.state.service.execute(drill_id, command, c.Actor(None), "cut-and-inject")


def test_a_drill_from_lobby_to_the_end(browser: Browser, live_server: LiveServer) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {SCREENS}")
    problems = Problems()

    # The facilitator signs in and creates a drill from the library.
    fac = problems.watch(_context(browser).new_page(), "facilitator")
    fac.goto(f"{live_server.url}/")
    expect(fac).to_have_url(re.compile(r"/login"))
    _shot(fac, "01-login")
    fac.get_by_label("User name").fill("fac")
    fac.get_by_label("Password").fill(PASSWORD)
    fac.get_by_role("button", name="Sign in").click()
    expect(fac.get_by_role("heading", name="Mini drill")).to_be_visible()
    _shot(fac, "02-home")
    fac.get_by_role("link", name="Run this scenario").first.click()
    fac.get_by_label("Drill name").fill("Christmas Eve ransomware")
    _shot(fac, "03-new-drill")
    fac.get_by_role("button", name="Create drill").click()
    expect(fac).to_have_url(re.compile(r"/drills/[^/]+/console$"))
    code = fac.locator("#join-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{5}-[A-Z0-9]{5}", code), code
    expect(fac.locator("#conn")).to_have_text("Live")

    # Two participants, each in their own browser context (own cookies).
    legal = problems.watch(_context(browser, 1200, 900).new_page(), "legal")
    executive = problems.watch(_context(browser, 390, 844).new_page(), "executive")
    legal.goto(f"{live_server.url}/join?code={code}")
    _shot(legal, "04-join")
    join_page(legal, live_server, code, "Lee Legal", "Legal")
    join_page(executive, live_server, code, "Eve Exec", "Executive")
    expect(fac.locator("#roster li.online")).to_have_count(2)
    _shot(fac, "05-console-lobby")

    # Start, then jump to the ransom note (T+10m), which opens the executive's decision.
    fac.get_by_role("button", name="Start").click()
    expect(fac.locator("#status")).to_have_text("running")
    fac.get_by_role("button", name="Jump to next").click()
    decision = executive.locator(".decision", has_text="Pay the ransom?")
    expect(decision).to_be_visible()
    expect(decision.locator(".countdown")).to_contain_text("left")
    expect(legal.locator(".msg", has_text="Ransom note")).to_be_visible()
    expect(legal.locator(".decision")).to_have_count(0)
    expect(legal.locator("#decisions-empty")).to_be_visible()
    _shot(executive, "06-executive-decision")

    # The executive decides in time; legal writes to the regulator.
    decision.get_by_label("Rationale").fill("We do not fund criminals; restore from backup.")
    decision.get_by_role("button", name="Refuse").click()
    expect(decision.locator(".decision-status")).to_have_text("You answered: Refuse")
    legal.locator(".chip", has_text="Data protection authority").locator("input").check()
    legal.get_by_label("Subject").fill("Possible personal data breach")
    legal.get_by_label("Message", exact=True).fill(
        "We are assessing a ransomware incident.\nMore within 72h."
    )
    legal.get_by_role("button", name="Send").click()
    expect(legal.locator(".sent-item", has_text="Possible personal data breach")).to_be_visible()
    _shot(legal, "07-legal")

    # A manual inject by phone reaches legal only, styled as a call note; a note stays private.
    inject = fac.locator("#inject-form")
    inject.get_by_label("Title").fill("Outside counsel calls back")
    inject.get_by_label("Body").fill("They can join a bridge at 23:30.")
    inject.locator(".check", has_text="Legal counsel").locator("input").check()
    inject.get_by_label("Channel").select_option("phone")
    inject.get_by_role("button", name="Send inject").click()
    expect(legal.locator(".msg-call", has_text="Outside counsel calls back")).to_be_visible()
    expect(legal.locator("#announce")).to_contain_text("Outside counsel calls back")
    expect(legal.locator(".msg-call.unread")).to_have_count(1)
    fac.locator("#note-form").get_by_label("Note").fill("Exec refused quickly, good rationale.")
    fac.get_by_role("button", name="Add note").click()
    expect(fac.locator("#feed [data-type=note_added]")).to_contain_text("good rationale")

    # An observer joins, writes a note on an objective and sees it (and the facilitator's).
    observer = problems.watch(_context(browser).new_page(), "observer")
    join_page(observer, live_server, code, "Olu Observer", "Observer")
    notes = observer.locator("#note-form")
    expect(notes.get_by_label("Objective").locator("option")).to_have_count(3)
    notes.get_by_label("Objective").select_option(label="Communicate on time")
    notes.get_by_label("Note").fill("Legal told the regulator within minutes.")
    notes.get_by_role("button", name="Add note").click()
    mine = observer.locator("#notes [data-type=note_added]", has_text="within minutes")
    expect(mine).to_contain_text("You · Communicate on time")
    expect(observer.locator("#notes", has_text="good rationale")).to_be_visible()
    expect(notes.get_by_label("Note")).to_have_value("")
    expect(fac.locator("#feed [data-type=note_added]", has_text="within minutes")).to_be_visible()
    expect(observer.locator("#composer")).to_have_count(0)
    _shot(observer, "07b-observer-notes")

    # A dropped connection resumes from the last seq it saw: the missed item, once.
    drill_id = fac.url.split("/drills/")[1].split("/")[0]
    inbox_before = legal.locator("#inbox > li").count()
    live_server.run(_cut_and_inject(live_server, drill_id, "legal", "Press picks up the story"))
    expect(legal.locator(".msg-post", has_text="Press picks up the story")).to_have_count(1)
    expect(legal.locator("#conn")).to_have_text("Live")
    expect(legal.locator("#inbox > li")).to_have_count(inbox_before + 1)

    # The facilitator's feed shows both as they happened.
    feed = fac.locator("#feed")
    expect(feed.locator("[data-type=decision_answered]")).to_contain_text("chose Refuse")
    expect(feed.locator("[data-type=message_sent]")).to_contain_text("Data protection authority")
    expect(fac.locator("#scores")).to_contain_text("10")
    _shot(fac, "08-console-running")

    # Each side saw only its own: the executive never sees legal's message to the regulator.
    expect(executive.locator(".msg", has_text="Possible personal data breach")).to_have_count(0)
    expect(executive.locator(".msg", has_text="Outside counsel")).to_have_count(0)
    expect(executive.locator(".msg", has_text="good rationale")).to_have_count(0)

    # A reload rebuilds the same screen from the log: answered, nothing doubled.
    inbox_before = executive.locator("#inbox > li").count()
    executive.reload()
    expect(executive.locator("#conn")).to_have_text("Live")
    expect(executive.locator(".decision")).to_have_count(1)
    expect(executive.locator(".decision-status")).to_have_text("You answered: Refuse")
    expect(executive.locator("#inbox > li")).to_have_count(inbox_before)
    _shot(executive, "09-executive-after-reload")

    # The facilitator ends the drill; everyone sees it.
    fac.once("dialog", lambda dialog: dialog.accept())
    fac.get_by_role("button", name="End drill").click()
    expect(fac.locator("#status")).to_have_text("ended")
    expect(legal.locator("#ended")).to_contain_text("ended")
    fac.get_by_role("button", name="Release scores to participants").click()
    expect(fac.locator("#released")).to_be_visible()
    _shot(fac, "10-console-ended")
    _shot(legal, "11-legal-ended")
    fac.set_viewport_size({"width": 390, "height": 844})
    _shot(fac, "12-console-phone")

    _review(browser, live_server, drill_id, problems)
    assert problems.seen == []


REVIEWER_PASSWORD = "a reviewer's password"
EXPORTS = ("HTML", "PDF", "Markdown", "JSON", "Timeline CSV", "Plan CSV")


def _review(browser: Browser, live: LiveServer, drill_id: str, problems: Problems) -> None:
    """The reviewer turns the finished drill into its after-action report: rates an
    objective, adds an improvement item, downloads every format; all hold the same scores,
    and `tabletop report` prints the same from the shell."""
    live.run(live.app.state.accounts.create_user("rita", REVIEWER_PASSWORD, AccountRole.reviewer))
    context = browser.new_context(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = problems.watch(context.new_page(), "reviewer")
    page.goto(f"{live.url}/")
    page.get_by_label("User name").fill("rita")
    page.get_by_label("Password").fill(REVIEWER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/programme$"))
    expect(page.get_by_role("heading", name="Drills over time")).to_be_visible()
    page.get_by_role("link", name="Christmas Eve ransomware").click()
    expect(page).to_have_url(re.compile(rf"/drills/{drill_id}/report$"))
    expect(page.get_by_role("heading", name="Christmas Eve ransomware")).to_be_visible()
    overall = page.locator("[data-score=Overall]").inner_text().strip()
    assert re.fullmatch(r"\d+\.\d%", overall), overall

    objective = page.locator("#objective-comms")
    # A reviewer's own words read as text, not as the bold of the field's label.
    expect(objective.get_by_label("Strengths")).to_have_css("font-weight", "400")
    expect(objective.get_by_label("Rating").locator("option").first).to_have_text(
        re.compile(r"^From the score: ([PSMU]|not rated)$")
    )
    objective.get_by_label("Rating").select_option("S")
    objective.get_by_label("Strengths").fill("Legal told the regulator within minutes.")
    objective.get_by_role("button", name=re.compile("^Save")).click()
    expect(page.locator("[data-objective-rating=comms]")).to_have_text("S")

    plan = page.locator("#improvement-plan")
    form = plan.locator("details.add-item")
    if form.get_attribute("open") is None:
        form.locator("summary").click()
    form.get_by_label("Capability", exact=True).fill("Operational communications")
    form.get_by_label("Issue").fill("The incident manager never briefed legal")
    form.get_by_label("Corrective action").fill("Add legal to the first-hour call tree")
    form.get_by_label("Responsible team").fill("Security operations")
    form.get_by_label("Point of contact").fill("Lee Legal")
    form.get_by_label("Due").fill("2027-03-01")
    form.get_by_role("button", name="Add item").click()
    expect(plan.locator("table")).to_contain_text("never briefed legal")
    _shot(page, "13-reviewer-report")

    downloaded: dict[str, bytes] = {}
    for label in EXPORTS:
        with page.expect_download() as info:
            page.locator(".downloads").get_by_role("link", name=label, exact=True).click()
        downloaded[label] = Path(info.value.path()).read_bytes()
    report = json.loads(downloaded["JSON"])
    assert f"{report['scores']['overall']['percent']:.1f}%" == overall
    assert next(o for o in report["objectives"] if o["id"] == "comms")["rating"] == "S"
    for label in ("HTML", "Markdown"):
        text = downloaded[label].decode()
        assert overall in text and "never briefed legal" in text, label
    pdf_text = subprocess.run(
        ["pdftotext", "-", "-"], input=downloaded["PDF"], capture_output=True, check=True
    ).stdout.decode()
    assert overall in pdf_text and "Lee Legal" in pdf_text
    assert b"never briefed legal" in downloaded["Plan CSV"]
    assert downloaded["Timeline CSV"].startswith(b"seq,")

    shell = subprocess.run(
        [str(Path(sys.executable).parent / "tabletop"), "report", drill_id, "--format", "json"],
        capture_output=True,
        check=True,
        env={**os.environ, "TABLETOP_DATA_DIR": str(live.app.state.settings.data_dir)},
    )
    from_shell = json.loads(shell.stdout)
    assert from_shell["scores"] == report["scores"]
    assert from_shell["objectives"] == report["objectives"]
    context.close()
