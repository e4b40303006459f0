"""`tabletop graph`: the SVG on stdout or in a file, a chosen path highlighted."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from app.cli.main import cli
from tests.authoring.helpers import MINI, SVG, classes, svg_nodes

runner = CliRunner()


def test_the_svg_goes_to_stdout() -> None:
    result = runner.invoke(cli, ["graph", str(MINI)])
    assert result.exit_code == 0, result.output
    root = ET.fromstring(result.stdout)
    assert root.tag == f"{SVG}svg"
    assert "inject:alert" in svg_nodes(result.stdout)


def test_the_svg_goes_to_a_file_with_the_chosen_path_highlighted(tmp_path: Path) -> None:
    out = tmp_path / "mini.svg"
    result = runner.invoke(cli, ["graph", str(MINI), "-o", str(out), "--choose", "pay=yes"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    nodes = svg_nodes(out.read_text())
    taken = {n for n, g in nodes.items() if "taken" in classes(g)}
    assert {"option:pay.yes", "inject:paid-follow-up", "end"} <= taken
    assert "option:pay.no" not in taken and "inject:refused-follow-up" not in taken
    assert "pay=yes" in out.read_text()  # the heading says which path it shows


def test_an_invalid_scenario_prints_its_findings_and_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(MINI.read_text().replace("after: {inject: note}", "after: {inject: nope}"))
    result = runner.invoke(cli, ["graph", str(broken)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert f"{broken}:" in result.stderr and "there is no inject 'nope'" in result.stderr
    assert result.stdout == ""


def test_an_unknown_choice_names_the_options(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["graph", str(MINI), "--choose", "pay=maybe"])
    assert result.exit_code == 2
    assert "options: yes, no" in result.output


def test_an_unwritable_output_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["graph", str(MINI), "-o", str(tmp_path / "no" / "g.svg")])
    assert result.exit_code == 1
    assert "cannot write" in result.output
