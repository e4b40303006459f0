"""`tabletop dry-run` and the report of the drill it saves tell the same story, on every
shipped scenario: the same status for every expectation, the real date and length of the
run, a name that tells runs apart, and every {{variable}} filled in every export."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.authoring.loader import scenario_files
from app.cli.main import cli

SCENARIOS = Path(__file__).parents[2] / "scenarios"
SHIPPED = sorted(p.name for p in scenario_files([SCENARIOS]))
runner = CliRunner()


def _dry_run(name: str, *flags: str) -> dict[str, object]:
    ran = runner.invoke(cli, ["dry-run", str(SCENARIOS / name), "--save", "--json", *flags])
    assert ran.exit_code == 0, ran.output
    result: dict[str, object] = json.loads(ran.stdout)
    return result


def _report(drill_id: str, *flags: str) -> str:
    exported = runner.invoke(cli, ["report", drill_id, *flags])
    assert exported.exit_code == 0, exported.output
    return exported.stdout


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("team", ["silent", "diligent"])
def test_the_dry_run_and_its_saved_report_agree(workdir: Path, name: str, team: str) -> None:
    before = time.time()
    printed = _dry_run(name, *(["--diligent"] if team == "diligent" else []))
    drill_id = str(printed["drill_id"])
    report = json.loads(_report(drill_id, "--format", "json"))
    statuses = {c["expectation_id"]: c["status"] for c in report["scores"]["communications"]}
    assert printed["expectations"] == statuses
    if team == "silent":
        assert "pending" not in statuses.values()  # the drill ended: nothing is pending
    overview = report["overview"]
    # Dated when it ran, not on the simulation's fixed clock; as long as it took.
    assert before - 1 <= overview["created_at"] <= time.time() + 1
    assert overview["ended_at"] - overview["created_at"] < 30
    assert 0 <= overview["dry_run_seconds"] < 30
    assert overview["name"].startswith("Dry run: ") and f"{team} team" in overview["name"]
    for text in (_report(drill_id, "--format", "md"), _report(drill_id, "--format", "html")):
        assert "{{" not in text
        assert "dry run in " in text and "of real time" in text
    for table in ("timeline", "plan"):
        assert "{{" not in _report(drill_id, "--format", "csv", "--table", table)
    assert "{{" not in json.dumps(report)


def test_runs_are_told_apart_by_their_choices(workdir: Path) -> None:
    path = str(Path(__file__).parents[1] / "fixtures" / "mini.yaml")
    for flags in ([], ["--choose", "pay=yes"], ["--choose", "pay=no", "--diligent"]):
        saved = runner.invoke(cli, ["dry-run", path, "--save", *flags])
        assert saved.exit_code == 0, saved.output
    listed = json.loads(runner.invoke(cli, ["drills", "--json"]).stdout)
    assert sorted(d["name"] for d in listed) == [
        "Dry run: Mini drill (defaults; silent team)",
        "Dry run: Mini drill (pay=no; diligent team)",
        "Dry run: Mini drill (pay=yes; silent team)",
    ]


def test_the_pdf_of_a_saved_dry_run_has_no_unfilled_variable(workdir: Path) -> None:
    # The scenario with the most variables: party names, senders, statements, facts.
    printed = _dry_run("customer-database-theft.yaml", "--diligent")
    pdf = workdir / "report.pdf"
    _report(str(printed["drill_id"]), "--format", "pdf", "-o", str(pdf))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    assert "Who knew what" in text.stdout
    assert not re.search(r"\{\{\s*\w+\s*\}\}", text.stdout)
