"""WeasyPrint draws an SVG label as one run of text, not letter by letter.

WeasyPrint (up to 70 at least) lays out and draws every character of an SVG `<text>` on
its own, so that per-character `x`, `y`, `dx`, `dy` and `rotate` lists can place each one.
Our figures never use those lists: each label has one position. Letter by letter, the
branch graph's ~200 labels were a sixth of a 20-page report's PDF (0.5 s of 3.2 s), and
the letters lost their kerning. WeasyPrint's maintainers suggest the same way out for
their issue #2249: a text with nothing placed per character is shaped as a whole.

`install` wraps WeasyPrint's SVG text drawer: a label with at most one value in each
position list, no `rotate` list, no `letter-spacing` and no `textLength` reaches it as a
single "letter" (a string that iterates as itself), so the drawer lays it out, measures
its box for `text-anchor`, and draws it, once. Everything else goes through unchanged.
If WeasyPrint's drawer is no longer where this expects it, nothing is changed: the PDF is
only slower.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

_installing = threading.Lock()
"""PDFs render in worker threads: two first exports at once must not wrap twice."""
_PER_CHARACTER = ("rotate", "letter-spacing", "textLength")
_POSITIONS = ("x", "y", "dx", "dy")


class _Run(str):
    """A label WeasyPrint's drawer takes as one letter: iterating it yields itself."""

    __slots__ = ()

    def __iter__(self) -> Iterator[str]:
        yield str(self)


def _placed_once(attributes: Any) -> bool:
    """True when nothing in `attributes` places characters one by one."""
    if any(name in attributes for name in _PER_CHARACTER):
        return False
    return all(len(str(attributes.get(name, "")).split()) <= 1 for name in _POSITIONS)


Drawer = Callable[[Any, Any, float], Any]


def _as_one_run(letter_by_letter: Drawer) -> Drawer:
    def draw(svg: Any, node: Any, font_size: float) -> Any:
        element = node._etree_node
        text = element.text
        if not text or len(text) < 2 or not _placed_once(node.attrib):
            return letter_by_letter(svg, node, font_size)
        element.text = _Run(text)
        try:
            return letter_by_letter(svg, node, font_size)
        finally:
            element.text = text

    draw.wrapped = letter_by_letter  # type: ignore[attr-defined]
    return draw


def _registered(tags: dict[str, Drawer], drawer: Drawer) -> bool:
    return tags.get("text") is drawer


def install() -> bool:
    """Make WeasyPrint draw simple SVG labels as whole runs; True when it does. Idempotent."""
    from weasyprint import svg as weasy_svg

    with _installing:
        tags = getattr(weasy_svg, "TAGS", None)
        current: Drawer | None = getattr(weasy_svg, "text", None)
        if current is None or not isinstance(tags, dict) or not _registered(tags, current):
            return False
        if getattr(current, "wrapped", None) is not None:  # installed already
            return True
        one_run = _as_one_run(current)
        # draw_node tells text nodes by `TAGS.get(tag) == text`: both names change together.
        for tag, drawer in tags.items():
            if drawer is current:
                tags[tag] = one_run
        weasy_svg.text = one_run
        return True
