"""The world outside the room, in real Chromium: communications writes to the press from a
phone; a white-cell player, joined with the drill's second code in another browser, sees
the thread (with the author's suggested answer) and answers as the paper; the answer
lands in the phone's inbox, and communications replies to it; the white cell posts to the
public feed and the phone's Public tab shows it; the report carries the thread and the
feed."""

from __future__ import annotations

import re
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
PRESS = "The Dublin Ledger and other media"


@pytest.mark.live_settings(scenarios_dir=SCENARIOS)
def test_the_press_answers_through_the_white_cell_and_the_feed_reaches_the_phone(
    browser: Browser, live_server: LiveServer
) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    service: DrillService = live_server.app.state.service
    facilitator = sign_in(live_server)
    created = facilitator.post(
        "/api/drills", json={"scenario": "customer-database-theft.yaml", "name": "Outside"}
    )
    assert created.status_code == 201, created.text
    drill_id, code = created.json()["id"], created.json()["join_code"]
    console = console_page(browser, live_server, drill_id)
    white_code = console.locator("#white-cell-code").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{5}-[A-Z0-9]{5}", white_code) and white_code != code

    phone = device(browser, 390, 844).new_page()
    join_page(phone, live_server, code, "Cass Comms", "Communications")
    white = device(browser, 1024, 900).new_page()
    white.goto(f"{live_server.url}/join#code={white_code}")
    expect(white.get_by_role("heading", name="Outside")).to_be_visible()
    white.get_by_label("Your name").fill("Wes White")
    white.locator(".role-choice", has_text=PRESS).locator("input").check()
    white.get_by_role("button", name="Join the white cell").click()
    expect(white).to_have_url(re.compile(rf"/drills/{drill_id}/play$"))
    expect(white.locator("#conn")).to_have_text("Live")
    # The console's roster says who plays the world, not "Observer".
    wes = console.locator("#roster li", has_text="Wes White")
    expect(wes).to_contain_text(f"White cell: {PRESS}")
    live_server.run(service.execute(drill_id, c.StartClock(confirm_unfilled=True)))

    # Communications writes to the press from the phone.
    composer = phone.locator("#composer")
    message = composer.get_by_role("textbox", name="Message")
    phone.locator("#recipients-parties label", has_text=PRESS).locator("input").check()
    composer.get_by_label("Subject").fill("Your questions")
    message.fill("We will answer by 20:30.")
    phone.get_by_role("button", name="Send", exact=True).click()
    expect(phone.locator("#sent")).to_contain_text("We will answer by 20:30.")

    # The white cell sees the thread, waits for the author's line, and answers its own way.
    thread = white.locator(".thread", has_text="Communications")
    expect(thread).to_contain_text("We will answer by 20:30.")
    live_server.run(service.execute(drill_id, c.SetSpeed(600)))
    expect(thread.locator(".suggestion")).to_contain_text("we publish at 21:00", timeout=15_000)
    thread.get_by_role("button", name="Edit first").click()
    thread.get_by_label(f"Answer as {PRESS}").fill("We publish at 21:00. Were cards encrypted?")
    thread.get_by_role("button", name=f"Answer as {PRESS}").click()
    expect(thread.locator(".from-party")).to_contain_text("Were cards encrypted?")
    expect(thread.locator(".suggestion")).to_have_count(0)  # it was sent, edited
    live_server.run(service.execute(drill_id, c.SetSpeed(1)))

    # The answer reaches the phone's inbox; communications answers back.
    answer = phone.locator("#inbox li", has_text="Were cards encrypted?")
    expect(answer).to_contain_text(PRESS)
    answer.get_by_role("button", name=f"Reply to {PRESS}").click()
    # The subject the author gave the paper's answer, kept.
    expect(composer.get_by_label("Subject")).to_have_value("Re: your statement")
    message.fill("They were not. A statement follows.")
    phone.get_by_role("button", name="Send", exact=True).click()
    expect(thread).to_contain_text("They were not. A statement follows.")

    # The white cell posts to the feed; the phone's Public tab says so and shows it.
    post = white.locator("#post-form")
    post.get_by_label("Outlet or network").fill("X")
    post.get_by_label("Account (optional)").fill("@IrishShopWatch")
    post.get_by_label("Text").fill("Corrib kept our card numbers for years. #CorribBreach")
    post.get_by_label("Likes").fill("2400")
    post.get_by_role("button", name="Post").click()
    expect(phone.locator("#public-new")).to_have_text("1 new")
    phone.get_by_role("tab", name=re.compile("Public")).click()
    expect(phone.locator("#public-feed .post").first).to_contain_text("#CorribBreach")
    expect(phone.locator("#pressure")).to_contain_text("1 post, 1 negative, 2,400 interactions")
    phone.screenshot(path=str(SCREENS / "70-outside-phone-public.png"), full_page=True)
    white.screenshot(path=str(SCREENS / "71-outside-white-cell.png"), full_page=True)
    expect(console.locator("#threads .thread")).to_have_count(1)
    console.screenshot(path=str(SCREENS / "72-outside-console.png"), full_page=True)
    assert_accessible(white, "the white-cell page")
    assert_accessible(phone, "the participant's public feed", "Skip to decisions")

    live_server.run(service.execute(drill_id, c.EndDrill()))
    report = facilitator.get(f"/drills/{drill_id}/report")
    assert report.status_code == 200
    html = report.text
    assert "The outside world" in html
    assert "We publish at 21:00. Were cards encrypted?" in html
    assert "They were not. A statement follows." in html
    assert "Corrib kept our card numbers for years. #CorribBreach" in html
    assert "/report/pressure.svg" in html
    chart = facilitator.get(f"/drills/{drill_id}/report/pressure.svg")
    assert chart.status_code == 200 and "Public feed: posts per story hour" in chart.text
    for page in (phone, white, console):
        page.close()


@pytest.mark.live_settings(scenarios_dir=SCENARIOS)
def test_an_inject_s_screenshot_shows_at_phone_width_and_its_log_downloads(
    browser: Browser, live_server: LiveServer
) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    service: DrillService = live_server.app.state.service
    made = sign_in(live_server).post(
        "/api/drills", json={"scenario": "insider-departing-engineer", "name": "Bundle"}
    )
    assert made.status_code == 201, made.text
    drill_id, code = made.json()["id"], made.json()["join_code"]
    hr = device(browser, 390, 844).new_page()
    join_page(hr, live_server, code, "Hana HR", "HR")
    soc = device(browser, 390, 844).new_page()
    join_page(soc, live_server, code, "Sam SOC", "SOC analyst")
    live_server.run(service.execute(drill_id, c.StartClock(confirm_unfilled=True)))
    live_server.run(service.execute(drill_id, c.FireInject("kestrel-link")))

    post = hr.locator("#inbox li", has_text="the competitor announces his hire")
    image = post.get_by_role("img", name="Screenshot of the LinkedIn post")
    expect(image).to_be_visible()
    # Wait for the PNG to arrive and decode (a lazy image loads once it is in view).
    image.scroll_into_view_if_needed()
    hr.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => img.naturalWidth") == 720
    box = image.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    post.scroll_into_view_if_needed()
    hr.screenshot(path=str(SCREENS / "73-bundle-image-phone.png"))

    log = soc.locator("#inbox li", has_text="DLP alert").get_by_role(
        "link", name=re.compile("DLP activity export")
    )
    with soc.expect_download() as download:
        log.click()
    assert download.value.suggested_filename == "dlp-activity.log"
    assert_accessible(hr, "a phone inbox with an inject's screenshot", "Skip to decisions")
    for page in (hr, soc):
        page.close()
