"""What the report charts and the branch graph share in writing SVG by hand.

Text measured without a renderer (`text_width`, `fit`, `wrap`, for the `FONT` stack both
draw in), text and attribute values escaped for XML, and the few pieces both write the same
way: the root element with its title, attribute lists, tooltips and point lists. Pure
string building: no FastAPI, SQLAlchemy or asyncio.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from xml.sax.saxutils import escape

FONT = (
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, "
    "'Liberation Sans', 'DejaVu Sans', sans-serif"
)

# --------------------------------------------------------------------------- text sizes

# Advance widths in em of DejaVu Sans, the widest font a browser or WeasyPrint on Linux
# is likely to fall back to: estimated with these, a text never overflows its box (with
# narrower fonts such as Arial or Segoe UI it just leaves a little more room).
_EM = {
    **dict.fromkeys("ijl", 0.278),
    **dict.fromkeys(" .,:;!'|", 0.318),
    **dict.fromkeys("ft()[]/-", 0.37),
    **dict.fromkeys("r", 0.411),
    **dict.fromkeys("Ic", 0.55),
    **dict.fromkeys("szJ", 0.53),
    **dict.fromkeys("kvxy", 0.592),
    **dict.fromkeys("abdeghnopqu0123456789", 0.636),
    **dict.fromkeys("EFLPTZ", 0.63),
    **dict.fromkeys("ABKRSVXY", 0.7),
    **dict.fromkeys("CDGHNOQU", 0.78),
    **dict.fromkeys("w", 0.818),
    **dict.fromkeys("mM", 0.974),
    **dict.fromkeys("W@%", 1.0),
    "…": 1.0,
}
_BOLD = 1.1


def text_width(text: str, size: float, bold: bool = False) -> float:
    # Anything not in the table (accents, symbols, other scripts) counts as wide.
    return sum(_EM.get(ch, 0.8) for ch in text) * size * (_BOLD if bold else 1.0)


def _prefix(text: str, budget: float, size: float, bold: bool) -> str:
    """The longest start of `text` within `budget`."""
    used = 0.0
    scale = size * (_BOLD if bold else 1.0)
    for i, ch in enumerate(text):
        used += _EM.get(ch, 0.8) * scale
        if used > budget:
            return text[:i]
    return text


def fit(text: str, max_width: float, size: float, bold: bool = False) -> str:
    """The text on one line, cut at a word where possible and ended with an ellipsis."""
    text = " ".join(text.split())
    if text_width(text, size, bold) <= max_width:
        return text
    cut = _prefix(text, max_width - text_width("…", size, bold), size, bold)
    space = cut.rfind(" ")
    if space > len(cut) * 0.6:  # prefer a whole word, unless that loses too much
        cut = cut[:space]
    return cut.rstrip(" ,;:-·") + "…"


def wrap(text: str, max_width: float, size: float, bold: bool = False, lines: int = 2) -> list[str]:
    """The text in at most `lines` lines, broken between words; the last one is cut
    with an ellipsis if the text is longer still."""
    rest = " ".join(text.split())
    out: list[str] = []
    while len(out) < lines - 1 and text_width(rest, size, bold) > max_width:
        cut = _prefix(rest, max_width, size, bold)
        space = cut.rfind(" ")
        if space > 0 and rest[len(cut) : len(cut) + 1] != " ":
            cut = cut[:space]  # a word that does not fit goes to the next line whole
        out.append(cut.rstrip())
        rest = rest[len(cut) :].lstrip()
    out.append(fit(rest, max_width, size, bold))
    return out


# --------------------------------------------------------------------------- markup

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


_NEEDS_WORK = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""What escape_text changes: most labels and tooltips have none of it, and one search
is cheaper than the sub and three replaces (a long drill's chart has 10,000 tooltips)."""


def escape_text(value: str) -> str:
    """Text content, escaped; characters XML 1.0 forbids are dropped, not passed on."""
    if _NEEDS_WORK.search(value) is None:
        return value
    return escape(_CONTROL.sub("", value))


def escape_attr(value: str) -> str:
    """An attribute value for double quotes; a newline stays a newline (tooltips)."""
    return escape(_CONTROL.sub("", value), {'"': "&quot;", "\n": "&#10;"})


def attributes(**values: str) -> str:
    """` name="value"` for each, in order. Python names become attribute names: a
    trailing underscore goes (`class_`), the others turn into hyphens (`text_anchor`)."""
    return "".join(
        f' {name.rstrip("_").replace("_", "-")}="{escape_attr(value)}"'
        for name, value in values.items()
    )


def tooltip(text: str) -> str:
    """A `<title>` child: the parent's tooltip, and its accessible name."""
    return f"<title>{escape_text(text)}</title>"


def open_svg(width: float, height: float, title: str, **attrs: str) -> list[str]:
    """The root element's start tag, sized in whole pixels, and the document's title."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}"{attributes(**attrs)}>',
        tooltip(title),
    ]


def point_list(pairs: Iterable[tuple[float, float]]) -> str:
    """A `points` list (polygon, polyline) to a tenth of a pixel."""
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in pairs)
