"""The branch graph: every inject and decision drawn, safe text, the taken path marked."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app.authoring.graph import EdgeKind, branch_graph, describe_condition, render_svg, taken_path
from app.authoring.graph.layout import layer_nodes
from app.authoring.graph.model import END, START
from app.authoring.loader import load_scenario_file
from app.engine.scenario import Condition
from app.engine.simulate import play
from tests.authoring.helpers import (
    MINI,
    SVG,
    box_of,
    build,
    classes,
    mini_data,
    parse_scenario,
    shipped_files,
    svg_nodes,
)
from tests.conftest import SCENARIOS


def _mini_svg(highlight: set[str] | None = None) -> str:
    scenario = load_scenario_file(MINI).scenario
    assert scenario is not None
    return render_svg(branch_graph(scenario), highlight, title=scenario.title)


def test_the_svg_is_a_standalone_document() -> None:
    svg = _mini_svg()
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert {"viewBox", "width", "height"} <= set(root.attrib)
    assert root.find(f"{SVG}style") is not None
    # Nothing fetched from elsewhere: drills run on closed networks, PDFs render offline.
    assert root.find(f".//{SVG}script") is None
    assert root.find(f".//{SVG}image") is None
    assert "@import" not in svg and "url(http" not in svg and "href" not in svg


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: p.stem)
def test_every_inject_decision_and_option_has_a_node(path: Path) -> None:
    scenario = parse_scenario(path)
    assert scenario is not None, f"{path.name} does not parse: the library ships only valid files"
    nodes = svg_nodes(render_svg(branch_graph(scenario)))
    expected = {f"inject:{i.id}" for i in scenario.injects}
    expected |= {f"decision:{d.id}" for d in scenario.decisions}
    expected |= {f"option:{d.id}.{o.id}" for d in scenario.decisions for o in d.options}
    assert expected <= set(nodes)
    assert {"start", "end"} <= set(nodes)


@pytest.mark.parametrize("path", [MINI, *shipped_files()], ids=lambda p: p.stem)
def test_no_two_boxes_overlap_and_all_fit_on_the_canvas(path: Path) -> None:
    scenario = parse_scenario(path)
    assert scenario is not None, f"{path.name} does not parse: the library ships only valid files"
    svg = render_svg(branch_graph(scenario), title=scenario.title)
    root = ET.fromstring(svg)
    width, height = float(root.attrib["width"]), float(root.attrib["height"])
    boxes = {node: box_of(group) for node, group in svg_nodes(svg).items()}
    for node, (left, top, right, bottom) in boxes.items():
        assert 0 <= left < right <= width and 0 <= top < bottom <= height, node
    for (a, (l1, t1, r1, b1)), (b, (l2, t2, r2, b2)) in itertools.combinations(boxes.items(), 2):
        assert r1 <= l2 or r2 <= l1 or b1 <= t2 or b2 <= t1, f"{a} overlaps {b}"


def test_injects_show_channel_timing_and_condition() -> None:
    nodes = svg_nodes(_mini_svg())
    texts = {node: " ".join(g.itertext()) for node, g in nodes.items()}
    assert "edr · T+00:00" in texts["inject:alert"]
    assert "email · T+00:10" in texts["inject:note"]
    assert "email · +20m" in texts["inject:nudge"]
    # The one inject with a `when` is drawn dashed ("cond") and says when it arrives.
    assert "cond" in classes(nodes["inject:nudge"])
    assert "if not sent to legal" in texts["inject:nudge"]
    assert [n for n, g in nodes.items() if "cond" in classes(g)] == ["inject:nudge"]
    assert "Refuse" in texts["option:pay.no"] and "default" in texts["option:pay.no"]


def test_a_long_title_is_cut_with_an_ellipsis_and_kept_whole_in_the_tooltip() -> None:
    long_title = "The attackers post a sample of the stolen customer records " * 3
    data = mini_data()
    data["injects"][0]["title"] = long_title
    scenario = build(data)
    group = svg_nodes(render_svg(branch_graph(scenario)))["inject:alert"]
    shown = [t.text or "" for t in group.iter(f"{SVG}text")]
    assert any(line.endswith("…") for line in shown)
    tooltip = group.find(f"{SVG}title")
    assert tooltip is not None and long_title.strip() in (tooltip.text or "")


def test_markup_in_texts_is_escaped_not_executed() -> None:
    evil = '<script>alert("x")</script> & <b onload="x">'
    data = mini_data()
    data["injects"][0]["title"] = evil
    data["decisions"][0]["options"][0]["label"] = "</text><script>bad()</script>"
    scenario = build(data)
    svg = render_svg(branch_graph(scenario), title=evil)
    root = ET.fromstring(svg)  # still well-formed XML
    assert root.find(f".//{SVG}script") is None
    assert "<script>" not in svg and "<b " not in svg
    assert "&lt;script&gt;" in svg
    tooltip = svg_nodes(svg)["inject:alert"].find(f"{SVG}title")
    assert tooltip is not None and evil in (tooltip.text or "")


def test_control_characters_do_not_break_the_xml() -> None:
    data = mini_data()
    data["injects"][0]["title"] = "bell\x07 and form\x0cfeed"
    svg = render_svg(branch_graph(build(data)))
    ET.fromstring(svg)


@pytest.mark.parametrize(
    ("choices", "taken_extra"),
    [
        ({"pay": "yes"}, {"option:pay.yes", "inject:paid-follow-up"}),
        ({"pay": "no"}, {"option:pay.no", "inject:refused-follow-up", "clock"}),
    ],
)
def test_highlight_marks_exactly_the_path_taken(
    choices: dict[str, str], taken_extra: set[str]
) -> None:
    scenario = load_scenario_file(MINI).scenario
    assert scenario is not None
    path = taken_path(scenario, play(scenario, choices).events)
    common = {"start", "inject:alert", "inject:note", "inject:nudge", "decision:pay", "end"}
    assert path == common | taken_extra
    nodes = svg_nodes(render_svg(branch_graph(scenario), path))
    assert {n for n, g in nodes.items() if "taken" in classes(g)} == path
    assert {n for n, g in nodes.items() if "dim" in classes(g)} == set(nodes) - path


def test_highlighted_edges_are_those_between_taken_nodes() -> None:
    scenario = load_scenario_file(MINI).scenario
    assert scenario is not None
    path = taken_path(scenario, play(scenario, {"pay": "yes"}).events)
    root = ET.fromstring(render_svg(branch_graph(scenario), path))
    taken = {
        e.attrib["data-edge"]
        for e in root.iter(f"{SVG}path")
        if "data-edge" in e.attrib and "taken" in classes(e)
    }
    assert "decision:pay>option:pay.yes" in taken
    assert "option:pay.yes>inject:paid-follow-up" in taken
    assert "decision:pay>option:pay.no" not in taken
    assert "clock>end" not in taken  # the drill ended on the paid branch, not on time


def test_without_highlight_nothing_is_greyed() -> None:
    svg = _mini_svg()
    assert 'class="node' in svg and " dim" not in svg and " taken" not in svg


def test_edges_follow_the_scenario() -> None:
    data = mini_data()
    yes, no = data["decisions"][0]["options"]
    no["suppresses"] = ["nudge"]
    yes["triggers"] = ["press"]
    data["injects"].append({"id": "press", "title": "A reporter calls", "body": "b", "to": ["all"]})
    data["injects"].append(
        {
            "id": "reply",
            "title": "Legal replies",
            "body": "b",
            "to": ["executive"],
            "after": {"message": {"from": ["incident_manager"], "to": "legal"}},
        }
    )
    graph = branch_graph(build(data))
    edges = {(e.source, e.target, e.kind) for e in graph.edges}
    assert ("start", "inject:alert", EdgeKind.after) in edges
    assert ("inject:note", "inject:nudge", EdgeKind.after) in edges
    assert ("inject:note", "decision:pay", EdgeKind.opens) in edges
    assert ("decision:pay", "option:pay.no", EdgeKind.answer) in edges
    assert ("option:pay.yes", "inject:paid-follow-up", EdgeKind.after) in edges
    assert ("option:pay.yes", "inject:press", EdgeKind.triggers) in edges
    assert ("option:pay.no", "inject:nudge", EdgeKind.suppresses) in edges
    assert ("inject:paid-follow-up", "end", EdgeKind.ends) in edges
    assert ("clock", "end", EdgeKind.ends) in edges
    message = graph.nodes["message:1"]
    assert message.detail == "incident_manager → legal"
    assert ("message:1", "inject:reply", EdgeKind.message) in edges
    svg = render_svg(graph)
    root = ET.fromstring(svg)
    suppress = [e for e in root.iter(f"{SVG}path") if "suppresses" in classes(e)]
    assert any(e.attrib.get("data-edge") == "option:pay.no>inject:nudge" for e in suppress)
    labels = {t.text for t in root.iter(f"{SVG}text") if "edge-label" in classes(t)}
    assert labels == {"triggers", "suppresses"}


def test_a_loop_in_the_story_still_draws() -> None:
    data = mini_data()
    # Refusing brings the ransom note back: a cycle note -> pay -> no -> note.
    data["decisions"][0]["options"][1]["triggers"] = ["note"]
    graph = branch_graph(build(data))
    nodes = svg_nodes(render_svg(graph))
    assert {"inject:note", "decision:pay", "option:pay.no"} <= set(nodes)


def test_layers_run_left_to_right_once_a_loop_is_broken() -> None:
    data = mini_data()
    data["decisions"][0]["options"][1]["triggers"] = ["note"]  # note -> pay -> no -> note
    graph = branch_graph(build(data))
    layer, reversed_ = layer_nodes(graph)
    assert len(reversed_) == 1  # one edge turned round closes the loop
    assert set(layer) == set(graph.nodes)
    for edge in graph.edges:
        source, target = edge.source, edge.target
        if (source, target) in reversed_:
            source, target = target, source
        assert layer[source] < layer[target], edge
    assert layer[START] == 0
    assert layer[END] == max(layer.values())


@pytest.mark.parametrize(
    ("condition", "summary"),
    [
        ({"not": {"sent": {"to": "legal"}}}, "not sent to legal"),
        ({"flag": "backups_intact"}, "flag backups_intact"),
        ({"chosen": "pay.refuse"}, "chosen pay.refuse"),
        ({"open": "pay"}, "pay still open"),
        ({"sent": {"from": ["executive"], "to": "regulator"}}, "sent from executive to regulator"),
        (
            {"all": [{"delivered": "note"}, {"any": [{"flag": "a"}, {"answered": "pay"}]}]},
            "note delivered and (flag a or pay answered)",
        ),
    ],
)
def test_conditions_read_as_short_phrases(condition: dict[str, object], summary: str) -> None:
    assert describe_condition(Condition.model_validate(condition)) == summary


def test_the_styles_touch_only_the_graph_when_inlined_in_a_page() -> None:
    # The report and the HTML export inline the SVG: its <style> then applies to the
    # whole page, so every rule must be scoped to the graph's root class.
    root = ET.fromstring(_mini_svg())
    style = root.find(f"{SVG}style")
    assert style is not None and style.text
    selectors = [
        s.strip()
        for rule in style.text.split("}")
        if "{" in rule
        for s in rule.split("{")[0].split(",")
    ]
    assert selectors and all(s.startswith(".branch-graph") for s in selectors)
    assert "branch-graph" in root.attrib["class"].split()


def test_the_nodes_that_start_a_regulator_clock_say_which() -> None:
    loaded = load_scenario_file(SCENARIOS / "payments-major-ict-incident.yaml")
    assert loaded.scenario is not None
    graph = branch_graph(loaded.scenario)
    assert graph.nodes["inject:auth-failures"].starts == "starts the DORA clock (aware)"
    assert graph.nodes["option:classify.major"].starts == (
        "starts the DORA clock (classified major)"
    )
    assert graph.nodes["inject:hosting-customers-down"].starts == "starts the NIS2 clock (aware)"
    assert graph.nodes["option:classify.wait"].starts is None
    svg = render_svg(graph)
    root = ET.fromstring(svg)
    lines = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "clocks"]
    assert "starts the GDPR clock (aware)" in lines
    # The default marker stays on the option's label, not on its clock line.
    major = next(g for g in root.iter(f"{SVG}g") if g.get("data-node") == "option:classify.major")
    texts = list(major.iter(f"{SVG}text"))
    assert texts[0].get("class") == "label" and "default" in "".join(texts[0].itertext())
