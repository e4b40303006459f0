"""Charts for the after-action report and the drill programme, as standalone SVG.

Drawn on the server, so one picture serves the browser, the self-contained HTML export
and the PDF. No scripts, no external references and no stylesheet: colours are
presentation attributes, so neither a page's Content-Security-Policy (which blocks a
`<style>` inside an SVG image) nor WeasyPrint's partial CSS can unstyle them. Colours are
the Okabe-Ito palette, told apart with the common colour-vision deficiencies, and shapes
repeat what colour says (filled or hollow, a cross for a timeout).

`timeline_chart` draws one lane per role in play over scenario time; `trend_chart` draws
percentages across drills for the programme page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from app.authoring.svg import (
    FONT,
    attributes,
    escape_attr,
    escape_text,
    fit,
    open_svg,
    point_list,
    text_width,
    tooltip,
    wrap,
)
from app.engine.scenario import Scenario
from app.engine.scoring import CommStatus, CommunicationResult, DecisionResult, Dimension
from app.reports import formats
from app.reports.model import Report, TimelineLine

# Okabe & Ito, "Color Universal Design" (2008): distinct for protan, deutan and tritan
# viewers. Yellow is left out: it is lost on white paper.
BLUE = "#0072B2"
SKY = "#56B4E9"
GREEN = "#009E73"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
BLACK = "#000000"
PALETTE = (BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY, BLACK)

INK = "#1f2937"
MUTED = "#5a6677"
GRID = "#e3e8ef"
STRIPE = "#f5f7fa"
GREY = "#8a94a3"
AWAY = "#e4e7ec"

STATUS_COLOURS: dict[str, str] = {
    CommStatus.on_time: GREEN,
    CommStatus.late: ORANGE,
    CommStatus.missed: VERMILLION,
    CommStatus.wrong_party: PURPLE,
    CommStatus.sent_with_blanks: PURPLE,
    CommStatus.not_due: GREY,
    CommStatus.pending: GREY,
}
FILLED = {CommStatus.on_time, CommStatus.late}
"""Deadlines that were met draw filled; the others hollow."""

ANY_ROLE = "*"
"""The lane of deadlines anyone could have met and nobody did."""


def _open_svg(width: float, height: float, title: str, label: str) -> list[str]:
    return [
        *open_svg(
            width, height, title, role="img", aria_label=label, font_family=FONT, class_="tt-chart"
        ),
        f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
    ]


def _label(x: float, y: float, text: str, size: float, **attrs: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}"{attributes(**attrs)}>'
        f"{escape_text(text)}</text>"
    )


# --------------------------------------------------------------------------- timeline

WIDTH = 960.0
GUTTER = 200.0
"""Left of the track: the lane titles."""
RIGHT = 30.0
TOP = 74.0
ROW_INJECT = 11.0
ROW_POINT = 24.0
"""Messages and deadlines, under the injects of the lane."""
ROW_BAR = 37.0
BAR_STEP = 9.0
LANE_PAD = 8.0
MAX_BAR_ROWS = 3
LABEL_LINE = 14.0
TICK_MINUTES = (5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440, 2880, 5760)


@dataclass(slots=True)
class _Bar:
    """A decision put to a role: open from `start` until `end`."""

    start: float
    end: float
    state: str
    """answered, timed_out (the default was taken), unanswered or open."""
    tip: str
    row: int = 0


@dataclass(slots=True)
class _Lane:
    role: str
    title: str
    injects: list[TimelineLine] = field(default_factory=list)
    messages: list[TimelineLine] = field(default_factory=list)
    deadlines: list[CommunicationResult] = field(default_factory=list)
    bars: list[_Bar] = field(default_factory=list)
    away: list[tuple[float, float]] = field(default_factory=list)
    """When the role was unavailable in the story (its backup acted)."""

    @property
    def rows(self) -> int:
        return max((b.row + 1 for b in self.bars), default=0)

    @property
    def label(self) -> list[str]:
        return wrap(self.title, GUTTER - 28, 12, bold=True, lines=3)

    @property
    def height(self) -> float:
        marks = ROW_BAR + BAR_STEP * (self.rows - 1) + LANE_PAD if self.bars else ROW_POINT + 14
        return max(marks, 10 + LABEL_LINE * len(self.label))


@dataclass(frozen=True, slots=True)
class _Scale:
    end: float
    """Scenario seconds at the right edge."""

    def x(self, seconds: float) -> float:
        return self.xs((seconds,))[0]

    def xs(self, times: Iterable[float]) -> list[float]:
        """`x` of each time, in one pass: a lane of a long drill has 10,000 marks, and a
        method call per mark was a fifth of the chart's time."""
        end, track = self.end, WIDTH - GUTTER - RIGHT
        return [GUTTER + track * min(max(t, 0.0), end) / end for t in times]


def timeline_chart(report: Report, scenario: Scenario | None = None) -> str:
    """The drill over scenario time, one lane per role in play: injects received,
    decisions from opening to answer (timeouts marked), messages sent and communication
    deadlines coloured by outcome. With the scenario, lanes carry the scenario's own role
    titles; without it, the titles the report knows."""
    titles = formats.role_titles(report, scenario)
    scale = _Scale(_time_span(report))
    lanes = _lanes(report, titles, scale.end)
    height = TOP + sum(lane.height for lane in lanes) + 34.0
    legend, legend_height = _timeline_legend(height + 4)
    name = report.overview.name
    parts = _open_svg(
        WIDTH, height + legend_height + 12, f"Timeline by role: {name}", _summary(report, lanes)
    )
    parts.append(_label(16, 26, f"Timeline by role: {name}", 15, font_weight="600", fill=INK))
    sub = (
        f"Scenario time {formats.clock(0)} to {formats.clock(scale.end)} · "
        f"{len([lane for lane in lanes if lane.role != ANY_ROLE])} roles in play"
    )
    parts.append(_label(16, 45, sub, 11.5, fill=MUTED))
    parts.extend(_lane_backgrounds(lanes))
    parts.extend(_axis(scale, TOP, height - 30))
    if report.overview.status == "ended":
        parts.append(_end_line(scale, report.overview.scenario_duration, height - 30))
    y = TOP
    for lane in lanes:
        parts.extend(_draw_lane(lane, y, scale))
        y += lane.height
    parts.append(legend)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _time_span(report: Report) -> float:
    """The right edge: the drill's length, or the last thing drawn if later (a running
    drill's open decision), at least a quarter of an hour."""
    last = [report.overview.scenario_duration]
    if report.timeline:
        last.append(max(line.scenario_time for line in report.timeline))
    for d in report.scores.decisions:
        last += [d.opened_at + a.latency for a in d.answers]
    for c in report.scores.communications:
        if c.status not in (CommStatus.not_due, CommStatus.pending):
            last.append(max(c.deadline, c.sent_at or 0.0))
    return max(900.0, *last)


def _lanes(report: Report, titles: dict[str, str], end: float) -> list[_Lane]:
    roles = list(report.scores.roles) or list(
        dict.fromkeys(r for d in report.scores.decisions for r in d.roles)
    )
    lanes = {role: _Lane(role, formats.title_of(titles, role)) for role in roles}
    _place_lines(lanes, report.timeline, end)
    for comm in report.scores.communications:
        for role in _deadline_lanes(comm, lanes):
            if role == ANY_ROLE and ANY_ROLE not in lanes:
                lanes[ANY_ROLE] = _Lane(ANY_ROLE, "Any role")
            lanes[role].deadlines.append(comm)
    for decision in report.scores.decisions:
        for role in decision.roles:
            if role in lanes:
                lanes[role].bars.append(_bar(report, decision, role, end))
    for lane in lanes.values():
        _pack(lane.bars, end)
    return list(lanes.values())


def _place_lines(lanes: dict[str, _Lane], lines: Sequence[TimelineLine], end: float) -> None:
    """Injects (on the lanes of the roles that received them, stand-ins included),
    messages (on the sender's lane) and absences."""
    for line in lines:
        kind = line.kind
        if kind == "message_sent":  # first: nine lines in ten of a long drill
            for role in line.roles:
                if role in lanes:
                    lanes[role].messages.append(line)
        elif kind == "inject_delivered":
            for role in line.roles:
                if role in lanes:
                    lanes[role].injects.append(line)
        elif kind == "role_unavailable":
            for role in line.roles:
                if role in lanes:
                    lanes[role].away.append((line.scenario_time, end))
        elif kind == "role_available":
            for role in line.roles:
                if role in lanes and lanes[role].away:
                    lanes[role].away[-1] = (lanes[role].away[-1][0], line.scenario_time)


def _deadline_lanes(comm: CommunicationResult, lanes: Mapping[str, _Lane]) -> list[str]:
    """A met deadline sits with its sender; an unmet one with every role that could have
    met it, or in the "any role" lane if anyone could."""
    if comm.sent_by_role is not None and comm.sent_by_role in lanes:
        return [comm.sent_by_role]
    owners = [r for r in comm.from_roles or [] if r in lanes]
    return owners or [ANY_ROLE]


def _bar(report: Report, decision: DecisionResult, role: str, end: float) -> _Bar:
    start = decision.opened_at
    prompt = decision.title
    silent = any(
        item.dimension is Dimension.decisions
        and item.ref == decision.decision_id
        and item.role == role
        and item.status == "unanswered"
        for item in report.scores.items
    )
    answer = next((a for a in decision.answers if a.role == role), None)
    if answer is None and not silent and decision.answers:
        answer = decision.answers[0]  # one answer settles a decision put to several roles
    if silent:
        stop = start + decision.time_limit
        return _Bar(start, stop, "unanswered", f"{prompt}: no answer by {formats.clock(stop)}")
    if answer is None:
        stop = min(start + decision.time_limit, end)
        return _Bar(start, stop, "open", f"{prompt}: opened {formats.clock(start)}, no answer")
    stop = start + answer.latency
    if answer.timed_out:
        tip = f"{prompt}: timed out at {formats.clock(stop)}, default '{answer.option_label}'"
        return _Bar(start, stop, "timed_out", tip)
    who = answer.participant or answer.answered_by_role or role
    if answer.answered_by_role and answer.answered_by_role != role:
        who += f", standing in as {answer.answered_by_role}"
    tip = f"{prompt}: '{answer.option_label}' at {formats.clock(stop)} by {who}"
    return _Bar(start, stop, "answered", tip)


def _pack(bars: list[_Bar], end: float) -> None:
    """Overlapping decisions go on rows of their own, up to MAX_BAR_ROWS."""
    gap = end / 200  # bars that nearly touch read as one: keep a little air
    rows: list[float] = []
    for bar in sorted(bars, key=lambda b: (b.start, b.end)):
        row = next((i for i, last in enumerate(rows) if last + gap <= bar.start), None)
        if row is None and len(rows) < MAX_BAR_ROWS:
            rows.append(0.0)
            row = len(rows) - 1
        bar.row = MAX_BAR_ROWS - 1 if row is None else row
        rows[bar.row] = max(rows[bar.row], bar.end)


def _tick_step(end: float) -> float:
    for minutes in TICK_MINUTES:
        if end / (minutes * 60) <= 8:
            return minutes * 60.0
    return TICK_MINUTES[-1] * 60.0


def _axis(scale: _Scale, top: float, bottom: float) -> list[str]:
    step = _tick_step(scale.end)
    parts = []
    tick = 0.0
    while tick <= scale.end + 1e-6:
        x = scale.x(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 6:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        for y in (top - 10, bottom + 15):
            parts.append(_label(x, y, formats.clock(tick), 10.5, text_anchor="middle", fill=MUTED))
        tick += step
    return parts


def _end_line(scale: _Scale, at: float, bottom: float) -> str:
    x = scale.x(at)
    return (
        f'<line data-mark="end" x1="{x:.1f}" y1="{TOP:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" '
        f'stroke="{INK}" stroke-width="1.2" stroke-dasharray="4 3">{tooltip("Drill ended")}</line>'
    )


def _lane_backgrounds(lanes: list[_Lane]) -> list[str]:
    parts = []
    y = TOP
    for i, lane in enumerate(lanes):
        if i % 2 == 0:
            parts.append(
                f'<rect x="8" y="{y:.1f}" width="{WIDTH - 16:.0f}" height="{lane.height:.1f}" '
                f'fill="{STRIPE}"/>'
            )
        for i, line in enumerate(lane.label):
            parts.append(
                f'<text x="16" y="{y + 17 + LABEL_LINE * i:.1f}" font-size="12" fill="{INK}" '
                f'font-weight="600">{tooltip(lane.title)}{escape_text(line)}</text>'
            )
        y += lane.height
    return parts


def _draw_lane(lane: _Lane, top: float, scale: _Scale) -> list[str]:
    parts = [f'<g data-lane="{escape_attr(lane.role)}">']
    for start, stop in lane.away:
        x0, x1 = scale.x(start), scale.x(stop)
        tip = f"{lane.title} unavailable {formats.clock(start)} to {formats.clock(stop)}"
        parts.append(
            f'<rect data-mark="away" x="{x0:.1f}" y="{top + 2:.1f}" width="{x1 - x0:.1f}" '
            f'height="{lane.height - 4:.1f}" fill="{AWAY}" fill-opacity="0.8">{tooltip(tip)}</rect>'
        )
    for bar in lane.bars:
        parts.append(_draw_bar(bar, top + ROW_BAR + BAR_STEP * bar.row, scale))
    for comm in lane.deadlines:
        parts.append(_draw_deadline(comm, top + ROW_POINT, scale))
    parts.extend(_triangles(lane.messages, top + ROW_POINT, True, INK, scale, "messages"))
    parts.extend(_triangles(lane.injects, top + ROW_INJECT, False, BLUE, scale, "injects"))
    parts.append("</g>")
    return parts


def _triangle_parts(y: float, up: bool, colour: str) -> tuple[str, str, str]:
    """Up for a message sent (something leaving), down for an inject received. Drawn from
    its base's left corner in relative steps. The markup before the corner's x, between
    it and the tooltip, and after the tooltip: the same for every mark of a lane's row."""
    kind, rise = ("message", -9) if up else ("inject", 9)
    return (
        f'<path data-mark="{kind}" d="M',
        f',{y - rise / 2:.1f}h10l-5,{rise}z" fill="{colour}" stroke="#ffffff" '
        'stroke-width="0.8"><title>',
        "</title></path>",
    )


def _triangle(x: float, y: float, up: bool, colour: str, tip: str) -> str:
    start, middle, end = _triangle_parts(y, up, colour)
    return f"{start}{x - 5:.1f}{middle}{escape_text(tip)}{end}"


def _triangles(
    lines: Sequence[TimelineLine], y: float, up: bool, colour: str, scale: _Scale, noun: str
) -> list[str]:
    """A triangle for each line, with the line as tooltip (`_triangle`'s markup, its
    shared parts written once); lines that fall within MARK_BIN of each other share one,
    which says how many it stands for (`data-count`) and what they were."""
    start, middle, end = _triangle_parts(y, up, colour)
    marks = []
    for x, group in _binned(scale.xs(line.scenario_time for line in lines), lines):
        if len(group) == 1:
            tip, opening = f"{group[0].offset} {group[0].text}", start
        else:
            tip, opening = (
                _group_tip(group, noun),
                start.replace(" d=", f' data-count="{len(group)}" d=', 1),
            )
        marks.append(f"{opening}{x - 5:.1f}{middle}{escape_text(tip)}{end}")
    return marks


MARK_BIN = 4.0
"""Marks of one row of a lane closer than this (px) are drawn as one: a long drill's
10,000 messages on a 730 px track lie on top of each other anyway, and one mark each made
the chart megabytes of tooltips that nobody could point at."""
GROUP_TIP_LINES = 2


def _binned(
    xs: Sequence[float], lines: Sequence[TimelineLine]
) -> list[tuple[float, list[TimelineLine]]]:
    """Consecutive lines by MARK_BIN-wide column of the track, each column at its first
    line's x."""
    groups: list[tuple[float, list[TimelineLine]]] = []
    column = None
    for x, line in zip(xs, lines, strict=True):
        here = int((x - GUTTER) // MARK_BIN)
        if here == column:
            groups[-1][1].append(line)
        else:
            column = here
            groups.append((x, [line]))
    return groups


def _group_tip(group: Sequence[TimelineLine], noun: str) -> str:
    """ "12 messages, T+03:10 to T+03:12: the first two; and 10 more"."""
    first, last = group[0], group[-1]
    when = first.offset if first.offset == last.offset else f"{first.offset} to {last.offset}"
    shown = "; ".join(line.text for line in group[:GROUP_TIP_LINES])
    more = len(group) - GROUP_TIP_LINES
    return f"{len(group)} {noun}, {when}: {shown}" + (f"; and {more} more" if more > 0 else "")


def _diamond(x: float, y: float, status: str, colour: str, tip: str) -> str:
    filled = status in FILLED
    fill = colour if filled else "#ffffff"
    stroke = INK if filled else colour
    width = 0.8 if filled else 2.0
    mark = (
        f'<path data-mark="deadline" data-status="{escape_attr(status)}" d="M{x:.1f},{y - 6:.1f} '
        f'L{x + 6:.1f},{y:.1f} L{x:.1f},{y + 6:.1f} L{x - 6:.1f},{y:.1f} Z" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="{width:g}">{tooltip(tip)}</path>'
    )
    if status == CommStatus.missed:
        mark += _cross(x, y, 2.4, colour, 1.4)
    return mark


def _cross(x: float, y: float, r: float, colour: str, width: float) -> str:
    return (
        f'<path d="M{x - r:.1f},{y - r:.1f} L{x + r:.1f},{y + r:.1f} M{x - r:.1f},{y + r:.1f} '
        f'L{x + r:.1f},{y - r:.1f}" stroke="{colour}" stroke-width="{width:g}" fill="none"/>'
    )


def _draw_deadline(comm: CommunicationResult, y: float, scale: _Scale) -> str:
    status = str(comm.status)
    colour = STATUS_COLOURS.get(status, GREY)
    x = scale.x(comm.deadline)
    tip = (
        f"{comm.title} (to {comm.to_name}): due {formats.clock(comm.deadline)}, "
        f"{formats.comm_status(status).lower()}"
    )
    if comm.sent_at is not None:
        tip += f", sent {formats.clock(comm.sent_at)} ({formats.delta(comm.delta)})"
    out = ""
    if status == CommStatus.late and comm.sent_at is not None:
        # The lateness itself, from the deadline to the message that met it.
        out += (
            f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{scale.x(comm.sent_at):.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="2.5"/>'
        )
    return out + _diamond(x, y, status, colour, tip)


def _draw_bar(bar: _Bar, y: float, scale: _Scale) -> str:
    return _bar_shape(bar.state, scale.x(bar.start), scale.x(bar.end), y, bar.tip)


def _bar_shape(state: str, x0: float, x1: float, y: float, tip: str) -> str:
    """A decision's bar: filled from opening to the answer, which ends in a dot; a timeout
    is hollow, dashed and ends in a cross."""
    width = max(x1 - x0, 2.0)
    if state in ("timed_out", "unanswered"):
        body = (
            f'<rect x="{x0:.1f}" y="{y - 3:.1f}" width="{width:.1f}" height="6" rx="3" '
            f'fill="#ffffff" stroke="{VERMILLION}" stroke-width="1.2" stroke-dasharray="3 2"/>'
        )
        end = _cross(x0 + width, y, 3.6, VERMILLION, 1.8)
    else:
        opacity = "0.45" if state == "open" else "1"
        body = (
            f'<rect x="{x0:.1f}" y="{y - 3:.1f}" width="{width:.1f}" height="6" rx="3" '
            f'fill="{SKY}" fill-opacity="{opacity}"/>'
        )
        end = ""
        if state != "open":
            end = (
                f'<circle cx="{x0 + width:.1f}" cy="{y:.1f}" r="3.6" fill="{BLUE}" '
                f'stroke="#ffffff" stroke-width="0.8"/>'
            )
    return f'<g data-mark="decision" data-state="{state}">{tooltip(tip)}{body}{end}</g>'


def _timeline_legend(top: float) -> tuple[str, float]:
    """The key, in as many rows as the width needs; returns it and its height."""
    bar = 26.0
    samples: list[tuple[str, float, str]] = [
        (_triangle(6, 0, False, BLUE, "inject"), 12.0, "Inject received"),
        (_triangle(6, 0, True, INK, "message"), 12.0, "Message sent"),
        (f'<rect x="0" y="-6" width="{bar - 4:g}" height="12" fill="{AWAY}"/>', bar, "Role away"),
        (_bar_shape("answered", 0, bar - 4, 0, "decision"), bar, "Decision: opened to answered"),
        (
            _bar_shape("timed_out", 0, bar - 4, 0, "timeout"),
            bar,
            "Decision timed out or unanswered",
        ),
    ]
    for status in (
        CommStatus.on_time,
        CommStatus.late,
        CommStatus.missed,
        CommStatus.wrong_party,
        CommStatus.not_due,
    ):
        label = f"Deadline {formats.comm_status(status).lower()}"
        samples.append((_diamond(6, 0, status, STATUS_COLOURS[status], label), 12.0, label))
    parts = ['<g data-legend="timeline">']
    x, y = 16.0, top + 14
    for shape, width, label in samples:
        item = width + 6 + text_width(label, 11) + 20
        if x + item > WIDTH - 16:
            x, y = 16.0, y + 20
        parts.append(f'<g transform="translate({x:.1f},{y:.1f})">{shape}</g>')
        parts.append(_label(x + width + 6, y + 4, label, 11, fill=MUTED))
        x += item
    parts.append("</g>")
    return "".join(parts), y - top + 14


def _summary(report: Report, lanes: list[_Lane]) -> str:
    """The chart in a sentence, for screen readers."""
    comms = report.scores.communications
    counts = {
        status: sum(1 for c in comms if c.status == status)
        for status in (CommStatus.on_time, CommStatus.late, CommStatus.missed)
    }
    kinds = Counter(line.kind for line in report.timeline)
    injects, messages = kinds["inject_delivered"], kinds["message_sent"]
    roles = len([lane for lane in lanes if lane.role != ANY_ROLE])
    return (
        f"Timeline of {report.overview.name} by role, {roles} roles over "
        f"{formats.span(report.overview.scenario_duration)} of scenario time: {injects} injects, "
        f"{len(report.scores.decisions)} decisions, {messages} messages, {len(comms)} "
        f"communication deadlines ({counts[CommStatus.on_time]} on time, "
        f"{counts[CommStatus.late]} late, {counts[CommStatus.missed]} missed)."
    )


# --------------------------------------------------------------------------- trends

TREND_WIDTH = 760.0
PLOT_LEFT = 56.0
PLOT_RIGHT = 24.0
PLOT_TOP = 52.0
PLOT_HEIGHT = 220.0
MARKERS = ("circle", "square", "triangle", "diamond")
DASHES = ("", "6 3", "2 3")
"""Past the palette's seven colours, lines repeat them dashed, then dotted."""


def trend_chart(series: Mapping[str, Sequence[tuple[str, float | None]]], title: str) -> str:
    """Percentages (0-100) across drills: one line per series, x labels the drills in the
    order first seen. None is a gap: the line breaks there."""
    labels = list(dict.fromkeys(label for points in series.values() for label, _ in points))
    plot_width = TREND_WIDTH - PLOT_LEFT - PLOT_RIGHT
    slot = plot_width / max(len(labels), 1)
    widest = max((text_width(label, 10.5) for label in labels), default=0.0)
    slanted = widest > slot - 8
    label_room = min(widest, 150.0) * 0.6 + 18 if slanted else 22.0
    legend, legend_height = _trend_legend(series, PLOT_TOP + PLOT_HEIGHT + label_room + 14)
    height = PLOT_TOP + PLOT_HEIGHT + label_room + legend_height + 20
    aria = f"{title}: {len(series)} series across {len(labels)} drills, as percentages."
    parts = _open_svg(TREND_WIDTH, height, title, aria)
    parts.append(_label(16, 26, title, 15, font_weight="600", fill=INK))
    parts.extend(_percent_grid())
    if not labels:
        parts.append(
            _label(
                PLOT_LEFT + plot_width / 2,
                PLOT_TOP + PLOT_HEIGHT / 2,
                "No scored drills yet.",
                13,
                text_anchor="middle",
                fill=MUTED,
            )
        )
    x_of = {label: PLOT_LEFT + slot * (i + 0.5) for i, label in enumerate(labels)}
    for i, label in enumerate(labels):
        parts.append(_x_label(x_of[label], label, slot, slanted, i))
    for index, (name, points) in enumerate(series.items()):
        parts.append(_trend_line(index, name, points, x_of))
    parts.append(legend)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _y(value: float) -> float:
    return PLOT_TOP + PLOT_HEIGHT * (1 - min(max(value, 0.0), 100.0) / 100)


def _percent_grid() -> list[str]:
    parts = []
    for value in (0, 25, 50, 75, 100):
        y = _y(value)
        colour = "#9aa5b4" if value == 0 else GRID
        parts.append(
            f'<line x1="{PLOT_LEFT:.1f}" y1="{y:.1f}" x2="{TREND_WIDTH - PLOT_RIGHT:.1f}" '
            f'y2="{y:.1f}" stroke="{colour}" stroke-width="1"/>'
        )
        parts.append(_label(PLOT_LEFT - 8, y + 4, f"{value}%", 10.5, text_anchor="end", fill=MUTED))
    return parts


def _x_label(x: float, label: str, slot: float, slanted: bool, index: int) -> str:
    y = PLOT_TOP + PLOT_HEIGHT + 16
    if not slanted:
        return _label(x, y, fit(label, slot - 8, 10.5), 10.5, text_anchor="middle", fill=MUTED)
    short = fit(label, 150, 10.5)
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="10.5" fill="{MUTED}" text-anchor="end" '
        f'transform="rotate(-35 {x:.1f} {y:.1f})" data-x="{index}">{tooltip(label)}'
        f"{escape_text(short)}</text>"
    )


def _trend_line(
    index: int, name: str, points: Sequence[tuple[str, float | None]], x_of: Mapping[str, float]
) -> str:
    colour = PALETTE[index % len(PALETTE)]
    dash = DASHES[(index // len(PALETTE)) % len(DASHES)]
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    parts = [f'<g data-series="{escape_attr(name)}">']
    run: list[tuple[float, float]] = []
    runs: list[list[tuple[float, float]]] = []
    for label, value in points:
        if value is None:
            if run:
                runs.append(run)
            run = []
            continue
        run.append((x_of[label], _y(value)))
    if run:
        runs.append(run)
    for stretch in runs:
        if len(stretch) > 1:
            parts.append(
                f'<polyline points="{point_list(stretch)}" fill="none" stroke="{colour}" '
                f'stroke-width="2.2" stroke-linejoin="round"{dash_attr}/>'
            )
    for label, value in points:
        if value is not None:
            tip = f"{name} · {label}: {value:.1f}%"
            parts.append(_marker(index, x_of[label], _y(value), colour, tip))
    parts.append("</g>")
    return "".join(parts)


def _marker(index: int, x: float, y: float, colour: str, tip: str) -> str:
    shape = MARKERS[index % len(MARKERS)]
    common = f'fill="{colour}" stroke="#ffffff" stroke-width="1"'
    if shape == "circle":
        body = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" {common}>'
        close = "</circle>"
    elif shape == "square":
        body = f'<rect x="{x - 3.6:.1f}" y="{y - 3.6:.1f}" width="7.2" height="7.2" {common}>'
        close = "</rect>"
    elif shape == "triangle":
        d = f"M{x:.1f},{y - 5:.1f} L{x + 4.6:.1f},{y + 3.6:.1f} L{x - 4.6:.1f},{y + 3.6:.1f} Z"
        body = f'<path d="{d}" {common}>'
        close = "</path>"
    else:
        d = f"M{x:.1f},{y - 5:.1f} L{x + 5:.1f},{y:.1f} L{x:.1f},{y + 5:.1f} L{x - 5:.1f},{y:.1f} Z"
        body = f'<path d="{d}" {common}>'
        close = "</path>"
    return f"{body}{tooltip(tip)}{close}"


def _trend_legend(
    series: Mapping[str, Sequence[tuple[str, float | None]]], top: float
) -> tuple[str, float]:
    parts = ['<g data-legend="trend">']
    x, y = PLOT_LEFT, top + 8
    for index, name in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        dash = DASHES[(index // len(PALETTE)) % len(DASHES)]
        label = fit(name, 260, 11)
        item = 30 + 6 + text_width(label, 11) + 22
        if x + item > TREND_WIDTH - PLOT_RIGHT and x > PLOT_LEFT:
            x, y = PLOT_LEFT, y + 20
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + 30:.1f}" y2="{y:.1f}" stroke="{colour}" '
            f'stroke-width="2.2"{dash_attr}/>'
        )
        parts.append(_marker(index, x + 15, y, colour, name))
        parts.append(_label(x + 36, y + 4, label, 11, fill=INK))
        x += item
    parts.append("</g>")
    height = (y - top + 12) if series else 0.0
    return "".join(parts), height


PRESSURE_WIDTH = 720.0
TONE_COLOURS = {"negative": VERMILLION, "neutral": GREY, "positive": GREEN, "team": BLUE}


def pressure_chart(report: Report) -> str:
    """The public feed's pressure: posts per story hour, stacked by tone (the team's own
    statements apart, in blue), from the drill's start to its last post."""
    hours = int(max(f.scenario_time for f in report.feed) // 3600) + 1 if report.feed else 1
    buckets: list[dict[str, int]] = [dict.fromkeys(TONE_COLOURS, 0) for _ in range(hours)]
    for post in report.feed:
        kind = "team" if post.source == "team" else post.tone
        buckets[int(post.scenario_time // 3600)][kind] += 1
    tallest = max((sum(b.values()) for b in buckets), default=1) or 1
    plot_w, plot_h, left, top = PRESSURE_WIDTH - 80, 140.0, 50.0, 40.0
    slot = plot_w / hours
    title = "Public feed: posts per story hour"
    aria = f"{title}: {len(report.feed)} posts over {hours} hours, by tone."
    parts = _open_svg(PRESSURE_WIDTH, top + plot_h + 70, title, aria)
    parts.append(_label(16, 24, title, 14, font_weight="600", fill=INK))
    for i, bucket in enumerate(buckets):
        y = top + plot_h
        for kind, colour in TONE_COLOURS.items():
            count = bucket[kind]
            if not count:
                continue
            height = plot_h * count / tallest
            y -= height
            tip = escape_text(f"T+{i:02d}h: {count} {kind}")
            parts.append(
                f'<rect x="{left + i * slot + 1:.1f}" y="{y:.1f}" width="{max(slot - 2, 1):.1f}" '
                f'height="{height:.1f}" fill="{colour}"><title>{tip}</title></rect>'
            )
        if hours <= 24 or i % max(hours // 12, 1) == 0:
            parts.append(
                _label(
                    left + (i + 0.5) * slot,
                    top + plot_h + 14,
                    f"{i}h",
                    10,
                    text_anchor="middle",
                    fill=MUTED,
                )
            )
    parts.append(_label(left - 6, top + 8, str(tallest), 10, text_anchor="end", fill=MUTED))
    parts.append(_label(left - 6, top + plot_h, "0", 10, text_anchor="end", fill=MUTED))
    x = left
    for kind, colour in TONE_COLOURS.items():
        name = "the team's statements" if kind == "team" else kind
        key_y = top + plot_h + 30
        parts.append(f'<rect x="{x:.1f}" y="{key_y:.1f}" width="10" height="10" fill="{colour}"/>')
        parts.append(_label(x + 14, top + plot_h + 39, name, 10.5, fill=INK))
        x += text_width(name, 10.5) + 34
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
