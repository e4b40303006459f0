"""Scores that mean what they say, on every shipped scenario.

A team that answers nothing and says nothing earns nothing: no decision it never made
scores above zero, no objective is rated above U, no strength is drafted from a timeout.
A team that gives every decision its best answer and sends every expected message on
time scores 100 %, on every objective.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from app.authoring.loader import load_scenario_path, scenario_files
from app.engine.filled import filled_scenario
from app.engine.scenario import Decision, Scenario
from app.engine.scoring import Dimension, scorecard
from app.engine.simulate import Communication, Play, play
from app.reports.build import Inputs, build_report
from app.reports.model import Rating

SHIPPED = sorted(scenario_files([Path(__file__).parents[2] / "scenarios"]))


@cache
def shipped(name: str) -> Scenario:
    scenario = load_scenario_path(Path(__file__).parents[2] / "scenarios" / name).scenario
    assert scenario is not None
    return scenario


def _best_option(decision: Decision) -> str:
    return max(decision.options, key=lambda o: sum(o.score.values())).id


@cache
def silent_team(name: str) -> Play:
    return play(shipped(name), {}, Communication.silent)


@cache
def best_team(name: str) -> Play:
    scenario = shipped(name)
    best = {d.id: _best_option(d) for d in scenario.decisions}
    return play(scenario, best, Communication.diligent)


NAMES = [path.name for path in SHIPPED]


def test_every_shipped_scenario_is_checked() -> None:
    assert len(NAMES) == 10


@pytest.mark.parametrize("name", NAMES)
def test_a_team_that_answers_nothing_earns_nothing(name: str) -> None:
    scenario, run = shipped(name), silent_team(name)
    card = scorecard(scenario, run.events)
    decisions = [i for i in card.items if i.dimension is Dimension.decisions]
    assert decisions, "the silent team was asked something"
    assert {i.status for i in decisions} == {"timed_out"}
    for item in decisions:
        spec = scenario.decision(item.ref)
        default = next(o for o in spec.options if o.id == spec.default)
        if default.score.get(item.objective or "", 0.0) >= 0:
            assert item.points == 0, (item.ref, item.objective)
        else:  # not deciding is a decision: a default's negative points still count
            assert item.points < 0, (item.ref, item.objective)
        assert item.detail.startswith("Not answered: default applied (")
    assert card.overall.points <= 0 and card.overall.percent == 0.0


@pytest.mark.parametrize("name", NAMES)
def test_no_objective_is_rated_above_u_and_nothing_is_a_strength_for_a_silent_team(
    name: str,
) -> None:
    scenario, run = shipped(name), silent_team(name)
    report = build_report(Inputs(scenario, run.events), now=0.0)
    for objective in report.objectives:
        assert objective.derived_rating in (Rating.U, None), objective.id
        assert objective.strengths == [], objective.id
    drafted = [line for o in report.objectives for line in o.improvements]
    assert any("Not answered: default applied" in line for line in drafted)


@pytest.mark.parametrize("name", NAMES)
def test_a_team_that_answers_best_and_tells_everyone_on_time_scores_100(name: str) -> None:
    scenario, run = shipped(name), best_team(name)
    card = scorecard(scenario, run.events)
    assert card.overall.percent == 100.0
    assert {c.status.value for c in card.communications} <= {"on_time", "not_due"}
    for objective_id, figures in card.objectives.items():
        assert figures.percent in (100.0, None), objective_id
    report = build_report(Inputs(scenario, run.events), now=0.0)
    assert {o.derived_rating for o in report.objectives} <= {Rating.P, None}


@pytest.mark.parametrize("name", NAMES)
def test_the_scores_read_the_same_from_the_stored_scenario_as_from_the_filled_one(
    name: str,
) -> None:
    """The programme scores a drill from its stored scenario, the report from the one its
    participants saw: one stored scorecard serves both, so both must be the same, every
    {{variable}} filled with the drill's own value."""
    scenario = shipped(name)
    values = {key: f"Own {key}" for key in scenario.variables}
    for communication in Communication:
        run = play(scenario, {}, communication, variables=values)
        stored = scorecard(scenario, run.events)
        seen = scorecard(filled_scenario(scenario, values), run.events)
        assert stored == seen
        assert "{{" not in stored.model_dump_json()


def test_a_drill_s_filled_scenario_is_made_once() -> None:
    """Every score, console view and report of a drill fills the same scenario with the
    same values: one copy serves them all, and other values get their own."""
    scenario = shipped(NAMES[0])
    values = {key: f"Own {key}" for key in scenario.variables}
    first = filled_scenario(scenario, values)
    assert filled_scenario(scenario, dict(values)) is first
    assert filled_scenario(scenario, {**values, next(iter(values)): "Other"}) is not first
    assert "{{" not in first.model_dump_json()
