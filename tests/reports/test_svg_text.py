"""The report's figures in the PDF: a label is drawn as one run of text where WeasyPrint
would draw it letter by letter, and lands in the same place."""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from app.reports import svg_text
from tests.reports.test_render import poppler

LABELS = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 220" width="400"
 height="220" font-family="Liberation Sans, sans-serif" font-size="12">
<text x="200" y="30" text-anchor="middle">Centred under its node</text>
<text x="390" y="60" text-anchor="end" fill="#64748b">Ends at the right edge</text>
<text x="10" y="90" font-weight="bold">Options<tspan fill="#6366f1"> · default</tspan></text>
<g transform="translate(20,0)" opacity="0.32"><text x="10" y="120">Dimmed branch</text></g>
<text x="10" y="150" transform="rotate(-35 10 150)">T+04:00 rotated</text>
<text x="10 60 110" y="190">XYZ</text>
</svg>"""
"""Labels as the branch graph and the charts write them (anchored, bold with a tspan,
dimmed in a group, rotated), and one whose letters are placed one by one."""

Word = tuple[str, float, float, float, float]


def _pdf_words(svg: str, tmp_path: Path) -> list[Word]:
    from weasyprint import HTML, URLFetcher

    source = base64.b64encode(svg.encode()).decode()
    document = f'<img src="data:image/svg+xml;base64,{source}" style="width: 140mm">'
    pdf = HTML(string=document, url_fetcher=URLFetcher(allowed_protocols=("data",))).write_pdf()
    path = tmp_path / "labels.pdf"
    path.write_bytes(pdf)
    out = tmp_path / "labels.html"
    subprocess.run([poppler("pdftotext"), "-bbox", str(path), str(out)], check=True)
    found = re.findall(
        r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        out.read_text(encoding="utf-8"),
    )
    return [(w, float(x0), float(y0), float(x1), float(y1)) for x0, y0, x1, y1, w in found]


@contextmanager
def _letter_by_letter() -> Iterator[None]:
    """WeasyPrint's own drawer, for the length of the block."""
    from weasyprint import svg as weasy_svg

    svg_text.install()
    ours = weasy_svg.text
    theirs: Any = ours.wrapped
    tags = dict(weasy_svg.TAGS)
    weasy_svg.text = theirs
    weasy_svg.TAGS.update({tag: theirs for tag, drawer in tags.items() if drawer is ours})
    try:
        yield
    finally:
        weasy_svg.text = ours
        weasy_svg.TAGS.update(tags)


def test_each_label_lands_where_weasyprint_puts_it_letter_by_letter(tmp_path: Path) -> None:
    with _letter_by_letter():
        theirs = _pdf_words(LABELS, tmp_path)
    assert svg_text.install() and svg_text.install()  # a second call changes nothing
    ours = _pdf_words(LABELS, tmp_path)

    # pdftotext cuts rotated text into pieces at no fixed places: the rotated label is
    # compared as its letters and the box around them, the others word by word.
    ours_level, ours_rotated = _split_rotated(ours)
    theirs_level, theirs_rotated = _split_rotated(theirs)
    assert [w[0] for w in ours_level] == [w[0] for w in theirs_level]
    assert {"Centred", "default", "Dimmed", "X", "Y", "Z"} <= {w[0] for w in ours_level}
    for mine, reference in zip(ours_level, theirs_level, strict=True):
        # Kerning, which letters drawn one by one lose, moves an edge by a fraction of a point.
        assert mine[1:] == pytest.approx(reference[1:], abs=1.0), (mine, reference)
    assert sorted("".join(w[0] for w in ours_rotated)) == sorted("T+04:00rotated")
    assert _box(ours_rotated) == pytest.approx(_box(theirs_rotated), abs=1.0)


ROTATED = set("T+04:00rotated")


def _split_rotated(words: list[Word]) -> tuple[list[Word], list[Word]]:
    rotated = [w for w in words if set(w[0]) <= ROTATED and w[0] not in {"at", "the"}]
    return [w for w in words if w not in rotated], rotated


def _box(words: list[Word]) -> tuple[float, float, float, float]:
    return (
        min(w[1] for w in words),
        min(w[2] for w in words),
        max(w[3] for w in words),
        max(w[4] for w in words),
    )


def test_a_label_placed_letter_by_letter_keeps_each_letter_in_its_place(
    tmp_path: Path,
) -> None:
    svg_text.install()
    words = {w[0]: w for w in _pdf_words(LABELS, tmp_path)}
    x, y, z = (words[letter][1] for letter in "XYZ")
    # 50 of the picture's 400 units apart, on a picture 140 mm (about 397 pt) wide.
    assert y - x == pytest.approx(49.6, abs=1.0)
    assert z - y == pytest.approx(49.6, abs=1.0)


def test_a_centred_label_is_centred_and_an_ending_one_ends_at_its_point(
    tmp_path: Path,
) -> None:
    svg_text.install()
    words = {w[0]: w for w in _pdf_words(LABELS, tmp_path)}
    # The picture's scale and origin on the page, from two labels' outer edges: "Options"
    # starts at x=10 and "edge" (anchored at its end) ends at x=390.
    start, end = words["Options"][1], words["edge"][3]
    scale = (end - start) / 380
    assert scale == pytest.approx(396.85 / 400, rel=0.02)
    centred = (words["Centred"][1] + words["node"][3]) / 2
    assert centred == pytest.approx(start + 190 * scale, abs=1.5)
