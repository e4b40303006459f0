"""Shared for the authoring tests: the mini fixture, the shipped library, SVG reading."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

from app.authoring.loader import parse_yaml, scenario_files, yaml_of
from app.engine.scenario import Scenario
from tests.conftest import SCENARIOS

MINI = Path(__file__).parents[1] / "fixtures" / "mini.yaml"
SVG = "{http://www.w3.org/2000/svg}"


def shipped_files() -> list[Path]:
    return sorted(scenario_files([SCENARIOS]))


def parse_scenario(path: Path) -> Scenario | None:
    """The scenario's model without the (slow) flow checks; None if it does not parse.

    Other people are still writing some shipped scenarios: a file caught half-written is
    skipped here, and `tabletop validate` is where it gets judged.
    """
    data, _, findings = parse_yaml(yaml_of(path).read_text(encoding="utf-8"), str(path))
    if findings or not isinstance(data, dict):
        return None
    try:
        return Scenario.model_validate(data)
    except ValueError:
        return None


def mini_data() -> dict[str, Any]:
    """The mini scenario as plain data, fresh each call, to change before building."""
    data: dict[str, Any] = yaml.safe_load(MINI.read_text())
    return data


def build(data: dict[str, Any]) -> Scenario:
    return Scenario.model_validate(data)


def svg_nodes(svg: str) -> dict[str, ET.Element]:
    """The node groups of a rendered graph, by their data-node id."""
    root = ET.fromstring(svg)
    return {g.attrib["data-node"]: g for g in root.iter(f"{SVG}g") if "data-node" in g.attrib}


def classes(element: ET.Element) -> set[str]:
    return set(element.attrib.get("class", "").split())


def box_of(group: ET.Element) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of a node's outline: its rect, or its polygon."""
    for shape in group:
        if "shape" not in classes(shape):
            continue
        if shape.tag == f"{SVG}rect":
            x, y = float(shape.attrib["x"]), float(shape.attrib["y"])
            return x, y, x + float(shape.attrib["width"]), y + float(shape.attrib["height"])
        points = [tuple(map(float, p.split(","))) for p in shape.attrib["points"].split()]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return min(xs), min(ys), max(xs), max(ys)
    raise AssertionError(f"node {group.attrib.get('data-node')} has no outline")
