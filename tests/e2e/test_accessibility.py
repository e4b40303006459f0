"""Every page a user can reach, checked by axe-core in real Chromium: no serious or critical
finding, with real data on the page (a running drill, an inject, an open decision, a
report), at desktop width and, for the pages people open on a phone, at 390 px."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from app.engine import commands as c
from app.services.drills import DrillService
from tests.axe import assert_accessible, serious_findings, structure_findings
from tests.browser import sign_in_page
from tests.live import LiveServer, join, sign_in

SKIP_TO_DECISIONS = "Skip to decisions"


def _signed_in(browser: Browser, live: LiveServer) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(10_000)
    page.goto(f"{live.url}/login")
    assert_accessible(page, "sign-in")
    return sign_in_page(page, live)


def test_every_page_has_no_serious_accessibility_finding(
    browser: Browser, live_server: LiveServer
) -> None:
    page = _signed_in(browser, live_server)
    for path, where in (
        ("/", "library"),
        ("/drills/new?scenario=mini.yaml", "new drill"),
        ("/scenarios/mini.yaml", "storyboard"),
        ("/programme", "programme"),
        ("/no-such-page", "not found"),
    ):
        page.goto(f"{live_server.url}{path}")
        assert_accessible(page, where)

    fac = sign_in(live_server)
    created = fac.post("/api/drills", json={"scenario": "mini.yaml", "name": "A11y"}).json()
    drill_id, code = created["id"], created["join_code"]
    page.goto(f"{live_server.url}/drills/{drill_id}/console")
    expect(page.locator("#conn")).to_have_text("Live")
    assert_accessible(page, "console, lobby")

    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(f"{live_server.url}/join")
    assert_accessible(phone, "join, code entry (phone)")
    phone.goto(f"{live_server.url}/join?code={code}")
    assert_accessible(phone, "join, role choice (phone)")
    phone.get_by_label("Your name").fill("Eve Exec")
    phone.locator(".role-choice", has_text="Executive").locator("input").check()
    phone.get_by_role("button", name="Join drill").click()
    expect(phone).to_have_url(re.compile(r"/play$"))
    expect(phone.locator("#conn")).to_have_text("Live")
    assert_accessible(phone, "play, lobby briefing (phone)", first_stop=SKIP_TO_DECISIONS)

    service: DrillService = live_server.app.state.service
    live_server.run(service.execute(drill_id, c.StartClock()))
    live_server.run(service.execute(drill_id, c.JumpToNextInject()))
    expect(phone.locator(".decision.open")).to_be_visible()
    assert_accessible(phone, "play, running with a decision (phone)", first_stop=SKIP_TO_DECISIONS)
    desktop_player = browser.new_page(viewport={"width": 1280, "height": 900})
    desktop_player.context.add_cookies(
        [
            {"name": k["name"], "value": k["value"], "url": live_server.url}
            for k in phone.context.cookies()
        ]
    )
    desktop_player.goto(f"{live_server.url}/drills/{drill_id}/play")
    expect(desktop_player.locator("#conn")).to_have_text("Live")
    assert_accessible(desktop_player, "play, running (desktop)", first_stop=SKIP_TO_DECISIONS)

    page.goto(f"{live_server.url}/drills/{drill_id}/console")
    expect(page.locator(".open-decision")).to_be_visible()
    assert_accessible(page, "console, running")
    page.goto(f"{live_server.url}/drills/{drill_id}/report")
    assert_accessible(page, "report, draft")

    join(live_server, code, "Lee Legal", "legal")
    live_server.run(service.execute(drill_id, c.EndDrill()))
    page.goto(f"{live_server.url}/drills/{drill_id}/report")
    assert_accessible(page, "report, after the end")
    # Every improvement item's edit form and the add form, folded away in <details>.
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    expect(page.locator("form.item-form").first).to_be_visible()
    assert_accessible(page, "report, improvement item forms")
    # The download is served as an attachment: open its text as the reader's browser would.
    page.set_content(fac.get(f"/drills/{drill_id}/report.html").text)
    assert_accessible(page, "report, HTML download", first_stop=None)
    phone.reload()
    expect(phone.locator("#hotwash")).to_be_visible()
    assert_accessible(phone, "play, hot wash (phone)", first_stop=SKIP_TO_DECISIONS)


def test_the_first_run_setup_page_is_accessible(browser: Browser, live_server: LiveServer) -> None:
    token = live_server.run(live_server.app.state.accounts.new_setup_token())
    page = browser.new_page()
    page.goto(f"{live_server.url}/setup#token={token}")
    assert_accessible(page, "first-run setup")


def test_the_skip_link_leads_to_the_decisions(browser: Browser, live_server: LiveServer) -> None:
    fac = sign_in(live_server)
    created = fac.post("/api/drills", json={"scenario": "mini.yaml", "name": "Skip"}).json()
    player = join(live_server, created["join_code"], "Eve Exec", "executive")
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.context.add_cookies(
        [{"name": k, "value": v, "url": live_server.url} for k, v in player.cookies.items()]
    )
    page.goto(f"{live_server.url}/drills/{created['id']}/play")
    page.keyboard.press("Tab")  # the first stop
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to decisions"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#decisions-card$"))


def test_the_checker_names_each_problem_and_where_it_is(browser: Browser) -> None:
    """A page with one of each problem: the findings name the rule and the element, so a
    failure says what to fix (and a checker that found nothing would fail here)."""
    page = browser.new_page()
    page.set_content(
        """<!doctype html><html lang="en"><head><title>Bad</title></head><body>
        <main><h1>Bad page</h1>
        <p style="color:#bbb;background:#fff">Faint text</p>
        <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" id="no-alt">
        <div id="log" style="overflow:auto;height:40px"><p>1</p><p>2</p><p>3</p><p>4</p></div>
        <button>First button</button></main></body></html>"""
    )
    lines = serious_findings(page) + structure_findings(page, first_stop="Skip to content")
    found = "\n".join(lines)
    assert "color-contrast" in found
    assert "image-alt" in found and "#no-alt" in found
    assert "landmark without a name: main" in found
    assert "scrollable region the keyboard cannot reach" in found and "div#log" in found
    assert "first tab stop is 'First button', not the 'Skip to content' link" in found
