"""The after-action report's exports: JSON, Markdown, CSV, one self-contained HTML file and
a PDF made from that same HTML.

Every export reads the same `Report`, and every score reads through `app.reports.formats`
(or its Jinja twin), so a figure is the same string in all of them. Sections follow
HSEEP's After-Action Report / Improvement Plan and NIST SP 800-84, in SECTIONS order.
"""

from __future__ import annotations

import base64
import csv
import io
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from app.authoring.graph import branch_graph, render_svg
from app.engine.scenario import Scenario
from app.engine.scoring import Scorecard, Total, not_answered
from app.heap import collector_held
from app.reports import charts, svg_text
from app.reports import formats as fmt
from app.reports.model import (
    ImprovementItem,
    ObjectiveSection,
    RegulatoryDuty,
    Report,
    TimelineLine,
)
from app.resources import resource_dir

TEMPLATES = resource_dir("templates")

SECTIONS: tuple[tuple[str, str], ...] = (
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
)
"""(anchor, heading) of every section, in order; templates/report/body.html agrees."""

RETESTED = "Open items re-tested by this drill"
TIMELINE_COLUMNS = ("seq", "offset", "story_time", "kind", "text")
PLAN_COLUMNS = tuple(ImprovementItem.model_fields)
DIMENSION_LABELS = {
    "decisions": "Decisions",
    "communication": "Communication timing",
    "regulatory": "Regulatory notifications",
    "adjustments": "Facilitator adjustments",
}

# --------------------------------------------------------------------------- JSON


def render_json(report: Report) -> str:
    """The report as JSON: the document `report_schema()` describes."""
    return report.model_dump_json(indent=2) + "\n"


# --------------------------------------------------------------------------- CSV

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A CSV cell. Text that a spreadsheet would run as a formula (=, +, -, @) gets a
    leading apostrophe: scenario text and reviewer input are not trusted to be inert."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def render_csv(report: Report, table: Literal["timeline", "plan"]) -> str:
    """The timeline or the improvement plan as CSV (RFC 4180, header row first)."""
    out = io.StringIO()
    writer = csv.writer(out)
    if table == "timeline":
        writer.writerow(TIMELINE_COLUMNS)
        for line in report.timeline:
            writer.writerow(
                [line.seq, _cell(line.offset), _cell(line.story_time), line.kind, _cell(line.text)]
            )
    else:
        writer.writerow(PLAN_COLUMNS)
        for item in report.improvement_plan:
            row = item.model_dump(mode="json")
            writer.writerow([_cell(row[column]) for column in PLAN_COLUMNS])
    return out.getvalue()


# --------------------------------------------------------------------------- HTML and PDF

GRAPH_ROOM_MM = {"portrait": (176.0, 218.0), "landscape": (267.0, 140.0)}
"""Room for the branch graph on the first page of the "Path taken" section (A4 less the
margins, the heading, a sentence and the caption), upright and on its side (with the
narrower margins of the graph-landscape page). The timeline chart spans the width of the
next page."""


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html",)),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _view_box(svg: str) -> tuple[float, float]:
    found = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg)
    if found is None:
        raise ValueError("an SVG we drew has no viewBox")
    return float(found.group(1)), float(found.group(2))


def _graph_page(width: float, height: float) -> tuple[str, float, float]:
    """The page orientation that shows the graph largest, and its size there in mm."""
    scales = {page: min(w / width, h / height) for page, (w, h) in GRAPH_ROOM_MM.items()}
    page = max(scales, key=lambda p: scales[p])
    return page, scales[page] * width, scales[page] * height


_HTML_SPECIAL = re.compile(r"[&<>\"']")


def _text(value: str) -> str:
    """`value` escaped for HTML, as Jinja's autoescape writes it; most values need
    nothing, and checking is cheaper than markupsafe's escape (which builds a Markup)."""
    return str(escape(value)) if _HTML_SPECIAL.search(value) else value


def timeline_rows(lines: Sequence[TimelineLine]) -> Markup:
    """The timeline table's rows, the same markup as the loop in report/body.html writes
    (a test holds them to it). Written here because a 10,000-event drill has 10,000 rows,
    and Jinja's attribute lookups and escaping cell by cell were half the HTML export's
    time. Every value from the report is escaped, a column at a time: the result is
    trusted markup."""
    kinds = _escaped([t.kind for t in lines])
    offsets = _escaped([t.offset for t in lines])
    story_times = _escaped([t.story_time for t in lines])
    texts = _escaped([t.text for t in lines])
    return Markup(  # noqa: S704 - built from escaped values only
        "".join(
            f'<tr class="aar-kind-{kind}"><td class="num">{t.seq:d}</td>'
            f'<td class="aar-nowrap">{offset}</td>'
            f'<td class="aar-nowrap">{story_time}</td><td>{text}</td></tr>'
            for t, kind, offset, story_time, text in zip(
                lines, kinds, offsets, story_times, texts, strict=True
            )
        )
    )


_SEPARATOR = "\x1f"
"""Joins a column's values for one pass of the escaper: a character it leaves alone."""


def _escaped(values: list[str]) -> list[str]:
    """Each value escaped for HTML, as `_text` does, in one pass of markupsafe's escaper
    over the column (a call per cell was a third of the rows' time); cell by cell when a
    value holds the separator itself."""
    if not values:
        return []
    escaped = str(escape(_SEPARATOR.join(values))).split(_SEPARATOR)
    if len(escaped) != len(values):  # a value held the separator: it split in two
        return [_text(value) for value in values]
    return escaped


def render_html(report: Report, scenario: Scenario) -> str:
    """The whole report as one HTML file: inline CSS and SVG, no scripts, nothing fetched,
    so it opens offline and can be mailed on. The PDF is made from the same template."""
    # Tens of thousands of strings for a long drill, none of them in cycles.
    with collector_held():
        return _render_html(report, scenario)


def _render_html(report: Report, scenario: Scenario, *, figures_as_images: bool = False) -> str:
    graph = render_svg(branch_graph(scenario), highlight=set(report.path), title=scenario.title)
    chart = charts.timeline_chart(report, scenario)
    pressure = charts.pressure_chart(report) if report.feed else ""
    page, graph_w, graph_h = _graph_page(*_view_box(graph))
    chart_w, chart_h = _view_box(chart)
    width = GRAPH_ROOM_MM[page][0]
    figure = _svg_image if figures_as_images else _inline_svg
    template = environment().get_template("report/document.html")
    return template.render(
        report=report,
        scenario=scenario,
        sections=SECTIONS,
        graph_svg=figure(graph, f"Branch graph of {scenario.title}"),
        timeline_svg=figure(chart, "Timeline by role"),
        pressure_svg=figure(pressure, "Public pressure") if pressure else "",
        timeline_rows=timeline_rows(report.timeline),
        graph_page=page,
        graph_size=(f"{graph_w:.1f}", f"{graph_h:.1f}"),
        chart_size=(f"{width:.1f}", f"{width * chart_h / chart_w:.1f}"),
    )


def _inline_svg(svg: str, label: str) -> Markup:
    # Drawn here, from escaped text: trusted markup, not user input. It carries its own
    # title, so `label` is not needed.
    return Markup(svg)  # noqa: S704


def _svg_image(svg: str, label: str) -> Markup:
    """The SVG as an image of a `data:` URL, for WeasyPrint: it parses the picture with the
    XML parser rather than its HTML one, and styles none of its elements as the page's
    (0.15 s of a 20-page report's PDF)."""
    source = base64.b64encode(svg.encode()).decode("ascii")
    return Markup(f'<img src="data:image/svg+xml;base64,{source}" alt="{escape(label)}">')  # noqa: S704


def render_pdf(report: Report, scenario: Scenario) -> bytes:
    """The report as an A4 PDF, from the HTML export's print styles. Seconds of CPU for a
    long drill: callers on an event loop run it in a thread."""
    # A heavy import (Pango via cffi): only when a PDF is asked for.
    from weasyprint import HTML, URLFetcher

    svg_text.install()
    # The figures come as data: URLs and the document references nothing else; should
    # report text ever smuggle a URL in, it is refused rather than fetched from the
    # server's network.
    data_only = URLFetcher(allowed_protocols=("data",))
    with collector_held():  # the template's strings, then WeasyPrint's boxes for every page
        html = _render_html(report, scenario, figures_as_images=True)
        pdf = HTML(string=html, url_fetcher=data_only).write_pdf()
    return bytes(pdf)


# --------------------------------------------------------------------------- Markdown


_TARGET = r"(?:[^()]|\([^()]*\))*"  # a link's target, with one level of parentheses
_IMAGE = re.compile(rf"!\[([^\]]*)\]\({_TARGET}\)")
_SCRIPT_LINK = re.compile(
    rf"\[([^\]]*)\]\(\s*<?\s*(?:javascript|vbscript|data|file):{_TARGET}\)", re.I
)


def _md(text: str) -> str:
    """Report text for Markdown: no raw HTML gets through (a `<` is an entity); an image
    becomes its alt text (a remote one would tell its host who opened the report, and
    when) and a javascript:, data: or file: link its text; a browser form's CRLF line ends
    become LF."""
    text = _IMAGE.sub(lambda m: f"[image: {m.group(1)}]", text)
    text = _SCRIPT_LINK.sub(lambda m: m.group(1), text)
    return text.replace("\r\n", "\n").replace("<", "&lt;")


def _md_cell(value: object) -> str:
    """A table cell: pipes escaped, line breaks kept as <br>."""
    text = _md("" if value is None else str(value)).replace("|", "\\|")
    return "<br>".join(part.strip() for part in text.strip().splitlines()) or fmt.NONE


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = [
        "| " + " | ".join(_md_cell(h) for h in headers) + " |",
        "|" + "|".join(" --- " for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _empty(sentence: str) -> list[str]:
    return [f"_{sentence}_", ""]


def _points_of(total: Total) -> str:
    return f"{fmt.points(total.points)} / {fmt.points(total.max_points)}"


class _Markdown:
    """One Markdown document, section by section, in SECTIONS order."""

    def __init__(self, report: Report, scenario: Scenario | None) -> None:
        self.report = report
        self.titles = fmt.role_titles(report, scenario)
        self.objective_titles = {o.id: o.title for o in report.objectives}

    def role(self, role: str | None) -> str:
        return fmt.title_of(self.titles, role)

    def roles(self, roles: Iterable[str] | None) -> str:
        return ", ".join(self.role(r) for r in roles or []) or "any role"

    def render(self) -> str:
        o = self.report.overview
        lines = [
            f"# After-action report: {_md(o.name)}",
            "",
            f"_{_md(o.scenario_title)}, version {_md(o.scenario_version)} · "
            f"{fmt.day(o.started_at if o.started_at is not None else o.created_at)} · "
            f"generated {fmt.stamp(self.report.generated_at)} by Tabletop_",
            "",
        ]
        builders = (
            self.overview,
            self.summary,
            self.objectives,
            self.scores,
            self.metrics,
            self.decisions,
            self.communications,
            self.regulatory,
            self.outside,
            self.path,
            self.knowledge,
            self.road,
            self.hot_wash,
            self.timeline,
            self.plan,
        )
        for (_, heading), build in zip(SECTIONS, builders, strict=True):
            lines += [f"## {heading}", "", *build()]
        return "\n".join(lines).rstrip() + "\n"

    def overview(self) -> list[str]:
        o = self.report.overview
        started = o.started_at if o.started_at is not None else o.created_at
        facts = [
            ("Drill", f"{o.name} ({o.drill_id})"),
            ("Scenario", f"{o.scenario_title}, version {o.scenario_version} ({o.scenario_id})"),
            ("Status", o.status.capitalize() + (f": {o.end_reason}" if o.end_reason else "")),
            ("Date", fmt.day(started)),
            ("Created", fmt.stamp(o.created_at)),
            ("Started", fmt.stamp(o.started_at)),
            ("Ended", fmt.stamp(o.ended_at)),
            (
                "Duration",
                f"{fmt.span(o.scenario_duration)} of scenario time ({fmt.clock(0)} to "
                f"{fmt.clock(o.scenario_duration)}) {fmt.real_length(o)}",
            ),
            ("Story starts", o.story_start.replace("T", " ")),
            ("Facilitator", o.facilitator or "Not recorded"),
        ]
        if o.started_without:
            facts.append(
                (
                    "Started without",
                    f"{', '.join(o.started_without)} (required by the scenario; the "
                    "facilitator chose to start anyway)",
                )
            )
        if o.compliance:
            facts.append(("Compliance in play", ", ".join(o.compliance)))
        if o.attack:
            facts.append(("ATT&CK techniques", ", ".join(o.attack)))
        lines = _table(("Item", "Detail"), facts)
        lines += ["### Participants", ""]
        if not o.participants:
            return lines + _empty(fmt.nobody_joined(o))
        rows = [
            (p.name, p.role_title, ", ".join(self.role(r) for r in p.stood_in_for) or fmt.NONE)
            for p in o.participants
        ]
        return lines + _table(("Name", "Role", "Stood in for"), rows)

    def summary(self) -> list[str]:
        report, scores = self.report, self.report.scores
        lines = [_md(report.summary.strip()), ""] if report.summary else []
        if not report.summary:
            lines += _empty("The reviewer has not written an executive summary yet.")
        lines += [f"**Overall score: {fmt.score(scores.overall)}.**", ""]
        for key in ("decisions", "communication", "regulatory"):
            if key == "regulatory" and not scores.dimensions[key].max_points:
                continue  # no regime played: nothing to show, not "0 of 0"
            lines.append(f"- {DIMENSION_LABELS[key]}: {fmt.score(scores.dimensions[key])}")
        adjustments = scores.dimensions["adjustments"].points
        sign = "+" if adjustments > 0 else ""
        lines += [f"- Facilitator adjustments: {sign}{fmt.points(adjustments)} points", ""]
        if not report.objectives:
            return lines + _empty("The scenario sets no objectives.")
        rows = [
            (o.title, o.capability, fmt.percent(o.score), _rating(o)) for o in report.objectives
        ]
        return lines + _table(("Objective", "Capability", "Score", "Rating"), rows)

    def objectives(self) -> list[str]:
        lines = [
            "Ratings follow HSEEP: P performed without challenges, S with some challenges, "
            "M with major challenges, U unable to be performed. Each is derived from the "
            "score (85% and up P, 60% S, 30% M, below that U) unless the reviewer changed it.",
            "",
        ]
        if not self.report.objectives:
            return lines + _empty("The scenario sets no objectives.")
        for o in self.report.objectives:
            edited = ""
            if o.rating_edited:
                edited = f" _(edited by reviewer; derived {o.derived_rating or fmt.NONE})_"
            lines += [
                f"### {_md(o.title)}",
                "",
                f"- Phase: {o.phase.replace('_', ' ').capitalize()}",
                f"- Capability: {_md(o.capability)}",
                f"- Score: {fmt.score(o.score)}",
                f"- Rating: {_rating(o)}{edited}",
                "",
            ]
            for heading, items, none in (
                ("Strengths", o.strengths, "None recorded."),
                ("Areas for improvement", o.improvements, "None recorded."),
                ("Observer notes", o.notes, "No observer notes on this objective."),
            ):
                lines += [f"**{heading}**", ""]
                lines += _bullets(items) if items else _empty(none)
        general = [n for n in self.report.notes if n.objective_id not in self.objective_titles]
        if general:
            lines += ["### Other observer notes", ""]
            lines += _bullets(
                f"{fmt.clock(n.scenario_time)}, {n.author}: {n.text}" for n in general
            )
        return lines

    def scores(self) -> list[str]:
        s = self.report.scores
        lines = [
            "Every point comes from one scored item below, which names the events of the "
            "drill's log that earned or lost it.",
            "",
            "### By dimension",
            "",
        ]
        dimensions = [
            (DIMENSION_LABELS.get(k, k), t)
            for k, t in s.dimensions.items()
            if k != "regulatory" or t.max_points
        ]
        lines += _totals("Dimension", [*dimensions, ("**Overall**", s.overall)])
        lines += ["### By role", ""]
        roles = [(self.role(r), t) for r, t in s.roles.items()]
        lines += _totals("Role", roles) if roles else _empty("No roles were in play.")
        lines += ["### By objective", ""]
        objectives = [(self.objective_titles.get(k, k), t) for k, t in s.objectives.items()]
        lines += _totals("Objective", objectives)
        lines += ["### Scored items", ""]
        if not s.items:
            return lines + _empty("Nothing has been scored yet.")
        rows = [
            (
                self.objective_titles.get(i.objective, i.objective) if i.objective else fmt.NONE,
                self.role(i.role) if i.role else "The team",
                f"{i.title} ({DIMENSION_LABELS.get(i.dimension, i.dimension)})",
                i.detail,
                i.status.replace("_", " "),
                f"{fmt.points(i.points)} / {fmt.points(i.max_points)}",
                ", ".join(str(n) for n in i.seqs),
            )
            for i in s.items
        ]
        headers = ("Objective", "Role", "Item", "Why", "Status", "Points", "Events")
        return lines + _table(headers, rows)

    def metrics(self) -> list[str]:
        s: Scorecard = self.report.scores
        lines = ["Measured in scenario time from the first alert, the incident's trigger.", ""]
        lines += ["### Incident metrics", ""]
        rows = [
            (m.label, _at(m.at), fmt.span(m.after_trigger), fmt.NONE if m.seq is None else m.seq)
            for m in s.metrics
        ]
        lines += _table(("Metric", "At", "After the alert", "Event"), rows)
        lines += ["### First updates", ""]
        rows = [
            (
                u.label,
                _at(u.at),
                fmt.span(u.after_trigger),
                self.role(u.from_role) if u.from_role else fmt.NONE,
            )
            for u in s.first_updates
        ]
        return lines + _table(("Update", "At", "After the alert", "From"), rows)

    def decisions(self) -> list[str]:
        decisions = self.report.scores.decisions
        if not decisions:
            return _empty("No decisions were put to the team.")
        rows: list[tuple[object, ...]] = []
        for d in decisions:
            put_to = f"put to {self.roles(d.roles)} at {fmt.clock(d.opened_at)}"
            asked = f"{d.title} ({put_to})"
            alternatives = "; ".join(d.alternatives) or fmt.NONE
            for a in d.answers:
                if a.timed_out:
                    who, outcome = "Nobody", not_answered(a.option_label)
                else:
                    who = f"{a.participant or 'Unknown'}, {self.role(a.answered_by_role or a.role)}"
                    if a.answered_by_role and a.answered_by_role != a.role:
                        who += f" (backup, standing in for {self.role(a.role)})"
                    outcome = "Answered"
                chosen = a.option_label + (f' ("{a.rationale}")' if a.rationale else "")
                taken = f"{fmt.span(a.latency)} of {fmt.span(d.time_limit)}"
                rows.append((asked, who, chosen, alternatives, taken, outcome))
            if not d.answers:
                limit = f"{fmt.NONE} of {fmt.span(d.time_limit)}"
                outcome = "Closed" if d.closed else "Open"
                rows.append((asked, "Nobody", fmt.NONE, alternatives, limit, outcome))
        headers = (
            "Decision",
            "Answered by",
            "Option chosen",
            "Alternatives",
            "Time taken",
            "Outcome",
        )
        return _table(headers, rows)

    def communications(self) -> list[str]:
        comms = self.report.scores.communications
        if not comms:
            return _empty("The scenario expects no communications.")
        rows = [
            (
                f"{c.title} (from {self.roles(c.from_roles)})",
                c.to_name,
                fmt.clock(c.deadline),
                "Not sent"
                if c.sent_at is None
                else f"{fmt.clock(c.sent_at)} by {self.role(c.sent_by_role)}",
                fmt.delta(c.delta),
                fmt.comm_status(c.status),
                f"{fmt.points(c.points)} / {fmt.points(c.max_points)}",
            )
            for c in comms
        ]
        headers = ("Expectation", "To", "Deadline", "Sent", "Delta", "Status", "Points")
        return _table(headers, rows)

    def regulatory(self) -> list[str]:
        duties = self.report.regulatory
        if not duties:
            return _empty("The scenario plays no notification regime.")
        lines = [
            "Each notification duty of the regimes the scenario plays: when its clock started, "
            "its deadline, when and by whom it was filed, and how complete the notice was: "
            "each required field of the duty's form filled in and consistent with what the "
            'team knew when it filed (a figure near the one revealed, or "not yet known" '
            "with a follow-up promised). A free-text message to the authority files on time "
            "but fills in no field. Drill material, not legal advice.",
            "",
        ]
        rows = [
            (
                f"{d.regime_name}: {d.title} ({d.source})",
                d.owed_to,
                _at(d.started_at),
                fmt.NONE if d.due_at is None else fmt.clock(d.due_at),
                fmt.NONE
                if d.filed_at is None
                else f"{fmt.clock(d.filed_at)} by {d.filed_by or 'the facilitator'}",
                d.state_label,
                fmt.NONE if d.complete is None else f"{d.complete} of {d.required} fields",
            )
            for d in duties
        ]
        headers = ("Duty", "Owed to", "Started", "Due", "Filed", "Status", "Complete")
        lines += _table(headers, rows)
        for d in duties:
            if d.filed_text:
                lines += self._filed_notice(d)
        return lines

    def _filed_notice(self, d: RegulatoryDuty) -> list[str]:
        signed = f", signed off by {d.signed_off_by}" if d.signed_off_by else ""
        lines = [f"### Filed: {_md(d.regime_name)}, {_md(d.title)}", ""]
        if d.filed_as == "message":
            lines += [
                f"By {_md(d.filed_by or 'the facilitator')}: a free-text message, not the "
                f"form ({d.complete} of {d.required} required fields).",
                "",
            ]
            lines += [
                f"> {_md(line)}" if line else ">" for line in (d.filed_text or "").split("\n")
            ]
            lines.append("")
            return lines
        follow = "; promises a follow-up with what was not yet known" if d.follow_up else ""
        lines += [
            f"By {_md(d.filed_by or 'the facilitator')}{_md(signed)}: {d.complete} of "
            f"{d.required} required fields complete{follow}.",
            "",
        ]
        rows = [
            (
                f"{f.label} ({f.source})",
                f.value or fmt.NONE,
                ("Complete" if f.counts else "Not complete")
                + (f": rated by the facilitator: {f.rated}" if f.rated else f": {f.detail}"),
            )
            for f in d.fields
        ]
        return [*lines, *_table(("Field", "As filed", "Judged"), rows), ""]

    def outside(self) -> list[str]:
        threads, feed = self.report.threads, self.report.feed
        lines: list[str] = []
        if not threads and not feed:
            lines = _empty("Nobody wrote to an outside party that answers, and nothing was posted.")
        if self.report.files:
            lines += ["### Files the injects carried", ""]
            lines += _table(
                ("Time", "Inject", "File", "Kind", "Bytes"),
                [
                    (
                        fmt.clock(a.scenario_time),
                        a.inject_title,
                        f"{a.title} ({a.file})",
                        a.media_type,
                        f"{a.size:,}",
                    )
                    for a in self.report.files
                ],
            )
        if not threads and not feed:
            return lines
        for t in threads:
            waiting = " (the party never answered the last message)" if t.unanswered else ""
            lines += [f"### {_md(t.party_name)} and {_md(t.role_title)}{_md(waiting)}", ""]
            rows = [
                (fmt.clock(i.scenario_time), i.by, i.subject or fmt.NONE, i.body) for i in t.items
            ]
            lines += _table(("Time", "From", "Subject", "Message"), rows)
        if feed:
            negative = sum(1 for f in feed if f.tone == "negative" and f.source != "team")
            lines += [
                "### Public feed",
                "",
                f"{len(feed)} posts, {negative} of them negative about the organisation. "
                "The pressure chart (posts per story hour by tone) is in the HTML and PDF "
                "exports.",
                "",
            ]
            posts = [
                (
                    fmt.clock(f.scenario_time),
                    f"{f.outlet} {f.handle}" if f.handle else f.outlet,
                    f.source,
                    "\n".join(x for x in (f.title, f.text) if x),
                    f.tone,
                    f"{f.likes + f.shares + f.replies:,}",
                )
                for f in feed
            ]
            lines += _table(("Time", "Outlet", "From", "Post", "Tone", "Interactions"), posts)
        return lines

    def path(self) -> list[str]:
        path = self.report.path
        injects = sum(1 for node in path if node.startswith("inject:"))
        decisions = sum(1 for node in path if node.startswith("decision:"))
        return [
            f"The drill went through {injects} injects and {decisions} decisions of the "
            "scenario's branch graph. The graph with the path highlighted, and the timeline "
            "chart by role, are in the HTML and PDF exports.",
            "",
        ]

    def knowledge(self) -> list[str]:
        lines = [
            "When each key fact of the story first reached each role and outside party, by an "
            "inject or by a message; escalation is the delay from the story revealing it.",
            "",
        ]
        if not self.report.knowledge:
            return _empty("The scenario names no key facts to follow.")
        rows = []
        for k in self.report.knowledge:
            seen = sorted(k.first_seen.items(), key=lambda kv: kv[1])
            known = "; ".join(f"{self.role(who)} {fmt.clock(at)}" for who, at in seen)
            escalation = "; ".join(
                f"{who.capitalize()}: {fmt.delta(after) if after is not None else 'never told'}"
                for who, after in k.escalation.items()
            )
            rows.append((k.title, _at(k.revealed_at), known or "Nobody", escalation or fmt.NONE))
        return lines + _table(("Fact", "Revealed", "First known by", "Escalation"), rows)

    def road(self) -> list[str]:
        roads = self.report.road_not_taken
        if not roads:
            return _empty("No decisions were put to the team, so there are no other roads to show.")
        lines = [
            "For each decision, the options the team did not choose and where they would have led.",
            "",
        ]
        for road in roads:
            lines += [f"### {_md(road.title)}", ""]
            lines += [f"Chosen: {_md('; '.join(road.chosen) or 'nothing yet')}", ""]
            if not road.untaken:
                lines += _empty("Every option was chosen by someone.")
                continue
            rows = [
                (
                    opt.label + (" (ends the drill)" if opt.ends_drill else ""),
                    "; ".join(opt.leads_to) or fmt.NONE,
                    "; ".join(opt.would_skip) or fmt.NONE,
                    # Scenario text, wrapped where its YAML was: one line, as the HTML reads.
                    " ".join((opt.feedback or "").split()) or fmt.NONE,
                )
                for opt in road.untaken
            ]
            headers = (
                "Option not taken",
                "Would have brought",
                "Would have skipped",
                "Facilitator's note",
            )
            lines += _table(headers, rows)
        return lines

    def hot_wash(self) -> list[str]:
        if not self.report.hot_wash:
            return _empty("Nobody has answered the hot-wash questions yet.")
        lines = ["### By role", ""]
        rows: list[tuple[object, ...]] = [
            (g.role_title, g.responses, f"{g.mean_confidence:.1f}")
            for g in self.report.hot_wash_by_role
        ]
        lines += _table(("Role", "Responses", "Mean confidence (1-5)"), rows)
        lines += ["### Responses", ""]
        rows = [
            (
                f"{h.name} ({self.role(h.role) if h.role else 'Observer'})",
                h.went_well,
                h.improve,
                f"{h.confidence} / 5",
            )
            for h in self.report.hot_wash
        ]
        return lines + _table(("Who", "What went well", "What to improve", "Confidence"), rows)

    def timeline(self) -> list[str]:
        if not self.report.timeline:
            return _empty("Nothing has happened in this drill yet.")
        rows = [(t.seq, t.offset, t.story_time, t.text) for t in self.report.timeline]
        return _table(("#", "Scenario time", "Story time", "What happened"), rows)

    def plan(self) -> list[str]:
        lines = (
            _plan_table(self.report.improvement_plan)
            if self.report.improvement_plan
            else _empty("No improvement items have been recorded for this drill yet.")
        )
        lines += [f"### {RETESTED}", ""]
        if not self.report.retested:
            return lines + _empty("No open items from earlier drills were re-tested by this drill.")
        return lines + _plan_table(self.report.retested)


def _totals(what: str, totals: Iterable[tuple[str, Total]]) -> list[str]:
    rows = [(name, _points_of(t), fmt.percent(t)) for name, t in totals]
    return _table((what, "Points", "%"), rows)


def _bullets(items: Iterable[str]) -> list[str]:
    return [*(f"- {_md(item)}" for item in items), ""]


def _at(seconds: float | None) -> str:
    return "Never" if seconds is None else fmt.clock(seconds)


def _rating(objective: ObjectiveSection) -> str:
    if objective.rating is None:
        return "Not rated"
    return f"{objective.rating}: {objective.rating_label}"


def _plan_table(items: Sequence[ImprovementItem]) -> list[str]:
    headers = (
        "Capability",
        "Issue",
        "Corrective action",
        "Element",
        "Responsible",
        "Point of contact",
        "Start",
        "Due",
        "Status",
    )
    rows = [
        (
            i.capability,
            i.issue,
            i.corrective_action,
            i.element.value.capitalize(),
            i.responsible,
            i.contact,
            i.start.isoformat() if i.start else fmt.NONE,
            i.due.isoformat() if i.due else fmt.NONE,
            i.status.value.replace("_", " ").capitalize(),
        )
        for i in items
    ]
    return _table(headers, rows)


def render_markdown(report: Report, scenario: Scenario | None = None) -> str:
    """The report as GitHub-flavoured Markdown: the same sections and tables as the HTML
    (the figures aside). With the scenario, roles read with its own titles."""
    return _Markdown(report, scenario).render()
