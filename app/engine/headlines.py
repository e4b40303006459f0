"""A decision's prompt or a public post as a one-line title.

Scenario text is Markdown written in YAML blocks, wrapped wherever its author's editor
wrapped it: the first line of a prompt is often half a sentence ("...cannot be reached.
Encryption is"). A title is the first paragraph as a reader sees it (wrapped lines joined,
Markdown's marks gone) up to the first line that ends a sentence, cut where a sentence
ends or, failing that, where a word ends, with an ellipsis to say so.
"""

from __future__ import annotations

import re

ELLIPSIS = "\u2026"

_BLOCK_START = re.compile(r"^\s{0,3}(?:#{1,6}\s|>|[-*+]\s|\d{1,9}[.)]\s|```|~~~)")
"""A line that starts a heading, quote, list item or code fence: a new paragraph."""
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_LINE_MARK = re.compile(r"^\s{0,3}(?:#{1,6}\s+|(?:>\s?)+|[-*+]\s+|\d{1,9}[.)]\s+)")
_PAIRED = re.compile(r"(\*\*|__|\*|`)(?=\S)(.+?)(?<=\S)\1")
"""Strong, emphasis and code spans; an underscore only in pairs (`__x__`) or below."""
_UNDERSCORED = re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)")
"""`_x_` emphasis: not inside a word, so `svc_backup` keeps its underscore."""
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_SENTENCE_END = re.compile(r"[.?!][\"'\u2019\u201d)\]]*(?=\s+[A-Z\"'\u2018\u201c{])")
"""The end of a sentence: the next one starts with a capital, a quote or a {{variable}}
(so "Art. 34" and "e.g. a" do not end one)."""


def headline(text: str, width: int = 120) -> str:
    """`text`'s first paragraph as plain words on one line, at most `width` characters:
    whole sentences when the first fits, else cut after a word, ending in an ellipsis."""
    title = _title(text)
    if len(title) <= width:
        return title
    ends = [end for end in _sentence_ends(title) if end <= width]
    if ends and ends[-1] >= width // 3:
        return title[: ends[-1]]
    room = width - len(ELLIPSIS)
    cut = title.rfind(" ", 0, room + 1)
    if cut < room // 3:  # one very long word: cut inside it
        cut = room
    return title[:cut].rstrip(" ,;:-\u2013\u2014") + ELLIPSIS


def _title(text: str) -> str:
    """The first paragraph, up to the first of its lines that ends a sentence: where a
    line ends a sentence its author chose to break (a question on a line of its own)."""
    lines = _first_paragraph(text)
    paragraph = " ".join(lines)
    ends = set(_sentence_ends(paragraph))
    line_end = -1
    for line in lines[:-1]:
        line_end += 1 + len(line)
        if line_end in ends:
            return paragraph[:line_end]
    return paragraph


def _sentence_ends(text: str) -> list[int]:
    """Where sentences end in `text`: not inside brackets."""
    return [m.end() for m in _SENTENCE_END.finditer(text) if _balanced(text[: m.end()])]


def _balanced(text: str) -> bool:
    """No bracket left open: a sentence does not end inside one."""
    return text.count("(") <= text.count(")") and text.count("[") <= text.count("]")


def _first_paragraph(text: str) -> list[str]:
    """The first paragraph's lines, each plain words (a heading is a paragraph alone)."""
    lines: list[str] = []
    for line in text.strip().splitlines():
        if not line.strip() or (lines and _BLOCK_START.match(line)):
            if lines:
                break
            continue
        plain = _plain(_LINE_MARK.sub("", line))
        if plain:
            lines.append(plain)
        if _HEADING.match(line):
            break
    return lines


def _plain(markdown: str) -> str:
    text = _LINK.sub(r"\1", markdown)
    text = _PAIRED.sub(r"\2", text)
    return " ".join(_UNDERSCORED.sub(r"\1", text).split())
