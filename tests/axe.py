"""axe-core, the accessibility engine, run on a Playwright page (its script ships with the
axe-playwright-python package: nothing is fetched). Serious and critical findings fail the
test with the rule, its help text and the elements it found; so do a few structural rules
axe rates lower but a keyboard or screen-reader user meets on every page (headings out of
order, landmarks without a name, a scrollable box the keyboard cannot reach, no skip link)."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

BLOCKING = ("serious", "critical")
# Rated "moderate" by axe, yet each one breaks how people move through a page.
STRUCTURE_RULES = frozenset(
    {"heading-order", "landmark-unique", "landmark-one-main", "page-has-heading-one"}
)
_axe = Axe()

# Landmarks without a name, scrollable boxes the keyboard cannot reach or that have no
# name, and the first tab stop: checks axe does not make, run in the page itself.
_STRUCTURE_JS = """() => {
  const problems = [];
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim()
      ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const named = (el) => el.hasAttribute('aria-label') || el.hasAttribute('aria-labelledby');
  const landmarks = document.querySelectorAll('main, nav, aside, body > header, ' +
    '[role=main], [role=navigation], [role=banner], [role=region]');
  for (const el of landmarks) {
    if (!named(el)) problems.push('landmark without a name: ' + describe(el));
  }
  const overflows = (overflow, content, box) => /(auto|scroll)/.test(overflow) && content > box + 1;
  for (const el of document.querySelectorAll('body *')) {
    const style = getComputedStyle(el);
    const scrolls = overflows(style.overflowX, el.scrollWidth, el.clientWidth) ||
                    overflows(style.overflowY, el.scrollHeight, el.clientHeight);
    if (!scrolls || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') continue;
    if (el.tabIndex < 0) {
      problems.push('scrollable region the keyboard cannot reach (tabindex="0"): ' + describe(el));
    } else if (!named(el)) {
      problems.push('scrollable region without a name: ' + describe(el));
    }
  }
  const tabbable = [...document.querySelectorAll('a[href], button:not([disabled]), ' +
    'input:not([type=hidden]):not([disabled]), select, textarea, [tabindex]')]
    .filter((el) => el.tabIndex >= 0 && el.getClientRects().length > 0);
  const first = tabbable[0];
  const href = first ? first.getAttribute('href') || '' : '';
  return {problems, firstStop: first ? first.textContent.trim() : null,
          firstTarget: href.startsWith('#') ? !!document.querySelector(href) : null};
}"""


def serious_findings(page: Page) -> list[str]:
    """Each serious or critical violation on the page as it is now, plus any violation of
    STRUCTURE_RULES, one line each: impact, rule, help text and up to five selectors."""
    results: dict[str, Any] = _axe.run(page).response
    lines = []
    for violation in results["violations"]:
        if violation.get("impact") not in BLOCKING and violation["id"] not in STRUCTURE_RULES:
            continue
        targets = [", ".join(node["target"]) for node in violation["nodes"]][:5]
        lines.append(
            f"{violation['impact']} {violation['id']}: {violation['help']} "
            f"(at {'; '.join(targets)})"
        )
    return lines


def structure_findings(page: Page, first_stop: str | None) -> list[str]:
    """Unnamed landmarks, unreachable or unnamed scrollable regions, and, unless first_stop
    is None, a first tab stop other than the skip link of that text (or one leading nowhere)."""
    found: dict[str, Any] = page.evaluate(_STRUCTURE_JS)
    lines: list[str] = list(found["problems"])
    if first_stop is not None:
        if found["firstStop"] != first_stop:
            lines.append(f"first tab stop is {found['firstStop']!r}, not the {first_stop!r} link")
        elif found["firstTarget"] is not True:
            lines.append(f"the {first_stop!r} link points at no element on the page")
    return lines


def assert_accessible(page: Page, where: str, first_stop: str | None = "Skip to content") -> None:
    """Fail with every finding on the page, named by `where`. first_stop is the text of the
    skip link that must be the first thing Tab reaches (None for a standalone document)."""
    # Items fade in over 0.35 s; measured mid-fade their contrast is the fade's, not theirs.
    page.emulate_media(reduced_motion="reduce")
    page.wait_for_timeout(50)
    found = serious_findings(page) + structure_findings(page, first_stop)
    assert not found, f"{where}: accessibility findings\n" + "\n".join(found)
