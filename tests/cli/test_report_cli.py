"""`tabletop report`, `report-schema` and `drills` from the shell, on a saved dry run."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from pathlib import Path

from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from app.cli.main import cli

MINI = Path(__file__).parents[1] / "fixtures" / "mini.yaml"
runner = CliRunner()


def _saved_dry_run() -> str:
    saved = runner.invoke(cli, ["dry-run", str(MINI), "--choose", "pay=no", "--diligent", "--save"])
    assert saved.exit_code == 0, saved.output
    found = re.search(r"Saved as drill (\S+)", saved.output)
    assert found is not None
    return found.group(1)


def test_a_saved_dry_run_exports_in_every_format(workdir: Path) -> None:
    drill_id = _saved_dry_run()
    listed = runner.invoke(cli, ["drills", "--json"])
    assert [d["id"] for d in json.loads(listed.stdout)] == [drill_id]

    as_json = runner.invoke(cli, ["report", drill_id, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    schema = json.loads(runner.invoke(cli, ["report-schema"]).stdout)
    Draft202012Validator(schema).validate(report)
    assert report["report_version"] == 1 and report["overview"]["status"] == "ended"
    decide = next(o for o in report["objectives"] if o["id"] == "decide")
    assert decide["score"]["points"] == 10 and decide["rating"] == "P"
    figure = f"{report['scores']['overall']['percent']:.1f}%"

    markdown = runner.invoke(cli, ["report", drill_id, "--format", "md"]).stdout
    assert markdown.startswith("#") and figure in markdown
    timeline = list(
        csv.reader(io.StringIO(runner.invoke(cli, ["report", drill_id, "-f", "csv"]).stdout))
    )
    assert timeline[0][:2] == ["seq", "offset"] and len(timeline) > 5

    pdf = workdir / "report.pdf"
    written = runner.invoke(cli, ["report", drill_id, "--format", "pdf", "-o", str(pdf)])
    assert written.exit_code == 0, written.output
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    assert figure in text.stdout

    html = workdir / "report.html"
    runner.invoke(cli, ["report", drill_id, "--format", "html", "-o", str(html)])
    assert figure in html.read_text() and "<script" not in html.read_text()


def test_an_unknown_drill_says_how_to_find_one(workdir: Path) -> None:
    result = runner.invoke(cli, ["report", "nope", "--format", "json"])
    assert result.exit_code == 1
    assert "there is no drill 'nope'" in result.output and "tabletop drills" in result.output
