"""The shipped library meets the minimums a security team should expect of a scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.authoring.loader import load_scenario_path, scenario_files
from app.engine.index import index_of
from app.engine.scenario import EVERYONE, Channel, Decision, Scenario
from tests.conftest import SCENARIOS

SHIPPED = sorted(scenario_files([SCENARIOS]))
TECHNICAL = {Channel.siem, Channel.edr}


def _load(path: Path) -> Scenario:
    loaded = load_scenario_path(path)
    assert loaded.scenario is not None and not loaded.findings, [
        f.render() for f in loaded.findings
    ]
    return loaded.scenario


def _what_follows(scenario: Scenario, decision: Decision, option_id: str) -> frozenset[str]:
    """The injects an option brings or keeps out of the story, and whether it ends it."""
    option = next(o for o in decision.options if o.id == option_id)
    followers = index_of(scenario).after_option.get(f"{decision.id}.{option_id}")
    effects = {f"+{i}" for i in option.triggers} | {f"-{i}" for i in option.suppresses}
    effects |= {f"+{i.id}" for i in followers.injects} if followers else set()
    effects |= {f"flag:{k}={v}" for k, v in option.set.items()}
    if option.ends_drill:
        effects.add("end")
    return frozenset(effects)


def test_the_library_has_at_least_eight_scenarios() -> None:
    assert len(SHIPPED) >= 8


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_each_scenario_meets_the_minimums(path: Path) -> None:
    s = _load(path)
    assert 60 * 60 <= s.duration <= 120 * 60, "playable in 60 to 120 minutes"
    assert len(s.injects) >= 15
    assert len({i.channel for i in s.injects}) >= 3
    branching = [d for d in s.decisions if len({_what_follows(s, d, o.id) for o in d.options}) >= 2]
    assert len(branching) >= 3, "three decisions whose options change what comes later"
    assert len(s.expectations) >= 4
    assert s.statements, "drawer statements for the communications it needs"
    untagged = [i.id for i in s.injects if i.channel in TECHNICAL and not i.attack]
    assert untagged == [], "technical injects carry ATT&CK technique ids"
    assert all(o.phase for o in s.objectives.values())
    assert any(i.notes for i in s.injects) and any(i.questions for i in s.injects)
    for role in s.roles:
        assert any(role in i.to or EVERYONE in i.to for i in s.injects), f"{role} gets injects"
        assert any(role in d.to or EVERYONE in d.to for d in s.decisions), f"{role} decides"
