"""The one way tests launch a browser: Debian's chromium at /usr/bin/chromium through
Playwright, never a downloaded one. The `browser` fixture is registered for every test
folder by tests/conftest.py; it skips without chromium, and fails under CI=true."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

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
    """Join a drill through the join form, as a participant would, and wait until live."""
    page.goto(f"{live.url}/join?code={code}")
    page.get_by_label("Your name").fill(name)
    page.locator(".role-choice", has_text=role_title).locator("input").check()
    page.get_by_role("button", name="Join drill").click()
    expect(page).to_have_url(re.compile(r"/drills/[^/]+/play$"))
    expect(page.locator("#conn")).to_have_text("Live")
