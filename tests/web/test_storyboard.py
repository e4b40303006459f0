"""A facilitator reads a scenario as a storyboard before running it."""

from __future__ import annotations

from xml.etree import ElementTree

from tests.live import LiveServer, sign_in


def test_the_storyboard_shows_injects_in_order_decisions_and_deadlines(
    live_server: LiveServer,
) -> None:
    facilitator = sign_in(live_server)
    page = facilitator.get("/scenarios/mini.yaml")
    assert page.status_code == 200
    html = page.text
    # Timed injects in scenario order, the variable filled with its default.
    assert html.index("EDR alert at Acme Retail") < html.index("Ransom note")
    assert "if not sent to legal" in html  # the nudge's condition, in words
    assert "Pay the ransom?" in html and "Tell legal within 30 minutes" in html
    assert 'src="/scenarios/mini.yaml/graph.svg"' in html
    graph = facilitator.get("/scenarios/mini.yaml/graph.svg")
    assert graph.headers["content-type"].startswith("image/svg+xml")
    ElementTree.fromstring(graph.text)


def test_the_storyboard_needs_a_facilitator_and_a_real_file(live_server: LiveServer) -> None:
    anonymous = live_server.client().get("/scenarios/mini.yaml", follow_redirects=False)
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
    assert live_server.client().get("/scenarios/mini.yaml/graph.svg").status_code == 401
    facilitator = sign_in(live_server)
    assert facilitator.get("/scenarios/..%2Fconftest.py").status_code == 404
    assert facilitator.get("/scenarios/nope.yaml").status_code == 404


def test_scenario_markdown_is_rendered_and_what_could_run_is_removed() -> None:
    from html.parser import HTMLParser

    from app.authoring.markdown import render_markdown

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.found.append((tag, attrs))

    html = str(
        render_markdown(
            "**Ransom** note\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1))"
            ' <img src=x onerror="alert(1)"> [portal](https://portal.example/report)'
        )
    )
    parser = Tags()
    parser.feed(html)
    tags = [tag for tag, _ in parser.found]
    assert "strong" in tags and "script" not in tags and "img" not in tags
    hrefs = [value for _, attrs in parser.found for name, value in attrs if name == "href"]
    assert hrefs == ["https://portal.example/report"]  # no javascript: link survives
    assert not [n for _, attrs in parser.found for n, _ in attrs if n.startswith("on")]
