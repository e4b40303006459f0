"""The regimes shipped with Tabletop: all there, each valid against the format's own JSON
Schema, broken files refused with a finding that says what to fix, the README's table
generated from them, and the `tabletop regimes` commands."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from app.cli.main import cli
from app.regimes.library import DATA, RegimeError, load_regime, regime, regimes
from app.regimes.model import Unit, regime_json_schema
from app.regimes.reference import END, START, render_table
from tests.conftest import ROOT

runner = CliRunner()
REQUIRED = {"gdpr", "nis2", "dora", "sec_8k", "hipaa", "nydfs", "cra"}


def test_the_regimes_the_field_drills_on_are_shipped() -> None:
    assert set(regimes()) >= REQUIRED
    assert str(regime("dora").duty("initial_notification").within) == "4h"
    assert regime("sec_8k").duty("item_1_05").within.unit is Unit.business_days
    assert regime("hipaa").duty("hhs").threshold is not None


@pytest.mark.parametrize("path", sorted(DATA.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_regime_validates_against_the_json_schema(path: Path) -> None:
    jsonschema.Draft202012Validator(regime_json_schema()).validate(yaml.safe_load(path.read_text()))


def test_every_required_form_field_cites_its_source() -> None:
    for found in regimes().values():
        for duty in found.duties:
            assert duty.source, (found.id, duty.id)
            for field in duty.fields:
                assert field.source, (found.id, duty.id, field.id)


GOOD = {
    "id": "test",
    "name": "Test",
    "title": "A test regime",
    "version": 1,
    "as_of": "2026-12-01",
    "jurisdiction": "Nowhere",
    "events": {"aware": "someone becomes aware"},
    "duties": [
        {
            "id": "first",
            "title": "First notice",
            "recipient": "authority",
            "recipient_name": "the authority",
            "starts_on": "aware",
            "within": "24h",
            "source": "Art. 1",
            "fields": [{"id": "what", "label": "What happened"}],
        }
    ],
}


@pytest.mark.parametrize(
    ("change", "finding"),
    [
        (
            {"starts_on": "noticed"},
            "starts on 'noticed', which is not one of the regime's events: aware",
        ),
        (
            {"starts_on": "filed:second"},
            "starts on 'filed:second', but the regime has no such duty",
        ),
        ({"within": "3 weeks"}, "'3 weeks' is not a deadline: write '72h', '60 days'"),
        ({"recipient": "the press"}, "duties.0.recipient"),
        ({"fields": []}, "duties.0.fields"),
    ],
)
def test_a_broken_regime_file_is_refused_with_what_to_fix(
    tmp_path: Path, change: dict[str, object], finding: str
) -> None:
    broken = GOOD | {"duties": [GOOD["duties"][0] | change]}  # type: ignore[index]
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(broken))
    with pytest.raises(RegimeError, match=r"^test\.yaml: ") as refused:
        load_regime(path)
    assert finding in str(refused.value)


def test_two_duties_with_one_id_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(GOOD | {"duties": GOOD["duties"] * 2}))  # type: ignore[operator]
    with pytest.raises(RegimeError, match="repeated: first"):
        load_regime(path)


def test_the_readme_table_matches_the_regimes() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index(START) : readme.index(END) + len(END)] + "\n"
    assert block == render_table(), (
        "the regimes table in README.md is stale: run "
        "`tabletop regimes list --update-readme README.md`"
    )
    assert "not legal advice" in block


def test_regimes_list_and_show_on_the_command_line() -> None:
    listed = runner.invoke(cli, ["regimes", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    ids = {r["id"] for r in json.loads(listed.stdout)}
    assert ids >= REQUIRED
    shown = runner.invoke(cli, ["regimes", "show", "GDPR"])
    assert shown.exit_code == 0
    assert "72h after the controller becomes aware of a personal-data breach" in shown.stdout
    assert "Approximate number of people concerned [Art. 33(3)(a)]" in shown.stdout
    assert "not legal advice" in shown.stdout
    unknown = runner.invoke(cli, ["regimes", "show", "ccpa"])
    assert unknown.exit_code == 2
    assert "there is no regime 'ccpa'; the regimes are: cra, dora, gdpr" in unknown.output
    schema = runner.invoke(cli, ["regimes", "schema"])
    assert json.loads(schema.stdout)["$schema"].endswith("2020-12/schema")


def test_updating_a_readme_without_the_block_says_so(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# A README without the table\n")
    refused = runner.invoke(cli, ["regimes", "list", "--update-readme", str(readme)])
    assert refused.exit_code == 2 and "has no regimes table block" in refused.output
    assert readme.read_text() == "# A README without the table\n"
    readme.write_text(f"before\n{START}\nold\n{END}\nafter\n")
    done = runner.invoke(cli, ["regimes", "list", "--update-readme", str(readme)])
    assert done.exit_code == 0
    assert readme.read_text() == f"before\n{render_table().rstrip()}\nafter\n"
    missing = runner.invoke(cli, ["regimes", "list", "--update-readme", str(tmp_path / "no.md")])
    assert missing.exit_code == 2 and "cannot read" in missing.output
