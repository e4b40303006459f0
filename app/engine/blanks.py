"""Template blanks left in a message: "[date, time]", "{{outlet}}", "____".

A drawer statement is written with gaps for the sender to fill. A message that still holds
one was not ready to go, so it meets no expectation (scoring calls it "sent with blanks"),
and the composer asks before sending it. static/js/play.js holds the same patterns.
"""

from __future__ import annotations

import re

_PATTERNS = (
    # Square brackets around words, not digits: "[date, time]", "[number of customers]";
    # "[INC-4411]" is a reference and a Markdown link "[text](url)" is a link, not gaps.
    re.compile(r"\[[^\[\]\n\d]{1,80}\](?!\()"),
    re.compile(r"\{\{[^{}\n]{0,80}\}\}"),
    re.compile(r"_{3,}"),
)


def blanks_in(text: str, statement_body: str | None = None) -> list[str]:
    """The blanks still in `text`, in order of appearance, each once. With the drawer
    statement it started from, that statement's own placeholders count too, whatever
    their form."""
    found: list[tuple[int, str]] = []
    for pattern in _PATTERNS:
        found.extend((m.start(), m.group(0)) for m in pattern.finditer(text))
    if statement_body is not None:
        own = re.finditer(r"\[[^\[\]\n]{1,80}\](?!\()", statement_body)
        for placeholder in {m.group(0) for m in own}:
            at = text.find(placeholder)
            if at >= 0:
                found.append((at, placeholder))
    return list(dict.fromkeys(blank for _, blank in sorted(found)))
