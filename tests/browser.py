"""The one way tests launch a browser: Debian's chromium at /usr/bin/chromium through
Playwright, never a downloaded one. The `browser` fixture is registered for every test
folder by tests/conftest.py; it skips without chromium, and fails under CI=true."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.live import PASSWORD, LiveServer

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests"
        if os.environ.get("CI"):
            pytest.fail(message + " (required under CI)")
        pytest.skip(message)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def sign_in_page(page: Page, live: LiveServer) -> Page:
    """Sign the facilitator "fac" in through the form, as a person would."""
    page.goto(f"{live.url}/login")
    page.get_by_label("User name").fill("fac")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live.url}/")
    return page


def join_page(page: Page, live: LiveServer, code: str, name: str, role_title: str) -> None:
    """Join a drill from its link (the code after "#", as the QR code has it), as a
    participant would, and wait until live."""
    page.goto(f"{live.url}/join#code={code}")
    page.get_by_label("Your name").fill(name)
    page.locator(".role-choice", has_text=role_title).locator("input").check()
    page.get_by_role("button", name="Join drill").click()
    expect(page).to_have_url(re.compile(r"/drills/[^/]+/play$"))
    expect(page.locator("#conn")).to_have_text("Live")


def console_page(browser: Browser, live: LiveServer, drill_id: str) -> Page:
    """The facilitator's console of a drill, signed in, on a desktop screen, once live."""
    console = browser.new_page(viewport={"width": 1280, "height": 1000})
    console.set_default_timeout(10_000)
    sign_in_page(console, live)
    console.goto(f"{live.url}/drills/{drill_id}/console")
    expect(console.locator("#conn")).to_have_text("Live")
    return console


def device(browser: Browser, width: int, height: int) -> BrowserContext:
    """A touch screen of this size (390 x 844 a phone, 820 x 1180 a tablet)."""
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=True)
    context.set_default_timeout(10_000)
    return context


COUNTDOWN = re.compile(r"^(\d+):(\d\d) left")


def real_seconds_left(page: Page) -> int:
    """The open decision's countdown, in real seconds, once the page has drawn it."""
    left = page.locator(".decision.open .countdown-left")
    expect(left).to_have_text(COUNTDOWN)  # drawn at the next tick of the page's clock
    text = left.inner_text()
    found = COUNTDOWN.match(text)
    assert found is not None, f"the countdown reads {text!r}, not real time left"
    return int(found.group(1)) * 60 + int(found.group(2))
