"""axe-core, the accessibility engine, run on a Playwright page (its script ships with the
axe-playwright-python package: nothing is fetched). Serious and critical findings fail the
test with the rule, its help text and the elements it found."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

BLOCKING = ("serious", "critical")
_axe = Axe()


def serious_findings(page: Page) -> list[str]:
    """Each serious or critical violation on the page as it is now, one line each."""
    results: dict[str, Any] = _axe.run(page).response
    lines = []
    for violation in results["violations"]:
        if violation.get("impact") not in BLOCKING:
            continue
        targets = [", ".join(node["target"]) for node in violation["nodes"]][:5]
        lines.append(
            f"{violation['impact']} {violation['id']}: {violation['help']} "
            f"(at {'; '.join(targets)})"
        )
    return lines


def assert_accessible(page: Page, where: str) -> None:
    # Items fade in over 0.35 s; measured mid-fade their contrast is the fade's, not theirs.
    page.emulate_media(reduced_motion="reduce")
    page.wait_for_timeout(50)
    found = serious_findings(page)
    assert not found, f"{where}: axe-core found\n" + "\n".join(found)
