"""Planning a drill: the library and the new-drill form say how much story a scenario plays
and how long that takes in real time; the speed field starts at the scenario's own speed,
and the figure follows the speed as it is typed."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.browser import sign_in_page
from tests.live import LiveServer, sign_in


def test_the_library_and_the_form_say_how_long_a_drill_takes(live_server: LiveServer) -> None:
    facilitator = sign_in(live_server)
    home = facilitator.get("/").text
    # mini.yaml: 4 story hours (clock.end) at x10 are 24 real minutes.
    assert "4 h of story · about 24 min at its speed \u00d710" in home
    form = facilitator.get("/drills/new?scenario=mini.yaml").text
    assert re.search(r'<input name="speed" id="speed"[^>]*value="10"', form)
    assert "Plays 4 h of story in about" in form and ">24 min</strong>" in form


def test_the_real_length_follows_the_speed_typed(browser: Browser, live_server: LiveServer) -> None:
    page = sign_in_page(browser.new_page(), live_server)
    page.goto(f"{live_server.url}/drills/new?scenario=mini.yaml")
    expect(page.locator("#plan-real")).to_have_text("24 min")
    page.get_by_label("Speed").fill("120")
    expect(page.locator("#plan-real")).to_have_text("2 min")
    page.get_by_label("Speed").fill("1")
    expect(page.locator("#plan-real")).to_have_text("4 h")
    page.get_by_label("Speed").fill("5000")
    expect(page.locator("#plan-real")).to_have_text("a speed above 0 and at most 1440")
    page.close()
