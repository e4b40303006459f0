"""The payload types (app/engine/payloads.py) hold for the events the engine really writes.

Every shipped scenario is played headless (a diligent team with the defaults and with the
best answers, a silent team with the defaults) and driven through every facilitator and
participant command; the format-feature scenarios with an option that sends and a role
away from the start are played too.
Each event's data must have exactly the keys of its TypedDict (every required one, no
unknown one), each value of its declared type; every EventType must occur, and every key
a type declares must be written somewhere.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Literal, Union, cast, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from app.authoring.loader import load_scenario_path, scenario_files
from app.engine import commands as c
from app.engine import scoring
from app.engine.events import Event, EventType
from app.engine.payloads import PAYLOADS, PayloadType
from app.engine.scenario import Scenario
from app.engine.simulate import Communication, play
from app.engine.state import TimerKind
from app.regimes.library import regime as shipped_regime

from .harness import Drill, as_participant
from .test_format_features import away, newsroom

SHIPPED = sorted(scenario_files([Path(__file__).parents[2] / "scenarios"]))
NAMES = [path.name for path in SHIPPED]

WRITTEN_ELSEWHERE = {(EventType.drill_created, "dry_run")}
"""Keys no engine path writes: `tabletop dry-run --save` adds `dry_run` to a saved run."""


@cache
def shipped(name: str) -> Scenario:
    scenario = load_scenario_path(Path(__file__).parents[2] / "scenarios" / name).scenario
    assert scenario is not None
    return scenario


def _best(scenario: Scenario) -> dict[str, str]:
    return {
        d.id: max(d.options, key=lambda o: sum(o.score.values())).id for d in scenario.decisions
    }


def _scheduled_injects(drill: Drill) -> list[str]:
    return [t.ref for t in drill.state.timers.values() if t.kind is TimerKind.inject]


def _first_steps(drill: Drill) -> None:
    """Join, start without a required role, change the clock, jump, fire and skip."""
    roles = drill.state.roles
    drill.join("p1", roles[0]).join("p2", roles[-1]).join("obs", None)
    drill.run(c.StartClock(confirm_unfilled=True))
    drill.run(c.SetSpeed(2.0))
    drill.advance(60)
    drill.run(c.PauseClock())
    drill.run(c.ResumeClock())
    drill.tick()
    if _scheduled_injects(drill):
        drill.run(c.JumpToNextInject())
        drill.tick()
    for command in (c.FireInject, c.SkipInject):
        scheduled = _scheduled_injects(drill)
        if scheduled:
            drill.run(command(scheduled[0]))


def _statement_message(drill: Drill) -> None:
    """A drawer statement sent by a role allowed to send it."""
    scenario = drill.scenario
    for statement in scenario.statements:
        sender = next((r for r in drill.state.roles if r in statement.roles), None)
        if not statement.roles:
            sender = drill.state.roles[0]
        if sender is not None:
            to = next(iter(scenario.parties), sender)
            body = f"As approved: {statement.title}"
            drill.run(c.SendMessage([to], body, "Statement", statement.id, sender))
            return


def _answer_open_decisions(drill: Drill) -> None:
    for decision in list(drill.state.decisions.values()):
        if not decision.closed and decision.roles:
            option = drill.scenario.decision(decision.id).options[0].id
            role = decision.roles[0]
            drill.run(c.Answer(decision.id, option, role=role, rationale="Scripted"))


def _outside_world(drill: Drill) -> None:
    """A white-cell player joins for the first party that answers by itself; the team
    publishes a statement, writes to that party, and the white cell sends the suggested
    reply and posts to the feed."""
    scenario = drill.scenario
    answering = [pid for pid, party in scenario.parties.items() if party.replies]
    if not answering:
        return
    party = answering[0]
    drill.run(c.Join("wc", "White cell", None, (party,)), as_participant("wc"))
    sender = drill.state.roles[0]
    for public in [pid for pid, p in scenario.parties.items() if p.public]:
        drill.run(c.SendMessage([public], "We are investigating.", "Statement", from_role=sender))
    for other in answering:
        drill.run(c.SendMessage([other], "What do you need from us?", from_role=sender))
    for timer in sorted(drill.state.timers.values(), key=lambda t: t.due):
        if timer.kind is TimerKind.reply:
            drill.at_scenario(timer.due)
    for ref in sorted(drill.state.suggested):
        party_id, _, reply_id = ref.partition(".")
        drill.run(
            c.ReplyAsParty(party_id, sender, "As suggested.", "", reply_id), as_participant("wc")
        )
    drill.run(c.ReplyAsParty(party, sender, "And one more thing."), as_participant("wc"))
    drill.run(c.PostToFeed("The Daily", "Company under pressure", "@daily"), as_participant("wc"))


def _rate_a_notice(drill: Drill) -> None:
    """The facilitator rates a field of a regime's notice (filed or not: the rating
    waits for the filing)."""
    for use in drill.scenario.regimes:
        duty = shipped_regime(use.regime).duties[0]
        drill.run(c.RateNoticeField(use.regime, duty.id, duty.fields[0].id, True, "Said so"))
        return


def _last_steps(drill: Drill) -> None:
    """Notes, a manual inject, an adjustment, a leaver, the end, the hot wash, the scores."""
    objective = next(iter(drill.scenario.objectives))
    drill.run(c.ManualInject("A call", "The CEO rings.", ["all"], sender="CEO's office"))
    drill.run(c.AddNote("Slow to escalate", objective_id=objective))
    drill.run(c.AddNote("Good energy"), as_participant("obs"))
    drill.run(c.AdjustScore(objective, -2.0, "Forgot the log", role=drill.state.roles[0]))
    drill.run(c.Leave("p2"), as_participant("p2"))
    drill.run(c.EndDrill("time for the hot wash"))
    drill.run(c.GiveFeedback("Roles", "Speed", 4), as_participant("p1"))
    # As the drills service releases them: with the scorecard of the log so far.
    card = scoring.scorecard(drill.scenario, drill.events).model_dump(mode="json")
    drill.run(c.ReleaseScores(card))


def _scripted(scenario: Scenario) -> list[Event]:
    """Every command a facilitator or a participant gives, once, on a fake clock."""
    drill = Drill(scenario).create()
    _first_steps(drill)
    _statement_message(drill)
    _answer_open_decisions(drill)
    _outside_world(drill)
    _rate_a_notice(drill)
    _last_steps(drill)
    return drill.events


@cache
def logs() -> dict[str, list[Event]]:
    runs: dict[str, list[Event]] = {}
    for name in NAMES:
        scenario = shipped(name)
        runs[f"{name} defaults"] = play(scenario, {}, Communication.diligent).events
        runs[f"{name} silent"] = play(scenario, {}, Communication.silent).events
        runs[f"{name} best"] = play(scenario, _best(scenario), Communication.diligent).events
        runs[f"{name} scripted"] = _scripted(scenario)
    runs["newsroom (an option sends)"] = play(
        newsroom(), {"notify": "now"}, Communication.diligent
    ).events
    runs["away (a role away from the start)"] = play(away(), {}, Communication.diligent).events
    return runs


def _conforms(value: object, kind: object) -> bool:
    """`value` is of the declared type (an int passes for a float, as JSON has it)."""
    origin, args = get_origin(kind), get_args(kind)
    if kind is NoneType:
        return value is None
    if kind is Any:  # a JSON document of its own shape: the released scorecard (below)
        return True
    if origin in (Union, UnionType):
        return any(_conforms(value, arg) for arg in args)
    if origin is Literal:
        return value in args
    if origin is list:
        return isinstance(value, list) and all(_conforms(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            _conforms(k, args[0]) and _conforms(v, args[1]) for k, v in value.items()
        )
    if is_typeddict(kind):
        return isinstance(value, dict) and not _problems(value, cast(PayloadType, kind))
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    assert kind in (str, bool), f"no check for {kind!r}"
    return isinstance(value, kind)


def _problems(data: dict[str, object], shape: PayloadType) -> list[str]:
    declared = shape.__required_keys__ | shape.__optional_keys__
    hints = get_type_hints(shape)
    return (
        [f"unknown key {key!r}" for key in sorted(data.keys() - declared)]
        + [f"missing key {key!r}" for key in sorted(shape.__required_keys__ - data.keys())]
        + [
            f"{key!r} is {value!r}, not {hints[key]}"
            for key, value in data.items()
            if key in hints and not _conforms(value, hints[key])
        ]
    )


def test_one_payload_type_per_event_type() -> None:
    assert list(PAYLOADS) == list(EventType)
    assert all(is_typeddict(shape) for shape in PAYLOADS.values())


@pytest.mark.parametrize("run", sorted(logs()))
def test_every_event_has_the_keys_and_types_its_payload_declares(run: str) -> None:
    found = [
        f"seq {e.seq} {e.type}: {problem}"
        for e in logs()[run]
        for problem in _problems(e.data, PAYLOADS[e.type])
    ]
    assert not found, "\n".join(found)


def test_every_event_type_and_every_declared_key_occurs() -> None:
    written: dict[EventType, set[str]] = {kind: set() for kind in EventType}
    for events in logs().values():
        for e in events:
            written[e.type] |= e.data.keys()
    never = {
        (kind, key)
        for kind, shape in PAYLOADS.items()
        for key in shape.__required_keys__ | shape.__optional_keys__
        if key not in written[kind]
    }
    assert never == WRITTEN_ELSEWHERE
    seen = {e.type for events in logs().values() for e in events}
    assert seen == set(EventType)


def test_a_release_carries_a_whole_scorecard() -> None:
    releases = [
        e for events in logs().values() for e in events if e.type is EventType.scores_released
    ]
    carried = [e.data["scorecard"] for e in releases if "scorecard" in e.data]
    assert carried, "no run releases the scores as the drills service does"
    for card in carried:
        assert scoring.Scorecard.model_validate(card).model_dump(mode="json") == card
