"""The report's charts: standalone, accessible SVG that tells the drill's known answers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from app.authoring.svg import attributes, escape_attr, escape_text, open_svg
from app.reports.build import build_report
from app.reports.charts import timeline_chart, trend_chart
from app.reports.model import Report, TimelineLine
from tests.reports.sample import NOW, dry_run_inputs, scripted_inputs

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def scripted() -> tuple[Report, str]:
    inputs = scripted_inputs()
    report = build_report(inputs, NOW)
    return report, timeline_chart(report, inputs.scenario)


def _root(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def _lane(root: ET.Element, role: str) -> ET.Element:
    lane = root.find(f".//{SVG}g[@data-lane='{role}']")
    assert lane is not None, role
    return lane


def _marks(lane: ET.Element, kind: str) -> list[ET.Element]:
    return [e for e in lane.iter() if e.get("data-mark") == kind]


def _all_marks(root: ET.Element, kind: str) -> list[ET.Element]:
    """Markers in the lanes (the legend draws samples of each)."""
    lanes = [g for g in root.iter(f"{SVG}g") if g.get("data-lane")]
    return [mark for lane in lanes for mark in _marks(lane, kind)]


def assert_standalone(svg: str) -> None:
    """No scripts, no stylesheet, nothing fetched: only the SVG namespace is a URL."""
    assert "<script" not in svg.lower()
    assert "<style" not in svg.lower()
    assert "href" not in svg
    assert re.findall(r"https?://[^\s\"'<>]+", svg) == ["http://www.w3.org/2000/svg"]
    assert not svg.startswith("<?xml")  # inlined into HTML as it is


def _title(root: ET.Element) -> str | None:
    title = root.find(f"{SVG}title")
    return None if title is None else title.text


def assert_accessible(svg: str) -> ET.Element:
    root = _root(svg)
    assert root.get("role") == "img"
    assert root.get("aria-label")
    title = root.find(f"{SVG}title")
    assert title is not None and title.text
    return root


def test_the_timeline_chart_is_standalone_and_accessible(scripted: tuple[Report, str]) -> None:
    _, svg = scripted
    assert_standalone(svg)
    root = assert_accessible(svg)
    label = root.get("aria-label", "")
    assert "Christmas drill" in label
    assert "1 late" in label
    assert _title(root) == "Timeline by role: Christmas drill"


def test_one_lane_per_role_in_play_with_its_title(scripted: tuple[Report, str]) -> None:
    report, svg = scripted
    root = _root(svg)
    lanes = [g.get("data-lane") for g in root.iter(f"{SVG}g") if g.get("data-lane")]
    assert lanes == list(report.scores.roles)
    texts = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    for title in ("Incident manager", "Legal counsel", "Communications / PR", "Executive"):
        assert title in texts


def test_ticks_read_as_scenario_clock(scripted: tuple[Report, str]) -> None:
    _, svg = scripted
    texts = [t.text for t in _root(svg).iter(f"{SVG}text")]
    # 1h10m of drill: a tick every ten minutes, top and bottom.
    for tick in ("T+00:00", "T+00:10", "T+00:30", "T+01:00", "T+01:10"):
        assert texts.count(tick) == 2
    assert "T+00:05" not in texts


def test_markers_tell_the_scripted_drill(scripted: tuple[Report, str]) -> None:
    """The known answers of tests/reports/sample.py, lane by lane."""
    _, svg = scripted
    root = _root(svg)
    manager = _lane(root, "incident_manager")
    # Alert, isolation report, ransom note, legal away, the attackers again, the nudge.
    assert len(_marks(manager, "inject")) == 6
    assert len(_marks(manager, "message")) == 1
    assert [g.get("data-state") for g in _marks(manager, "decision")] == ["answered"] * 2
    deadlines = _marks(manager, "deadline")
    assert [d.get("data-status") for d in deadlines] == ["late"]
    for role in ("legal", "communications", "executive"):
        assert len(_marks(_lane(root, role), "inject")) == 1  # the ransom note
    assert len(_marks(_lane(root, "communications"), "message")) == 1
    executive = _marks(_lane(root, "executive"), "decision")
    assert [g.get("data-state") for g in executive] == ["timed_out"]
    # Lena is on a plane from 40 minutes to the end.
    assert len(_marks(_lane(root, "legal"), "away")) == 1
    assert len(_marks(root, "end")) == 1


def test_tooltips_say_what_each_marker_is(scripted: tuple[Report, str]) -> None:
    _, svg = scripted
    root = _root(svg)
    (late,) = _marks(_lane(root, "incident_manager"), "deadline")
    tip = late.find(f"{SVG}title")
    assert tip is not None
    assert tip.text == (
        "Tell the executive (to Executive sponsor (CISO)): due T+01:00, late, "
        "sent T+01:10 (+0h 10m)"
    )


def test_without_the_scenario_the_chart_still_draws(scripted: tuple[Report, str]) -> None:
    report, with_scenario = scripted
    svg = timeline_chart(report)
    assert_standalone(svg)
    root = assert_accessible(svg)
    assert len(_all_marks(root, "inject")) == len(_all_marks(_root(with_scenario), "inject"))


def test_report_text_is_escaped() -> None:
    inputs = scripted_inputs()
    report = build_report(inputs, NOW)
    hostile = '<script>alert("x")</script> & </svg>'
    overview = report.overview.model_copy(update={"name": hostile})
    svg = timeline_chart(report.model_copy(update={"overview": overview}), inputs.scenario)
    assert_standalone(svg)
    root = _root(svg)
    assert _title(root) == f"Timeline by role: {hostile}"


def test_the_shared_svg_helpers_escape_for_xml() -> None:
    # Shared by these charts and the branch graph: one place decides what is safe.
    assert escape_text('<b> & "q"\x07') == '&lt;b&gt; &amp; "q"'
    # Each character that needs work, alone: the fast path must not let one through.
    for raw, escaped in (("a<b", "a&lt;b"), ("a>b", "a&gt;b"), ("a&b", "a&amp;b")):
        assert escape_text(raw) == escaped
    assert escape_text("bell\x07 nul\x00 \ufffe") == "bell nul "
    assert escape_text("plain 'text', \"quoted\"\n") == "plain 'text', \"quoted\"\n"
    assert escape_attr('say "hi"\nthen\x0c go') == "say &quot;hi&quot;&#10;then go"
    assert attributes(class_="a", text_anchor="end", fill='"') == (
        ' class="a" text-anchor="end" fill="&quot;"'
    )
    svg = "".join(open_svg(10.4, 20.6, "T & t", role="img")) + "</svg>"
    root = _root(svg)
    assert (root.get("width"), root.get("height"), root.get("role")) == ("10", "21", "img")
    assert _title(root) == "T & t"


def test_a_long_dry_run_draws_every_role() -> None:
    inputs = dry_run_inputs()
    report = build_report(inputs, NOW)
    svg = timeline_chart(report, inputs.scenario)
    assert_standalone(svg)
    root = assert_accessible(svg)
    delivered = sum(1 for line in report.timeline if line.kind == "inject_delivered")
    assert len(_all_marks(root, "inject")) >= delivered  # one per recipient role
    deadlines = _all_marks(root, "deadline")
    assert len(deadlines) >= len(report.scores.communications)
    assert {d.get("data-status") for d in deadlines} == {"on_time"}
    assert "T+28:00" in svg


# --------------------------------------------------------------------------- trends

LABELS = ["Q1 drill (2027-01-04)", "Q2 drill (2027-04-05)", "Q3 drill (2027-07-05)"]


def test_trend_lines_break_at_gaps() -> None:
    series: dict[str, list[tuple[str, float | None]]] = {
        "Containment": list(zip(LABELS, [40.0, 62.5, 90.0], strict=True)),
        "Communications": list(zip(LABELS, [55.0, None, 70.0], strict=True)),
        "Legal": list(zip(LABELS, [None, 20.0, None], strict=True)),
    }
    svg = trend_chart(series, "Score per capability")
    assert_standalone(svg)
    root = assert_accessible(svg)
    assert _title(root) == "Score per capability"
    groups = {g.get("data-series"): g for g in root.iter(f"{SVG}g") if g.get("data-series")}
    assert list(groups) == list(series)
    lines = {name: len(list(g.iter(f"{SVG}polyline"))) for name, g in groups.items()}
    assert lines == {"Containment": 1, "Communications": 0, "Legal": 0}
    tips = [t.text for t in root.iter(f"{SVG}title")]
    assert "Communications · Q3 drill (2027-07-05): 70.0%" in tips
    assert not any("Legal · Q1" in (t or "") for t in tips)
    legend = root.find(f".//{SVG}g[@data-legend='trend']")
    assert legend is not None
    # Each series in its own colour, the legend's swatch the colour of its series' line.
    swatches = [line.get("stroke") for line in legend.iter(f"{SVG}line")]
    assert len(swatches) == 3 and len(set(swatches)) == 3
    assert all(re.fullmatch(r"#[0-9a-fA-F]{6}", s or "") for s in swatches), swatches
    drawn = next(groups["Containment"].iter(f"{SVG}polyline")).get("stroke")
    assert drawn == swatches[list(series).index("Containment")]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"0%", "50%", "100%"} <= set(texts)


def test_trend_points_stay_on_the_axis() -> None:
    svg = trend_chart({"Odd": [("a", 130.0), ("b", -5.0)]}, "Clamped")
    (line,) = [g for g in _root(svg).iter(f"{SVG}g") if g.get("data-series") == "Odd"]
    ys = [float(c.get("cy", "0")) for c in line.iter(f"{SVG}circle")]
    top, bottom = min(ys), max(ys)
    assert top == pytest.approx(52.0)  # 100% line
    assert bottom == pytest.approx(272.0)  # 0% line


def test_an_empty_trend_says_so() -> None:
    svg = trend_chart({}, "Score per role")
    assert_standalone(svg)
    assert_accessible(svg)
    assert "No scored drills yet." in svg


def test_many_series_stay_distinct() -> None:
    series = {f"Role {i}": [("a", float(i)), ("b", float(i + 1))] for i in range(9)}
    root = _root(trend_chart(series, "Score per role"))
    styles = set()
    for g in root.iter(f"{SVG}g"):
        if g.get("data-series"):
            line = next(g.iter(f"{SVG}polyline"))
            styles.add((line.get("stroke"), line.get("stroke-dasharray")))
    assert len(styles) == 9


def test_messages_that_would_lie_on_top_of_each_other_share_one_mark_that_counts_them(
    scripted: tuple[Report, str],
) -> None:
    """A long drill's thousands of messages on a 730 px track: marks within a few pixels
    are one, which says how many it stands for and what the first were."""
    report, _ = scripted
    burst = [
        TimelineLine(
            seq=10_000 + n,
            scenario_time=1800.0 + n / 10,
            offset="T+00:30",
            story_time="Thu 24 Dec 23:10",
            kind="message_sent",
            text=f"Incident manager sent message to Legal counsel: update {n}",
            roles=["incident_manager"],
        )
        for n in range(120)
    ]
    busy = report.model_copy(update={"timeline": [*report.timeline, *burst]})
    manager = _lane(_root(timeline_chart(busy)), "incident_manager")
    marks = _marks(manager, "message")
    counts = [int(m.get("data-count", "1")) for m in marks]
    assert sum(counts) == 1 + len(burst)  # the scripted drill's one message, and the burst
    assert len(marks) == 2
    (group,) = [m for m in marks if m.get("data-count")]
    tip = group.find(f"{SVG}title")
    assert tip is not None
    assert tip.text == (
        "120 messages, T+00:30: Incident manager sent message to Legal counsel: update 0; "
        "Incident manager sent message to Legal counsel: update 1; and 118 more"
    )
