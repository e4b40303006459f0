"""The report's exports, on the scripted drill and on a long dry run: JSON that validates,
CSV that parses, Markdown, one self-contained HTML file (opened in real Chromium) and a
PDF, all with the same sections and the same score figures."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader
from jsonschema import Draft202012Validator
from playwright.sync_api import Browser, ConsoleMessage, Request

from app.engine.scenario import Scenario
from app.reports import formats as fmt
from app.reports import render
from app.reports.build import Inputs, build_report
from app.reports.model import Element, ImprovementItem, Report, TimelineLine, report_schema
from tests.reports.sample import NOW, dry_run_inputs, scripted_inputs

SCREENS = Path("/tmp/tabletop-report-screens")
# The report's sections in the order a reader meets them (anchor, heading), written out
# here rather than read from the renderer, so a section lost or moved fails a test.
REPORT_SECTIONS = [
    ("overview", "Overview"),
    ("summary", "Executive summary"),
    ("objectives", "Objectives"),
    ("scores", "Scores"),
    ("metrics", "Incident metrics and first updates"),
    ("decisions", "Decisions"),
    ("communications", "Communications"),
    ("regulatory", "Regulatory readiness"),
    ("outside", "The outside world"),
    ("path", "Path taken"),
    ("knowledge", "Who knew what when"),
    ("road", "The road not taken"),
    ("hot-wash", "Hot wash"),
    ("timeline", "Timeline"),
    ("plan", "Improvement plan"),
]
PARTICIPANTS = ["Irene Adler", "Carl Jones", "Lena Park", "Eve Moneypenny", "Oscar Observer"]


@dataclass(frozen=True)
class Rendered:
    name: str
    report: Report
    scenario: Scenario
    json: str
    markdown: str
    html: str
    pdf: bytes


def _rendered(name: str, inputs: Inputs) -> Rendered:
    report = build_report(inputs, NOW)
    return Rendered(
        name,
        report,
        inputs.scenario,
        render.render_json(report),
        render.render_markdown(report, inputs.scenario),
        render.render_html(report, inputs.scenario),
        render.render_pdf(report, inputs.scenario),
    )


@pytest.fixture(scope="module")
def scripted() -> Rendered:
    return _rendered("scripted", scripted_inputs())


@pytest.fixture(scope="module")
def dry_run() -> Rendered:
    return _rendered("dry-run", dry_run_inputs())


@pytest.fixture(scope="module", params=["scripted", "dry-run"])
def drill(request: pytest.FixtureRequest) -> Rendered:
    fixture = "scripted" if request.param == "scripted" else "dry_run"
    rendered: Rendered = request.getfixturevalue(fixture)
    return rendered


def poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        message = f"{tool} is missing: install Debian's poppler-utils (scripts/test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        [poppler("pdftotext"), "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        check=True,
        text=True,
    )
    return " ".join(done.stdout.split())


def pdf_pages(pdf: bytes, tmp_path: Path) -> int:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        [poppler("pdfinfo"), str(path)], capture_output=True, check=True, text=True
    )
    found = re.search(r"^Pages:\s+(\d+)$", done.stdout, re.MULTILINE)
    assert found is not None, done.stdout
    return int(found.group(1))


def html_text(document: str) -> str:
    """What a reader sees: tags and the stylesheet gone, entities decoded."""
    body = re.sub(r"<style>.*?</style>", " ", document, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def score_figures(report: Report) -> list[str]:
    """Every score the report prints: the overall sentence, points and percentages."""
    s = report.scores
    figures = [f"Overall score: {fmt.score(s.overall)}."]
    totals = [*s.dimensions.values(), *s.roles.values(), *s.objectives.values()]
    for total in totals:
        figures.append(f"{fmt.points(total.points)} / {fmt.points(total.max_points)}")
        if total.percent is not None:
            figures.append(fmt.percent(total))
    figures += [fmt.score(o.score) for o in report.objectives]
    return figures


# --------------------------------------------------------------------------- JSON


def test_json_validates_against_the_schema_and_round_trips(drill: Rendered) -> None:
    document = json.loads(drill.json)
    errors = list(Draft202012Validator(report_schema()).iter_errors(document))
    assert errors == []
    back = Report.model_validate_json(drill.json)
    assert back == drill.report
    assert score_figures(back) == score_figures(drill.report)


# --------------------------------------------------------------------------- CSV


def test_timeline_csv(drill: Rendered) -> None:
    rows = list(csv.reader(io.StringIO(render.render_csv(drill.report, "timeline"))))
    assert rows[0] == ["seq", "offset", "story_time", "kind", "text"]
    assert len(rows) == 1 + len(drill.report.timeline)
    assert [int(r[0]) for r in rows[1:]] == [t.seq for t in drill.report.timeline]
    assert rows[1][1] == "T+00:00"


def test_plan_csv(scripted: Rendered) -> None:
    rows = list(csv.reader(io.StringIO(render.render_csv(scripted.report, "plan"))))
    assert rows[0] == list(ImprovementItem.model_fields)
    assert len(rows) == 1 + len(scripted.report.improvement_plan) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["corrective_action"] == "Add legal to the first-hour call tree"
    assert row["element"] == "planning"
    assert row["due"] == "2027-02-01"
    assert row["closed_at"] == ""


def test_plan_csv_of_a_drill_without_items(dry_run: Rendered) -> None:
    rows = list(csv.reader(io.StringIO(render.render_csv(dry_run.report, "plan"))))
    assert rows == [list(ImprovementItem.model_fields)]


def test_csv_cells_never_run_as_formulas(scripted: Rendered) -> None:
    item = scripted.report.improvement_plan[0].model_copy(
        update={"issue": '=HYPERLINK("http://x","y")', "contact": "@ops", "capability": "-1+1"}
    )
    report = scripted.report.model_copy(update={"improvement_plan": [item]})
    rows = list(csv.reader(io.StringIO(render.render_csv(report, "plan"))))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["issue"] == '\'=HYPERLINK("http://x","y")'
    assert row["contact"] == "'@ops"
    assert row["capability"] == "'-1+1"


# --------------------------------------------------------------------------- Markdown


def test_markdown_has_every_section_and_the_scores(drill: Rendered) -> None:
    lines = drill.markdown.splitlines()
    headings = [line[3:] for line in lines if line.startswith("## ")]
    assert headings == [title for _, title in REPORT_SECTIONS]
    assert f"### {render.RETESTED}" in lines
    assert lines[0] == f"# After-action report: {drill.report.overview.name}"
    for figure in score_figures(drill.report):
        assert figure in drill.markdown, figure


def test_markdown_tables_are_well_formed(drill: Rendered) -> None:
    """Every row of a table has as many cells as its header (escaped pipes aside)."""
    widths: list[int] = []
    for line in drill.markdown.splitlines():
        if not line.startswith("|"):
            widths = []
            continue
        cells = len(re.split(r"(?<!\\)\|", line)) - 2
        widths.append(cells)
        assert cells == widths[0], line


def test_markdown_escapes_pipes_and_newlines_in_cells(scripted: Rendered) -> None:
    item = scripted.report.improvement_plan[0].model_copy(
        update={"issue": "Legal | PR disagreed\nabout the line", "corrective_action": "<b>x</b>"}
    )
    report = scripted.report.model_copy(update={"improvement_plan": [item]})
    markdown = render.render_markdown(report)
    row = next(line for line in markdown.splitlines() if "Legal \\| PR" in line)
    assert "Legal \\| PR disagreed<br>about the line" in row
    assert "&lt;b>x&lt;/b>" in row
    assert len(re.split(r"(?<!\\)\|", row)) - 2 == 9


def test_markdown_joins_the_lines_a_scenario_file_wrapped(scripted: Rendered) -> None:
    """A facilitator's note is scenario Markdown, wrapped where its YAML was: one line in
    a table cell, as the HTML shows it, not a <br> at every wrap."""
    road = scripted.report.road_not_taken[0]
    option = road.untaken[0].model_copy(update={"feedback": "Reasonable but too\nnarrow."})
    roads = [road.model_copy(update={"untaken": [option]})]
    markdown = render.render_markdown(scripted.report.model_copy(update={"road_not_taken": roads}))
    assert "| Reasonable but too narrow. |" in markdown


def test_markdown_marks_edited_ratings_and_stand_ins(scripted: Rendered) -> None:
    markdown = scripted.markdown
    assert "- Rating: S: Performed with some challenges _(edited by reviewer; derived P)_" in (
        markdown
    )
    assert "| Eve Moneypenny | Executive sponsor (CISO) | Legal counsel |" in markdown
    assert "The team contained quickly but told legal late." in markdown
    assert "Not answered: default applied (" in markdown
    assert "| Tell the executive (from Incident manager) |" in markdown
    assert "+0h 10m" in markdown


def test_empty_sections_say_so(dry_run: Rendered) -> None:
    for sentence in (
        "Nobody joined this drill",
        "The reviewer has not written an executive summary yet.",
        "Nobody has answered the hot-wash questions yet.",
        "No improvement items have been recorded for this drill yet.",
        "No open items from earlier drills were re-tested by this drill.",
    ):
        assert sentence in dry_run.markdown
        assert sentence in html_text(dry_run.html)


# --------------------------------------------------------------------------- HTML


def test_html_is_one_self_contained_file(drill: Rendered) -> None:
    document = drill.html
    assert document.startswith("<!doctype html>")
    assert "<script" not in document.lower()
    assert re.findall(r"<[^>]*\son[a-z]+\s*=", document, re.IGNORECASE) == []  # no handlers
    assert re.findall(r"https?://", document) == ["http://"] * document.count(
        "http://www.w3.org/2000/svg"
    )
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", document)
    assert "@import" not in document
    assert re.findall(r"url\((?!#)", document) == []
    assert document.count('<svg xmlns="http://www.w3.org/2000/svg"') == 2


def test_html_sections_follow_the_report_order(drill: Rendered) -> None:
    found = re.findall(r'<h2 id="aar-([\w-]+)-h">([^<]+)</h2>', drill.html)
    assert found == REPORT_SECTIONS
    text = html_text(drill.html)
    for figure in score_figures(drill.report):
        assert figure in text, figure


def test_html_escapes_what_people_typed(scripted: Rendered) -> None:
    hostile = '<img src=x onerror="alert(1)">'
    report = scripted.report.model_copy(
        update={
            "summary": hostile,
            "overview": scripted.report.overview.model_copy(update={"name": hostile}),
        }
    )
    document = render.render_html(report, scripted.scenario)
    assert "<img" not in document
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in document


HOSTILE_LINE = TimelineLine(
    seq=7,
    scenario_time=60.0,
    offset="T+00:01",
    story_time="Thu <b>24</b> & 'Dec'",
    kind='message_sent"><script>alert(1)</script>',
    text='<script>alert("x")</script> & Co\'s <i>note</i>',
)


def _timeline_loop(lines: list[TimelineLine]) -> str:
    """The rows as report/body.html's own loop writes them (what a browser page gets)."""
    env = Environment(loader=FileSystemLoader(render.TEMPLATES), autoescape=True)
    source = (Path(render.TEMPLATES) / "report" / "body.html").read_text()
    loop = re.search(r"\{% else %\}(\{% for t in report.timeline %\}.*?\{% endfor %\})", source)
    assert loop is not None
    return env.from_string(loop.group(1)).render(report={"timeline": lines})


def test_timeline_rows_written_in_python_match_the_template(drill: Rendered) -> None:
    lines = [*drill.report.timeline, HOSTILE_LINE]
    assert str(render.timeline_rows(lines)) == _timeline_loop(lines)
    # A value holding the character a column is joined with for escaping is escaped too.
    joined = HOSTILE_LINE.model_copy(update={"text": "a\x1f<b>b</b>", "story_time": "\x1f"})
    lines = [*lines, joined]
    assert str(render.timeline_rows(lines)) == _timeline_loop(lines)
    assert "a\x1f&lt;b&gt;b&lt;/b&gt;" in str(render.timeline_rows(lines))


def test_timeline_rows_escape_what_the_log_says(scripted: Rendered) -> None:
    report = scripted.report.model_copy(update={"timeline": [HOSTILE_LINE]})
    document = render.render_html(report, scripted.scenario)
    assert "<script" not in document
    assert "<b>24" not in document and "<i>note" not in document
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co&#39;s" in document
    assert 'class="aar-kind-message_sent&#34;&gt;&lt;script&gt;' in document


def test_html_tells_the_scripted_drill(scripted: Rendered) -> None:
    text = html_text(scripted.html)
    for name in PARTICIPANTS:
        assert name in text
    assert "(edited by reviewer; derived P)" in text
    assert "Eve Moneypenny Executive sponsor (CISO) Legal counsel" in text
    assert "Irene Adler, Incident manager" in text  # who answered the decisions
    assert "Not answered default applied (" in text
    assert "3m 0s" not in text
    assert "0h 03m of 0h 10m" in text  # latency against the limit
    assert "T+01:00 T+01:10 by Incident manager +0h 10m Late 6.67 / 10" in text
    assert "Nobody asked legal about the ransom" in text
    assert "Add legal to the first-hour call tree" in text


def test_html_opens_offline_in_chromium(browser: Browser, drill: Rendered) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    fetched: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    def on_request(request: Request) -> None:
        if not request.url.startswith(("about:", "data:")):
            fetched.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("request", on_request)
    try:
        page.set_content(drill.html, wait_until="load")
        graph = page.locator("svg.branch-graph")
        assert graph.is_visible()
        box = graph.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100
        taken = page.locator("svg.branch-graph .node.taken")
        drawn = {n for n in drill.report.path if page.locator(f'[data-node="{n}"]').count()}
        assert taken.count() == len(drawn) > 0
        assert page.locator("svg.branch-graph path.edge.taken").count() > 0
        chart = page.locator("svg.tt-chart")
        assert chart.is_visible()
        chart_box = chart.bounding_box()
        assert chart_box is not None and chart_box["width"] > 100
        assert page.title() == f"After-action report: {drill.report.overview.name}"
        page.screenshot(path=str(SCREENS / f"html-{drill.name}.png"), full_page=True)
    finally:
        page.close()
    assert problems == []
    assert fetched == []


# --------------------------------------------------------------------------- PDF


def test_pdf_has_pages_sections_people_and_scores(drill: Rendered, tmp_path: Path) -> None:
    assert drill.pdf.startswith(b"%PDF-")
    pages = pdf_pages(drill.pdf, tmp_path)
    assert pages > 1
    text = pdf_text(drill.pdf, tmp_path)
    for _, heading in REPORT_SECTIONS:
        assert heading in text, heading
    assert render.RETESTED in text
    for person in drill.report.overview.participants:
        assert person.name in text
    # pdftotext guesses spaces from glyph gaps (a narrow "0 / 0" comes out "0/0"): compare
    # the figures without them.
    bare = re.sub(r"\s", "", text)
    for figure in score_figures(drill.report):
        assert re.sub(r"\s", "", figure) in bare, figure
    assert f"Page {pages} of {pages}" in text
    assert "Page 2 of" in text


def test_pdf_table_headings_keep_their_words_whole(drill: Rendered, tmp_path: Path) -> None:
    """On paper the columns have fixed shares: a share too narrow for its heading broke
    it inside a word ("REVEALE D", "ELEMEN T")."""
    heads = re.findall(r"<thead>(.*?)</thead>", drill.html, flags=re.DOTALL)
    words = {
        word.strip("()").upper()
        for head in heads
        for cell in re.findall(r"<th\b[^>]*>(.*?)</th>", head, flags=re.DOTALL)
        for word in html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()
    }
    assert {"OBJECTIVE", "DECISION", "WHAT", "HAPPENED"} <= words
    printed = {token.strip("()") for token in pdf_text(drill.pdf, tmp_path).split()}
    assert sorted(words - printed) == []


def test_pdf_prints_nothing_past_the_right_margin(drill: Rendered, tmp_path: Path) -> None:
    """A cell that may not wrap (a rating's label once) ran past its table and the page's
    margin on paper, where a browser's table would have widened."""
    path = tmp_path / "report.pdf"
    path.write_bytes(drill.pdf)
    done = subprocess.run(
        [poppler("pdftotext"), "-bbox", str(path), "-"], capture_output=True, check=True, text=True
    )
    mm = 72 / 25.4
    past = []
    for number, page in enumerate(done.stdout.split("<page ")[1:], start=1):
        found = re.search(r'width="([\d.]+)"', page)
        assert found is not None
        width = float(found.group(1))
        # report.css: 17 mm each side upright, 15 mm on a landscape page
        right = width - (15 if width > 600 else 17) * mm
        past += [
            (number, word)
            for x_max, word in re.findall(r'xMax="([\d.]+)"[^>]*>([^<]*)</word>', page)
            if float(x_max) > right + 0.5
        ]
    assert past == []


def test_pdf_names_every_participant_of_the_scripted_drill(
    scripted: Rendered, tmp_path: Path
) -> None:
    text = pdf_text(scripted.pdf, tmp_path)
    for name in PARTICIPANTS:
        assert name in text


def test_pdf_of_a_dry_run_is_long(dry_run: Rendered, tmp_path: Path) -> None:
    assert pdf_pages(dry_run.pdf, tmp_path) >= 10
    text = pdf_text(dry_run.pdf, tmp_path)
    assert "NCSC-NL (NIS2 early warning)" in text  # the drill's names, not {{csirt}}
    assert "{{" not in text and "}}" not in text
    SCREENS.mkdir(parents=True, exist_ok=True)
    (SCREENS / "report-dry-run.pdf").write_bytes(dry_run.pdf)


# --------------------------------------------------------------------------- formats


def _jinja(macro: str, value: object) -> str:
    template = render.environment().from_string(
        '{% import "report/format.html" as f %}{{ f.' + macro + "(value) }}"
    )
    return template.render(value=value)


@pytest.mark.parametrize("seconds", [0, 29.5, 30.5, 59, 60, 3599.6, 4200, 100_000, -600, None])
def test_jinja_clock_matches_python(seconds: float | None) -> None:
    assert _jinja("clock", seconds) == fmt.clock(seconds)


@pytest.mark.parametrize("seconds", [0, 20, 30, 89, 90, 600, -600, -20, 25 * 3600 + 3540, None])
def test_jinja_spans_and_deltas_match_python(seconds: float | None) -> None:
    assert _jinja("span", seconds) == fmt.span(seconds)
    assert _jinja("delta", seconds) == fmt.delta(seconds)


@pytest.mark.parametrize(
    "timestamp",
    [0, 951_782_400, 1_709_164_800, 1_800_100_000.5, 4_102_444_800, 4_107_542_399, None],
)
def test_jinja_dates_match_python(timestamp: float | None) -> None:
    assert _jinja("day", timestamp) == fmt.day(timestamp)
    assert _jinja("stamp", timestamp) == fmt.stamp(timestamp)


@pytest.mark.parametrize("value", [0, -0.0, 9.67, 20.0, -2, 0.1, 1234.5, 80.03, 1e-9, -0.001])
def test_jinja_points_match_python(value: float) -> None:
    assert _jinja("pts", value) == fmt.points(value)


def test_formats() -> None:
    assert fmt.clock(4200) == "T+01:10"
    assert fmt.delta(600) == "+0h 10m"
    assert fmt.delta(-3900) == "-1h 05m"
    assert fmt.span(28 * 3600) == "28h 00m"
    assert fmt.day(1_800_000_000) == "2027-01-15"
    assert fmt.stamp(1_800_000_000) == "2027-01-15 08:00 UTC"
    assert fmt.points(6.666) == "6.67"
    assert fmt.points(-2.0) == "-2"


def test_improvement_item_dates_and_elements_read_plainly(scripted: Rendered) -> None:
    item = ImprovementItem(
        id="item-2",
        drill_id="d1",
        scenario_id="engine-test",
        capability="Operational coordination",
        issue="Nobody owned the bridge",
        corrective_action="Name a bridge owner",
        element=Element.organisation,
        responsible="CISO office",
        contact="Rita Reviewer",
        start=date(2027, 3, 1),
    )
    report = scripted.report.model_copy(update={"retested": [item]})
    text = html_text(render.render_html(report, scripted.scenario))
    assert "Nobody owned the bridge from drill d1" in text
    assert f"Organisation CISO office Rita Reviewer 2027-03-01 {fmt.NONE} Open" in text


def test_the_body_partial_renders_in_a_plain_environment(scripted: Rendered) -> None:
    """A browser page includes report/body.html with only the report and the scenario, in
    an environment with no filters of ours and lenient undefineds (as Starlette's)."""
    env = Environment(loader=FileSystemLoader(render.TEMPLATES), autoescape=True)
    body = env.get_template("report/body.html").render(
        report=scripted.report, scenario=scripted.scenario
    )
    assert "<svg" not in body  # the figures are the page's to show
    assert "<style" not in body
    assert " style=" not in body  # a strict CSP (style-src 'self') blocks inline styles
    assert re.findall(r'<h2 id="aar-([\w-]+)-h">([^<]+)</h2>', body) == REPORT_SECTIONS
    text = html_text(body)
    for figure in score_figures(scripted.report):
        assert figure in text, figure


def test_the_summary_keeps_its_paragraphs(scripted: Rendered) -> None:
    report = scripted.report.model_copy(update={"summary": "One.\r\nStill one.\r\n\r\nTwo."})
    document = render.render_html(report, scripted.scenario)
    assert '<div class="aar-prose"><p>One.\nStill one.</p><p>Two.</p></div>' in document
    assert "\nOne.\nStill one.\n\nTwo.\n" in render.render_markdown(report)


def test_every_printed_table_gives_each_column_room() -> None:
    """On paper the tables are laid out fixed, from their header cells' `aar-wN` shares:
    a share without a rule would leave its column to chance, and shares that fill the
    page would squeeze the others to nothing."""
    stylesheet = (render.TEMPLATES / "report" / "report.css").read_text(encoding="utf-8")
    rules = {int(n) for n in re.findall(r"\.aar-w(\d+) \{ width: \1%; \}", stylesheet)}
    body = (render.TEMPLATES / "report" / "body.html").read_text(encoding="utf-8")
    heads = re.findall(r"<thead>(.*?)</thead>", body, flags=re.DOTALL)
    assert len(heads) >= 20
    used: set[int] = set()
    for head in heads:
        cells = re.findall(r"<th\b[^>]*>", head)
        shares = [int(n) for cell in cells for n in re.findall(r"\baar-w(\d+)\b", cell)]
        used.update(shares)
        left_over = len(cells) - len(shares)
        assert sum(shares) + 8 * left_over <= 100, head
        assert left_over or sum(shares) == 100, head
    assert used <= rules, f"no print rule for aar-w{sorted(used - rules)}"
    assert rules - used == set(), f"rules no table uses: aar-w{sorted(rules - used)}"
