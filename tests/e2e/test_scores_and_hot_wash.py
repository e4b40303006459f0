"""Scores and the hot wash in a real browser: the facilitator adjusts a score and sees the
server's totals change; after the end a participant answers the hot wash; once the scores
are released the participant sees the team's scorecard.

Drives the Debian chromium at /usr/bin/chromium through Playwright, as
test_drill_in_the_browser.py does; screenshots go to SCREENS."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser import join_page, sign_in_page
from tests.e2e.test_drill_in_the_browser import (
    SCREENS,
    Problems,
    _context,
    _shot,
)
from tests.live import LiveServer, sign_in


def _objective(page: Page, title: str) -> str:
    return page.locator("#scores li", has_text=title).locator("strong").inner_text()


def test_scores_adjustments_and_the_hot_wash(browser: Browser, live_server: LiveServer) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    problems = Problems()
    created = sign_in(live_server).post(
        "/api/drills", json={"scenario": "mini.yaml", "name": "Scores night"}
    )
    assert created.status_code == 201, created.text
    drill_id, code = created.json()["id"], created.json()["join_code"]

    fac = problems.watch(_context(browser).new_page(), "facilitator")
    sign_in_page(fac, live_server)
    fac.goto(f"{live_server.url}/drills/{drill_id}/console")
    expect(fac.locator("#conn")).to_have_text("Live")
    # Nothing at stake yet: the server's scorecard, not a sum kept in the browser.
    expect(fac.locator("#scores li")).to_have_count(2)
    expect(fac.locator("#score-overall")).to_have_text("nothing at stake")
    idle = fac.locator("#scores li", has_text="Communicate on time")
    expect(idle).to_contain_text("nothing at stake")
    label = idle.locator(".score-label").bounding_box()
    assert label is not None and label["height"] < 30, label  # one line, not squeezed
    adjustments = fac.locator("#score-dimensions li", has_text="Adjustments")
    expect(adjustments.locator("strong")).to_have_text("0")  # none made: a count

    executive = problems.watch(_context(browser, 390, 844).new_page(), "executive")
    join_page(executive, live_server, code, "Eve Exec", "Executive")
    expect(executive.locator("#team-score")).to_be_hidden()
    expect(executive.locator("#hotwash")).to_be_hidden()

    # The executive refuses the ransom: ten of ten for deciding under pressure.
    fac.get_by_role("button", name="Start").click()
    expect(fac.locator("#status")).to_have_text("running")
    fac.get_by_role("button", name="Jump to next").click()
    decision = executive.locator(".decision", has_text="Pay the ransom?")
    decision.get_by_role("button", name="Refuse").click()
    expect(decision.locator(".decision-status")).to_have_text("You answered: Refuse")
    decide = fac.locator("#scores li", has_text="Decide under pressure")
    expect(decide.locator("strong")).to_have_text("10 / 10")
    expect(decide).to_contain_text("100%")
    expect(fac.locator("#score-overall")).to_have_text("10 / 10 · 100%")
    expect(fac.locator("#score-dimensions li", has_text="Decisions")).to_contain_text("10 / 10")

    # The facilitator takes two points off, with a reason the feed shows.
    form = fac.locator("#adjust-form")
    form.get_by_label("Objective").select_option(label="Decide under pressure")
    form.get_by_label("Points").fill("-2")
    form.get_by_label("Reason").fill("Refused without asking legal")
    form.get_by_label("Role").select_option(label="Executive sponsor (CISO)")
    form.get_by_role("button", name="Adjust score").click()
    adjusted = fac.locator("#feed [data-type=score_adjusted]")
    expect(adjusted).to_contain_text(
        "Score for 'Decide under pressure' adjusted -2: Refused without asking legal"
    )
    expect(decide.locator("strong")).to_have_text("8 / 10")
    expect(decide).to_contain_text("80%")
    expect(fac.locator("#score-overall")).to_have_text("8 / 10 · 80%")
    expect(fac.locator("#score-dimensions li", has_text="Adjustments")).to_contain_text("-2")
    expect(form.get_by_label("Reason")).to_have_value("")
    _shot(fac, "20-console-adjusted")
    assert _objective(fac, "Communicate on time") == "nothing at stake"  # nothing due yet

    # The drill ends: the executive gets the hot wash and answers it.
    fac.once("dialog", lambda dialog: dialog.accept())
    fac.get_by_role("button", name="End drill").click()
    expect(fac.locator("#status")).to_have_text("ended")
    hotwash = executive.locator("#hotwash")
    expect(hotwash).to_be_visible()
    hotwash.get_by_label("What went well?").fill("We refused fast and restored from backup.")
    hotwash.get_by_label("What should we improve?").fill("Bring legal in before deciding.")
    hotwash.get_by_label("4", exact=True).check()
    _shot(executive, "21-hot-wash")
    hotwash.get_by_role("button", name="Send").click()
    expect(executive.locator("#hotwash-thanks")).to_have_text("Thanks — your answers are in.")
    expect(executive.locator("#hotwash-form")).to_be_hidden()
    feedback = fac.locator("#feed [data-type=feedback_given]")
    # The server's timeline leaves hot-wash answers to the report's own section: the feed
    # names the event, who sent it and what they wrote.
    expect(feedback).to_contain_text("feedback given")
    expect(feedback.locator(".actor")).to_have_text("Eve Exec")
    expect(feedback).to_contain_text("Confidence 4 of 5")
    expect(executive.locator("#team-score")).to_be_hidden()  # not released yet

    # Once released, the executive sees the team's scores, titles and all, without a reload.
    fac.get_by_role("button", name="Release scores to participants").click()
    expect(fac.locator("#released")).to_be_visible()
    team = executive.locator("#team-score")
    expect(team).to_be_visible()
    expect(team.locator("#scores li", has_text="Decide under pressure")).to_contain_text("8 / 10")
    expect(team.locator("#score-overall")).to_have_text("8 / 10 · 80%")
    _shot(executive, "22-team-score")

    # A reload rebuilds it from the log: the thanks (not the form) and the scores.
    executive.reload()
    expect(executive.locator("#conn")).to_have_text("Live")
    expect(executive.locator("#hotwash-thanks")).to_be_visible()
    expect(executive.locator("#hotwash-form")).to_be_hidden()
    expect(executive.locator("#team-score #score-overall")).to_have_text("8 / 10 · 80%")

    assert problems.seen == []
