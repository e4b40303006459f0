"""Where authors hit walls: findings that say exactly what is wrong and how to fix it.

One-mistake files with their expected line live in broken/ (yes-is-not-a-boolean,
deadline-after-the-end, inject-after-the-end, ...); here are the cases that need more
than one assertion: library wording rewritten, no cascade after a missing `clock.end`,
and the new keys in the shipped library and the JSON Schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from app.authoring.loader import load_scenario_file, load_scenario_text
from app.engine.scenario import PartyKind, Scenario

SCENARIOS = Path(__file__).parents[2] / "scenarios"
BROKEN = Path(__file__).parent / "broken"

BASE = (BROKEN / "dead-end-option.yaml").read_text().partition("\n")[2]
"""A small valid scenario to break one key at a time (its expect line dropped)."""

LIBRARY_WORDING = re.compile(
    r"Input should|Field required|Extra inputs are not permitted|List should have|"
    r"String should|Value error|valid dictionary"
)


def _with(path: str, value: object) -> str:
    """BASE with the key at `path` (dotted, list indexes as numbers) set to `value`."""
    data = yaml.safe_load(BASE)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    target = data
    for part in parents:
        target = target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return yaml.safe_dump(data, sort_keys=False)


_DELETE = object()


def _messages(text: str) -> list[str]:
    loaded = load_scenario_text(text, "case.yaml")
    return [f.message for f in loaded.errors]


def test_the_base_scenario_is_valid_before_it_is_broken() -> None:
    # dead-end-option.yaml is broken by its option; the base used here only needs to
    # pass the type checks, which is where the rewritten messages come from.
    loaded = load_scenario_text(BASE, "base.yaml")
    assert loaded.scenario is not None


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "injects.0.to",
            "incident_manager",
            "`to` must be a list of role ids (or `all` for everyone), even of one, "
            "e.g. `to: [legal, executive]` (got 'incident_manager')",
        ),
        ("injects.0.body", _DELETE, "`body` is required but missing: add it, e.g. `body: "),
        (
            "injects.0.severity",
            "huge",
            "`severity` must be one of: info, low, medium, high or critical (got 'huge')",
        ),
        ("clock.speed", "fast", "`speed` must be a number, e.g. `speed: 10` (got 'fast')"),
        (
            "clock.start",
            "Christmas Eve",
            "`start` must be a date and time, e.g. `start: 2026-12-24T22:40:00`",
        ),
        ("decisions.0.options", [], "`options` needs at least 2 items"),
        ("tags", "ransomware", "`tags` must be a list, even of one, e.g. `tags: [ransomware"),
        ("objectives.contain", "Contain it", "`objectives.contain` must be a mapping of keys"),
        ("injects.0.title", "", "`title` is empty: write some text"),
    ],
)
def test_library_messages_are_rewritten_in_the_house_style(
    path: str, value: object, expected: str
) -> None:
    messages = _messages(_with(path, value))
    assert any(expected in m for m in messages), messages
    assert not [m for m in messages if LIBRARY_WORDING.search(m)], messages


def test_a_misspelt_key_is_named_with_its_likely_spelling() -> None:
    text = BASE.replace("  - id: alert\n    title:", "  - id: alert\n    tittle:", 1)
    assert any(
        "`tittle` is not a known key here: check its spelling and indentation "
        "(did you mean `title`?)" in m
        for m in _messages(text)
    ), _messages(text)


@pytest.mark.parametrize("word", ["yes", "No", "ON", "off"])
def test_yes_no_on_off_are_never_booleans(word: str) -> None:
    text = BASE.replace("    at: 0m\n", f"    at: 0m\n    ends_drill: {word}\n", 1)
    assert text != BASE
    loaded = load_scenario_text(text, "case.yaml")
    assert loaded.scenario is None
    [finding] = loaded.errors
    assert finding.message == f"`{word}` is not a boolean here: write true or false"
    assert finding.path == "injects[0].ends_drill"
    assert text.splitlines()[finding.line - 1].strip() == f"ends_drill: {word}"


def test_a_model_given_the_string_yes_refuses_it_too() -> None:
    """Not only the YAML loader: pydantic's lax bool would read "yes" as True."""
    data = yaml.safe_load(BASE)
    data["roles"]["legal"] = {"required": "yes"}
    with pytest.raises(ValueError, match="boolean"):
        Scenario.model_validate(data)


def test_true_and_false_still_are() -> None:
    text = BASE.replace("    at: 0m\n", "    at: 0m\n    ends_drill: True\n", 1)
    loaded = load_scenario_text(text, "case.yaml")
    assert loaded.scenario is not None
    assert loaded.scenario.injects[0].ends_drill is True


NO_END = """\
id: no-end
title: No end
summary: Two branches and no clock.end.
duration: 30m
clock:
  start: 2026-01-01T09:00:00
roles:
  incident_manager: {}
objectives:
  contain: {title: Contain, phase: containment}
injects:
  - id: alert
    title: Alert
    body: Something happened.
    to: [all]
    at: 0m
    opens: isolate
  - id: isolated
    title: Isolated
    body: The server is off the network.
    to: [incident_manager]
  - id: spread
    title: It spread
    body: Three more servers are encrypted.
    to: [incident_manager]
  - id: wrap-up
    title: Wrap-up
    body: Time to take stock.
    to: [incident_manager]
    after: {inject: spread}
    delay: 10m
decisions:
  - id: isolate
    prompt: Isolate the server?
    to: [incident_manager]
    time_limit: 10m
    default: wait
    options:
      - id: now
        label: Now
        score: {contain: 5}
        triggers: [isolated]
      - id: wait
        label: Wait
        triggers: [spread]
"""


def test_a_missing_clock_end_is_one_finding_not_a_cascade() -> None:
    loaded = load_scenario_text(NO_END, "no-end.yaml")
    messages = [f.message for f in loaded.errors]
    assert len(messages) == 1, messages
    assert "never ends: set `clock.end`" in messages[0]
    assert not [m for m in messages if "never delivered" in m]


def test_an_inject_scheduled_past_the_end_says_so() -> None:
    text = NO_END.replace(
        "  start: 2026-01-01T09:00:00\n", "  start: 2026-01-01T09:00:00\n  end: 15m\n"
    )
    loaded = load_scenario_text(text.replace("delay: 10m", "delay: 2h"), "late.yaml")
    [finding] = [f for f in loaded.errors if "wrap-up" in f.message]
    assert "the drill ends before it falls due on every path" in finding.message


def test_a_deadline_after_the_end_with_a_rationale_is_left_alone() -> None:
    """A statutory deadline (72 hours) may run past the exercise on purpose."""
    base = (BROKEN / "deadline-after-the-end.yaml").read_text().partition("\n")[2]
    assert not load_scenario_text(base, "x.yaml").ok
    stated = base + "    rationale: GDPR Art. 33 gives 72 hours; the drill covers the first two.\n"
    assert load_scenario_text(stated, "x.yaml").ok


def test_the_union_in_the_shipped_library_is_an_employee_representative() -> None:
    kinds = {}
    for path in SCENARIOS.glob("*.yaml"):
        scenario = load_scenario_file(path).scenario
        assert scenario is not None
        for party_id, party in scenario.parties.items():
            # A trade union, not TransUnion (a consumer reporting agency).
            if re.search(r"\bunion\b", f"{party_id} {party.name}", re.IGNORECASE):
                kinds[f"{path.stem}:{party_id}"] = party.kind
    assert kinds, "the shipped library has a union to tell"
    assert set(kinds.values()) == {PartyKind.employee_representatives}, kinds


def test_the_shipped_library_names_realistic_confusions() -> None:
    confused = {}
    for path in SCENARIOS.glob("*.yaml"):
        scenario = load_scenario_file(path).scenario
        assert scenario is not None
        for expectation in scenario.expectations:
            if expectation.confused_with:
                confused[expectation.to] = set(expectation.confused_with)
        for use in scenario.regimes:  # notices to an authority, scored through a regime
            if use.authority and use.confused_with:
                confused.setdefault(use.authority, set()).update(use.confused_with)
    assert "law_enforcement" in confused.get("regulator", set())
    assert len(confused) >= 4


def test_the_json_schema_carries_the_new_keys() -> None:
    schema = json.dumps(Scenario.model_json_schema(by_alias=True))
    for key in ('"sends"', '"unavailable"', '"by"', '"confused_with"', "employee_representatives"):
        assert key in schema
    defs = Scenario.model_json_schema(by_alias=True)["$defs"]
    assert defs["Inject"]["properties"]["ends_drill"]["type"] == "boolean"
    to = defs["MessageMatch"]["properties"]["to"]
    assert {"type": "array", "items": {"$ref": "#/$defs/Id"}} in to["anyOf"] or any(
        branch.get("type") == "array" for branch in to["anyOf"]
    )
