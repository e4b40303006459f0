"""A scenario kept in the database is parsed without being validated again, and comes
out as the same model the validator accepted when it was stored: from its text, and from
the JSON of its data kept beside the text (what a restarted server reads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.authoring.loader import data_as_json, load_scenario_text, parse_stored_scenario

SHIPPED = sorted((Path(__file__).parents[2] / "scenarios").glob("*.yaml"))
MINI = (Path(__file__).parents[1] / "fixtures" / "mini.yaml").read_text()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_stored_scenario_parses_to_the_model_that_was_validated(path: Path) -> None:
    text = path.read_text()
    loaded = load_scenario_text(text, path.name)
    assert loaded.scenario is not None
    assert parse_stored_scenario(text) == loaded.scenario
    # Every shipped scenario's data is JSON's to hold, and reads back to the same model.
    assert loaded.data_json is not None
    assert parse_stored_scenario(text, loaded.data_json) == loaded.scenario


@pytest.mark.parametrize("text", ["", "id: [unclosed", "- a list\n- not a scenario\n"])
def test_text_that_is_not_a_scenario_gives_none(text: str) -> None:
    assert parse_stored_scenario(text) is None


def test_a_scenario_that_does_not_load_keeps_no_data() -> None:
    assert load_scenario_text("id: [unclosed").data_json is None


def test_dates_and_times_are_kept_as_json_and_read_back_the_same() -> None:
    # The small fixture starts its clock at a YAML timestamp (2026-12-24T22:40:00).
    loaded = load_scenario_text(MINI, "mini.yaml")
    assert loaded.scenario is not None and loaded.data_json is not None
    assert '"2026-12-24T22:40:00"' in loaded.data_json
    assert parse_stored_scenario(MINI, loaded.data_json) == loaded.scenario


@pytest.mark.parametrize(
    ("key", "value"),
    [("big", 2**70), ("ratio", float("nan")), ("text", "\ud800")],
    ids=["big-int", "nan", "surrogate"],
)
def test_data_json_cannot_hold_is_not_kept(key: str, value: object) -> None:
    loaded = load_scenario_text(MINI, "mini.yaml")
    assert loaded.scenario is not None
    assert data_as_json({key: value}, loaded.scenario) is None


def test_data_that_reads_back_as_another_model_is_not_kept() -> None:
    # What JSON's reading validates to is compared with the model the text gave.
    loaded = load_scenario_text(MINI, "mini.yaml")
    assert loaded.scenario is not None
    assert data_as_json({"id": "other"}, loaded.scenario) is None


def test_data_that_no_longer_validates_falls_back_to_the_text() -> None:
    loaded = load_scenario_text(MINI, "mini.yaml")
    assert loaded.scenario is not None
    for broken in ('{"id": 5}', "not json", "[]"):
        assert parse_stored_scenario(MINI, broken) == loaded.scenario
