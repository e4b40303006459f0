"""The `tabletop` command as a scenario author and an operator use it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from app.authoring.loader import load_scenario_path, scenario_files, yaml_of
from app.cli.authoring import scenario_json_schema
from app.cli.main import cli
from app.engine.simulate import explore
from tests.conftest import SCENARIOS
from tests.live import free_port
from tests.scale.cluster import TABLETOP

FIXTURES = Path(__file__).parents[1] / "fixtures"
MINI = FIXTURES / "mini.yaml"
SHIPPED = sorted(scenario_files([SCENARIOS]))
runner = CliRunner()


def test_the_shipped_library_validates_strictly() -> None:
    result = runner.invoke(cli, ["validate", "--strict", str(SCENARIOS)])
    assert result.exit_code == 0, result.output
    assert f"{len(SHIPPED)} of {len(SHIPPED)} scenario file(s) valid" in result.output
    assert len(SHIPPED) >= 2


def test_validate_reports_file_line_and_column_and_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = MINI.read_text().replace(
        "after: {inject: note}\n    delay: 20m", "after: {inject: notee}\n    delay: 20m"
    )
    broken.write_text(text)
    line = text.splitlines().index("    after: {inject: notee}") + 1
    result = runner.invoke(cli, ["validate", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}:{line}:" in result.output
    assert "there is no inject 'notee'" in result.output
    assert "injects[2].after.inject" in result.output


def test_validate_json_gives_findings_and_counts(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["validate", "--json", str(MINI)])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    counts = report["files"][0]["counts"]
    assert (counts["injects"], counts["decisions"], counts["expectations"]) == (5, 1, 1)
    assert counts["paths"] == 2  # pay=yes, pay=no


def test_warnings_fail_only_with_strict(tmp_path: Path) -> None:
    lazy = tmp_path / "lazy.yaml"
    # An objective that nothing scores is a warning, not an error.
    lazy.write_text(
        MINI.read_text().replace(
            "objectives:\n", "objectives:\n  spare: {title: Spare, phase: recovery}\n", 1
        )
    )
    assert runner.invoke(cli, ["validate", str(lazy)]).exit_code == 0
    strict = runner.invoke(cli, ["validate", "--strict", str(lazy)])
    assert strict.exit_code == 1
    assert "warning: objective 'spare' is never scored" in strict.output


def test_validate_with_nothing_to_read_says_so(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "no .yaml or .yml files found" in result.output


def test_schema_is_draft_2020_12_and_the_shipped_scenarios_pass_it() -> None:
    result = runner.invoke(cli, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in [MINI, *SHIPPED]:
        document = yaml.safe_load(yaml_of(path).read_text())
        # YAML timestamps arrive as datetime; JSON Schema sees the text an editor sees.
        document["clock"]["start"] = str(document["clock"]["start"]).replace(" ", "T")
        errors = [e.message for e in validator.iter_errors(document)]
        assert errors == [], f"{path.name}: {errors}"


def test_schema_rejects_what_the_validator_rejects() -> None:
    validator = jsonschema.Draft202012Validator(scenario_json_schema())
    document = yaml.safe_load(MINI.read_text())
    document["clock"]["start"] = "2026-12-24T22:40:00"
    document["injects"][0]["channel"] = "carrier-pigeon"
    assert not validator.is_valid(document)


def test_dry_run_prints_the_timeline_and_follows_a_chosen_branch() -> None:
    paid = runner.invoke(cli, ["dry-run", str(MINI), "--choose", "pay=yes"])
    assert paid.exit_code == 0, paid.output
    assert "T+00:10  Thu 24 Dec 22:50" in paid.output
    assert "chose Pay" in paid.output
    assert "Keys received" in paid.output and "Leak site post" not in paid.output
    refused = runner.invoke(cli, ["dry-run", str(MINI), "--choose", "pay=no", "--json"])
    data = json.loads(refused.stdout)
    texts = [e["text"] for e in data["timeline"]]
    assert any("Leak site post" in t for t in texts)
    assert data["points"] == {"decide": 10.0}
    assert data["expectations"] == {"tell-legal": "missed"}


def test_dry_run_default_options_time_out_and_diligent_meets_expectations() -> None:
    silent = json.loads(runner.invoke(cli, ["dry-run", str(MINI), "--json"]).stdout)
    assert any("Not answered: default applied (Refuse)" in e["text"] for e in silent["timeline"])
    diligent = json.loads(runner.invoke(cli, ["dry-run", str(MINI), "--diligent", "--json"]).stdout)
    assert diligent["expectations"] == {"tell-legal": "on_time"}
    assert not any(
        e["kind"] == "inject_delivered" and "Legal has heard nothing" in e["text"]
        for e in diligent["timeline"]
    )


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ("pay", "--choose takes DECISION=OPTION"),
        ("nope=yes", "there is no decision 'nope'"),
        ("pay=maybe", "decision 'pay' has no option 'maybe'; options: yes, no"),
    ],
)
def test_dry_run_explains_a_bad_choice(choice: str, message: str) -> None:
    result = runner.invoke(cli, ["dry-run", str(MINI), "--choose", choice])
    assert result.exit_code == 2
    assert message in result.output


def test_dry_run_save_keeps_a_finished_drill(workdir: Path) -> None:
    result = runner.invoke(cli, ["dry-run", str(MINI), "--choose", "pay=yes", "--save"])
    assert result.exit_code == 0, result.output
    drill_id = result.output.strip().splitlines()[-1].removeprefix("Saved as drill ")
    assert (workdir / ".tabletop" / "tabletop.db").exists()

    import asyncio

    from app.config import get_settings
    from app.services.runtime import open_service

    async def stored() -> tuple[str, int]:
        async with open_service(get_settings()) as service:
            drill = await service.drill(drill_id)
            return drill.status, len(await service.events(drill_id))

    status, count = asyncio.run(stored())
    assert status == "ended" and count > 5


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_branch_of_every_shipped_scenario_plays_to_a_clean_end(path: Path) -> None:
    loaded = load_scenario_path(path)
    assert loaded.scenario is not None, [f.render() for f in loaded.findings]
    exploration = explore(loaded.scenario)
    assert exploration.complete
    for played in exploration.paths:
        assert not played.stalled and not played.runaway, played.choices
        assert played.state.status == "ended", played.choices
    delivered = {i for p in exploration.paths for i in p.state.delivered}
    assert delivered == {i.id for i in loaded.scenario.injects}
    # The command line takes the same branch: the last option of every decision.
    choices = [f"{d.id}={d.options[-1].id}" for d in loaded.scenario.decisions]
    args = [arg for choice in choices for arg in ("--choose", choice)]
    result = runner.invoke(cli, ["dry-run", str(path), *args])
    assert result.exit_code == 0, result.output
    assert "Ended: " in result.output and "Ended: no" not in result.output


def test_db_upgrade_creates_the_database(workdir: Path) -> None:
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "is up to date" in result.output
    assert (workdir / ".tabletop" / "tabletop.db").exists()


@pytest.mark.parametrize(
    ("command", "database"),
    [
        (["db", "upgrade"], "postgresql+asyncpg://postgres@127.0.0.1:{port}/test"),
        (["serve", "--port", "{port}"], "postgresql+asyncpg://postgres@127.0.0.1:{port}/test"),
        (["export-drill", "some-drill"], "sqlite+aiosqlite:///{missing}/tabletop.db"),
    ],
)
def test_a_database_that_cannot_be_reached_is_one_line_not_a_traceback(
    command: list[str], database: str, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there
    missing = tmp_path / "no" / "such" / "folder"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABLETOP_")}
    env["TABLETOP_DATABASE_URL"] = database.format(port=port, missing=missing)
    env["TABLETOP_DATA_DIR"] = str(tmp_path)
    args = [arg.format(port=free_port()) for arg in command]
    result = subprocess.run(
        [TABLETOP, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: the database at ") and "is unavailable" in line
    assert "check TABLETOP_DATABASE_URL" in line
