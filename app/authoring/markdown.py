"""Scenario Markdown to HTML that is safe to put in a page.

markdown-it renders with raw HTML disabled, then nh3 (the Ammonia sanitiser) keeps only
harmless tags and attributes, so script, event handlers and javascript: links never
survive, whatever a scenario file says.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
}


@lru_cache(maxsize=2048)  # the same inject reaches many people: render it once
def render_markdown(text: str) -> Markup:
    html = _md.render(text)
    # Headings are demoted below the page's own (h1/h2 become h3); links never open in place.
    for level in (1, 2):
        html = html.replace(f"<h{level}>", "<h3>").replace(f"</h{level}>", "</h3>")
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)  # noqa: S704 - sanitised by nh3 just above
