"""A scenario kept in the database is parsed without being validated again, and comes
out as the same model the validator accepted when it was stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.authoring.loader import load_scenario_text, parse_stored_scenario

SHIPPED = sorted((Path(__file__).parents[2] / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_stored_scenario_parses_to_the_model_that_was_validated(path: Path) -> None:
    text = path.read_text()
    validated = load_scenario_text(text, path.name).scenario
    assert validated is not None
    assert parse_stored_scenario(text) == validated


@pytest.mark.parametrize("text", ["", "id: [unclosed", "- a list\n- not a scenario\n"])
def test_text_that_is_not_a_scenario_gives_none(text: str) -> None:
    assert parse_stored_scenario(text) is None
