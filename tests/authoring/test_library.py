"""`tabletop scenarios list`: the library at a glance, broken files included."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from app.authoring.loader import scenario_files
from app.cli.main import cli
from tests.authoring.helpers import MINI
from tests.conftest import SCENARIOS

runner = CliRunner()


def test_json_lists_every_shipped_file_with_its_counts() -> None:
    result = runner.invoke(cli, ["scenarios", "list", "--json", "--dir", str(SCENARIOS)])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)["scenarios"]
    files = sorted(str(p) for p in scenario_files([SCENARIOS]))
    assert sorted(e["file"] for e in entries) == files
    assert len(entries) >= 2
    for entry in entries:
        if not entry["valid"]:
            continue  # still being written by someone; its error is shown instead
        assert entry["id"] and entry["title"] and entry["duration"] and entry["roles"]
        counts = entry["counts"]
        assert counts["injects"] >= 1 and counts["paths"] >= 1
        assert {"decisions", "expectations"} <= set(counts)
    assert any(e["valid"] for e in entries)


def test_a_broken_file_shows_its_first_error_and_the_rest_still_list(tmp_path: Path) -> None:
    shutil.copy(MINI, tmp_path / "mini.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text(MINI.read_text().replace("opens: pay", "opens: pya"))
    (tmp_path / "tabs.yaml").write_text("id: x\n\ttitle: y\n")
    result = runner.invoke(cli, ["scenarios", "list", "--json", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    entries = {Path(e["file"]).name: e for e in json.loads(result.stdout)["scenarios"]}
    assert entries["mini.yaml"]["valid"] and entries["mini.yaml"]["counts"]["paths"] == 2
    assert not entries["broken.yaml"]["valid"]
    assert f"{broken}:" in entries["broken.yaml"]["error"]
    assert "there is no decision 'pya'" in entries["broken.yaml"]["error"]
    assert not entries["tabs.yaml"]["valid"]

    text = runner.invoke(cli, ["scenarios", "list", "--dir", str(tmp_path)])
    assert text.exit_code == 0
    assert "2 file(s) could not be loaded" in text.stdout
    assert "there is no decision 'pya'" in text.stdout


def test_the_table_is_aligned_with_one_row_per_scenario(tmp_path: Path) -> None:
    shutil.copy(MINI, tmp_path / "mini.yaml")
    other = MINI.read_text().replace("id: mini", "id: a-much-longer-scenario-id", 1)
    (tmp_path / "other.yaml").write_text(other)
    result = runner.invoke(cli, ["scenarios", "list", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == [
        "ID", "TITLE", "DURATION", "LEVEL", "ROLES", "INJECTS", "DECISIONS", "EXPECT", "PATHS",
    ]  # fmt: skip
    assert [r.split()[0] for r in rows] == ["mini", "a-much-longer-scenario-id"]
    title_at = header.index("TITLE")
    assert all(r[title_at:].startswith("Mini drill") for r in rows)
    assert all(r.endswith("2") for r in rows)  # two paths, right-aligned under PATHS
    assert len({len(r) for r in [header, *rows]}) == 1


def test_a_missing_folder_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["scenarios", "list", "--dir", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "there is no scenario folder" in result.output
    assert isinstance(result.exception, SystemExit)
