"""`tabletop new`: a starter that validates as written and plays down both branches."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli.main import cli

runner = CliRunner()


def _new(tmp_path: Path, *args: str) -> Path:
    result = runner.invoke(cli, ["new", "phish-to-payroll", "--dir", str(tmp_path), *args])
    assert result.exit_code == 0, result.output
    return tmp_path / "phish-to-payroll.yaml"


def test_the_starter_validates_strictly_as_written(tmp_path: Path) -> None:
    path = _new(tmp_path)
    result = runner.invoke(cli, ["validate", "--strict", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 of 1 scenario file(s) valid" in result.output
    assert "warning" not in result.output


def test_the_name_becomes_the_id_and_the_title(tmp_path: Path) -> None:
    text = _new(tmp_path).read_text()
    assert "\nid: phish-to-payroll\n" in text
    assert "\ntitle: Phish to payroll\n" in text


@pytest.mark.parametrize(
    ("choice", "ending"),
    [
        (
            "contain=revoke",
            "Ended: the inject 'Sessions revoked, the rule removed, the payment run safe' "
            "ends the story at 35m",
        ),
        (
            "contain=watch",
            "Ended: the inject 'The supplier asks why it was not paid' ends the story at 1h15m",
        ),
    ],
)
def test_both_branches_of_the_starter_play_to_an_end(
    tmp_path: Path, choice: str, ending: str
) -> None:
    path = _new(tmp_path)
    result = runner.invoke(cli, ["dry-run", str(path), "--choose", choice])
    assert result.exit_code == 0, result.output
    assert ending in result.output


def test_the_starter_teaches_with_comments_and_says_what_to_do_next(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["new", "phish", "--dir", str(tmp_path)])
    path = tmp_path / "phish.yaml"
    assert f"tabletop validate --strict {path}" in result.output
    assert f"tabletop dry-run {path} --choose contain=revoke" in result.output
    assert f"tabletop graph {path}" in result.output
    text = path.read_text()
    for key in ("injects:", "decisions:", "expectations:", "statements:", "variables:"):
        above = text.split(f"\n{key}")[0].rstrip().splitlines()[-1]
        assert above.startswith("#"), f"{key} has no comment above it"
    for taught in ("at: 0m", "after: {inject: alert}", "delay: 15m", "when: {not:", "opens:"):
        assert taught in text


@pytest.mark.parametrize(
    "bad", ["Phish", "phish to payroll", "../escape", "_underscore", "a" * 65, "é"]
)
def test_an_invalid_id_is_refused_with_what_is_allowed(tmp_path: Path, bad: str) -> None:
    result = runner.invoke(cli, ["new", bad, "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "lower-case letters, digits, '-' and '_'" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_yaml_suffix_is_taken_as_the_file_name(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["new", "phish.yaml", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "\nid: phish\n" in (tmp_path / "phish.yaml").read_text()


def test_an_existing_file_is_kept_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "phish-to-payroll.yaml"
    path.write_text("# my work in progress\n")
    refused = runner.invoke(cli, ["new", "phish-to-payroll", "--dir", str(tmp_path)])
    assert refused.exit_code == 1
    assert "already exists" in refused.output and "--force" in refused.output
    assert path.read_text() == "# my work in progress\n"
    _new(tmp_path, "--force")
    assert "id: phish-to-payroll" in path.read_text()


def test_the_default_folder_is_the_configured_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.config import get_settings

    monkeypatch.setenv("TABLETOP_SCENARIOS_DIR", str(tmp_path / "library"))
    get_settings.cache_clear()
    try:
        result = runner.invoke(cli, ["new", "phish"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert (tmp_path / "library" / "phish.yaml").is_file()
