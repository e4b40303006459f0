"""Properties of the engine over random drills: random commands by random people at random
moments, with `due` run now and then, on a fake clock.

Checked along the way, event by event: seq is contiguous from 1; scenario time never goes
backwards; no inject is delivered twice, before it falls due, while suppressed, or when its
`when` is false; `decide` and `due` never change the state they are given, and a refused
command changes nothing; after every `due` with the clock running, every decision whose
deadline has passed is closed (answered or timed out), every expectation past its grace is
settled. Checked at the end: replaying the stored (JSON) log gives the state built event
by event, and a restart in the middle (state rebuilt from the log) changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine import commands as c
from app.engine.core import apply, decide, due, holds, replay
from app.engine.errors import DomainError
from app.engine.events import Event, EventType
from app.engine.scenario import Scenario
from app.engine.state import DrillState, Status

from .harness import HOUR, T0
from .scenarios import branchy, ransomware, short

SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "ransomware": ransomware,
    "short": short,
    "branchy": branchy,
}

PARTICIPANTS: tuple[tuple[str, str | None], ...] = (
    ("p-im", "incident_manager"),
    ("p-im2", "incident_manager"),
    ("p-legal", "legal"),
    ("p-comms", "communications"),
    ("p-exec", "executive"),
    ("p-soc", "soc_analyst"),
    ("p-obs", None),
)

ADVANCES: dict[str, st.SearchStrategy[float]] = {
    "round": st.sampled_from([0.0, 1.0, 59.0, 60.0, 299.0, 300.0, 600.0]),
    "minutes": st.floats(min_value=0.0, max_value=10 * 60.0, allow_nan=False),
    "hours": st.floats(min_value=0.0, max_value=3 * HOUR, allow_nan=False),
}
ADVANCE_MIX = ["round"] * 4 + ["minutes"] * 4 + ["hours"]
"""Mostly small steps, so that people act while decisions are open; now and then hours."""


@dataclass(frozen=True, slots=True)
class Advance:
    seconds: float


@dataclass(frozen=True, slots=True)
class Tick:
    pass


@dataclass(frozen=True, slots=True)
class Act:
    command: c.Command
    actor: c.Actor = field(default=c.FACILITATOR_ACTOR)
    tick_first: bool = False
    """Run `due` first, as the application service does before each command."""


@dataclass(frozen=True, slots=True)
class AnswerOpen:
    """Answer the `pick`-th open decision with its `option`-th option, as someone who may."""

    pick: int
    option: int


@dataclass(frozen=True, slots=True)
class MeetExpectation:
    """Send the message the `pick`-th pending expectation asks for."""

    pick: int


Step = Advance | Tick | Act | AnswerOpen | MeetExpectation


def players(scenario: Scenario, roles: list[str] | None = None) -> list[c.Actor]:
    """Participants who play one of `roles` (default: any role of the scenario)."""
    wanted = set(scenario.roles if roles is None or "all" in roles else roles)
    return [c.Actor(p) for p, role in PARTICIPANTS if role in wanted]


def sensible(scenario: Scenario) -> st.SearchStrategy[Act]:
    """Commands a real team would send: mostly accepted, when the moment is right."""
    recipients = [*scenario.roles, *scenario.parties]
    acts: list[st.SearchStrategy[Act]] = []
    for d in scenario.decisions:
        options = st.sampled_from([o.id for o in d.options])
        acts.append(
            st.builds(
                Act,
                st.builds(c.Answer, st.just(d.id), options),
                st.sampled_from(players(scenario, d.to)),
                st.just(True),
            )
        )
        by_facilitator = st.builds(
            c.Answer, st.just(d.id), options, st.sampled_from(list(scenario.roles))
        )
        acts.append(st.builds(Act, by_facilitator, st.just(c.FACILITATOR_ACTOR), st.just(True)))
    message = st.builds(
        c.SendMessage,
        to=st.lists(st.sampled_from(recipients), min_size=1, max_size=2),
        body=st.just("Update."),
    )
    acts.append(st.builds(Act, message, st.sampled_from(players(scenario)), st.booleans()))
    return st.one_of(acts)


def actors(scenario: Scenario) -> st.SearchStrategy[c.Actor]:
    ids = [p for p, role in PARTICIPANTS if role is None or role in scenario.roles]
    return st.sampled_from([c.FACILITATOR_ACTOR, c.Actor("ghost"), *map(c.Actor, ids)])


def commands(scenario: Scenario) -> st.SearchStrategy[c.Command]:
    """Anything at all, from anyone: most of it is refused, which is the point."""
    roles = [*scenario.roles, "ciso"]
    recipients = [*scenario.roles, *scenario.parties, "nobody"]
    role_or_none = st.one_of(st.none(), st.sampled_from(roles))
    answers = [
        st.builds(
            c.Answer,
            st.just(d.id),
            st.sampled_from([o.id for o in d.options] + ["zz"]),
            role_or_none,
        )
        for d in scenario.decisions
    ]
    messages = st.builds(
        c.SendMessage,
        to=st.lists(st.sampled_from(recipients), min_size=0, max_size=3),
        body=st.sampled_from(["Update.", "", "   ", "x" * (c.MAX_MESSAGE_CHARS + 1)]),
        statement_id=st.sampled_from([None, *[s.id for s in scenario.statements], "nope"]),
        from_role=role_or_none,
    )
    return st.one_of(
        *answers,
        messages,
        st.just(c.PauseClock()),
        st.just(c.ResumeClock()),
        st.just(c.StartClock()),
        st.builds(c.SetSpeed, st.sampled_from([0.5, 1.0, 4.0, 60.0, 0.0, 2000.0])),
        st.just(c.JumpToNextInject()),
        st.builds(
            c.ManualInject,
            title=st.just("Call"),
            body=st.just("The CEO calls."),
            to=st.lists(st.sampled_from([*roles, "all"]), max_size=2),
        ),
        st.builds(
            c.AddNote,
            st.sampled_from(["Noted.", ""]),
            st.sampled_from([None, *scenario.objectives, "nope"]),
        ),
        st.builds(
            c.Join, st.sampled_from(["late1", "late2", "p-im"]), st.just("Late"), role_or_none
        ),
        st.builds(c.Leave, st.sampled_from([p for p, _ in PARTICIPANTS])),
    )


def steps(scenario: Scenario) -> st.SearchStrategy[list[Step]]:
    anything = st.builds(Act, commands(scenario), actors(scenario), st.booleans())
    good = sensible(scenario)
    kinds: dict[str, st.SearchStrategy[Step]] = {
        "advance": st.sampled_from(ADVANCE_MIX).flatmap(
            lambda size: st.builds(Advance, ADVANCES[size])
        ),
        "tick": st.just(Tick()),
        "end": st.just(Act(c.EndDrill())),
        "answer": st.builds(AnswerOpen, st.integers(0, 3), st.integers(0, 3)),
        "meet": st.builds(MeetExpectation, st.integers(0, 3)),
        "good": good,
        "anything": anything,
    }
    # Ending the drill by hand stops everything interesting: keep it rare.
    mix = (
        ["advance"] * 8
        + ["tick"] * 2
        + ["answer"] * 3
        + ["meet"] * 2
        + ["good"] * 3
        + ["anything"] * 4
        + ["end"]
    )
    step = st.sampled_from(mix).flatmap(lambda kind: kinds[kind])
    return st.lists(step, min_size=10, max_size=60)


class Checked:
    """A drill whose every event is checked against the invariants before it is applied."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.state = DrillState()
        self.events: list[Event] = []
        self.now = T0
        self.delivered_at: dict[str, float] = {}

    def decide(self, command: c.Command, actor: c.Actor) -> None:
        before = self.state.copy()
        try:
            produced = decide(self.scenario, self.state, command, self.now, actor)
        except DomainError:
            assert self.state == before, f"refused {command!r} changed the state"
            return
        assert self.state == before, f"decide({command!r}) changed the state"
        assert produced, f"{command!r} was accepted but caused nothing"
        self.commit(produced)

    def due(self) -> list[Event]:
        before = self.state.copy()
        produced = due(self.scenario, self.state, self.now)
        assert self.state == before, "due() changed the state"
        self.commit(produced)
        if self.state.status is Status.running:
            self.check_deadlines()
        return produced

    def commit(self, produced: list[Event]) -> None:
        for event in produced:
            self.check(event)
            apply(self.scenario, self.state, event)
            self.events.append(event)

    def check(self, event: Event) -> None:
        state = self.state
        assert event.seq == len(self.events) + 1, "seq is contiguous from 1"
        if self.events:
            assert event.scenario_time >= self.events[-1].scenario_time, (
                f"scenario time went back: {self.events[-1]} then {event}"
            )
            assert event.at >= self.events[-1].at
        assert (
            event.scenario_time <= state.scenario_now(event.at) + 1e-6
            or event.type is EventType.clock_jumped
        ), f"{event} is ahead of the clock"
        inject_id: str | None = event.data.get("inject_id")
        if event.type is EventType.inject_delivered and inject_id is not None:
            assert inject_id not in state.delivered, f"{inject_id} delivered twice"
            assert inject_id not in state.skipped, f"{inject_id} delivered after a skip"
            assert inject_id not in state.suppressed, f"{inject_id} delivered while suppressed"
            timer = state.timers.get(f"inject:{inject_id}")
            assert timer is not None, f"{inject_id} delivered without being scheduled"
            assert event.scenario_time >= timer.due, f"{inject_id} delivered early"
            self.check_schedule(inject_id, event.scenario_time)
            inject = self.scenario.inject(inject_id)
            assert holds(inject.when, state), f"{inject_id} delivered with its `when` false"
            self.delivered_at[inject_id] = event.scenario_time
        if event.type is EventType.inject_skipped:
            assert inject_id is not None
            assert inject_id not in state.delivered, f"{inject_id} skipped after delivery"
            if event.data["reason"] == "suppressed":
                assert inject_id in state.suppressed
            else:
                assert not holds(self.scenario.inject(inject_id).when, state)
        if event.type is EventType.decision_timed_out:
            decision = state.decisions[event.data["decision_id"]]
            assert not decision.closed and not decision.answers
            assert event.scenario_time >= decision.deadline
        if event.type is EventType.decision_answered:
            decision = state.decisions[event.data["decision_id"]]
            assert not decision.closed
            assert event.scenario_time <= decision.deadline

    def check_schedule(self, inject_id: str, at: float) -> None:
        """Independent of the engine's timers: offsets and `after` + `delay` hold."""
        inject = self.scenario.inject(inject_id)
        if inject.at is not None:
            assert at >= inject.at, f"{inject_id} before its offset"
        if inject.after is not None and inject.after.inject is not None:
            before = self.delivered_at.get(inject.after.inject)
            assert before is not None, f"{inject_id} came before what it comes after"
            assert at >= before + inject.delay

    def check_deadlines(self) -> None:
        """After `due`, with the clock running: every deadline passed has been dealt with."""
        now = self.state.scenario_now(self.now)
        for decision in self.state.decisions.values():
            if decision.deadline <= now:
                assert decision.closed, f"{decision.id} still open after its deadline"
                assert decision.answers or decision.timed_out
        for expectation in self.state.expectations.values():
            if expectation.closes <= now:
                assert expectation.status != "pending", f"{expectation.id} still pending"
        for timer in self.state.timers.values():
            assert timer.due > now, f"{timer} was due but did not fire"


def run(scenario: Scenario, plan: list[Step], restart_at: int | None = None) -> Checked:
    """Play `plan`; at step `restart_at`, restart: the state is rebuilt from the stored log."""
    drill = Checked(scenario)
    drill.decide(c.CreateDrill("prop", "Property drill"), c.FACILITATOR_ACTOR)
    for participant_id, role in PARTICIPANTS:
        if role is None or role in scenario.roles:
            drill.decide(c.Join(participant_id, participant_id, role), c.Actor(participant_id))
    drill.decide(c.StartClock(), c.FACILITATOR_ACTOR)
    for index, step in enumerate(plan):
        if index == restart_at:
            drill.state = replay(scenario, stored(drill.events))
        if isinstance(step, Advance):
            drill.now += step.seconds
        elif isinstance(step, Tick):
            drill.due()
        elif isinstance(step, AnswerOpen | MeetExpectation):
            drill.due()
            resolved = resolve(drill, step)
            if resolved is not None:
                drill.decide(*resolved)
        else:
            if step.tick_first:
                drill.due()
            drill.decide(step.command, step.actor)
    return drill


def resolve(drill: Checked, step: AnswerOpen | MeetExpectation) -> tuple[c.Command, c.Actor] | None:
    """Turn a smart step into a command that fits the drill as it stands."""
    state, scenario = drill.state, drill.scenario
    if isinstance(step, AnswerOpen):
        open_ = sorted(d.id for d in state.decisions.values() if not d.closed)
        if not open_:
            return None
        decision = state.decisions[open_[step.pick % len(open_)]]
        options = scenario.decision(decision.id).options
        option = options[step.option % len(options)].id
        role = decision.roles[step.pick % len(decision.roles)]
        actor = present_player(state, scenario, role)
        if actor is None:
            return c.Answer(decision.id, option, role=role), c.FACILITATOR_ACTOR
        return c.Answer(decision.id, option), actor
    pending = sorted(e.id for e in state.expectations.values() if e.status == "pending")
    if not pending:
        return None
    spec = scenario.expectation(pending[step.pick % len(pending)])
    role = state.acting_role((spec.from_ or state.roles)[0])
    actor = present_player(state, scenario, role)
    if actor is None:
        return c.SendMessage(to=[spec.to], body="As asked.", from_role=role), c.FACILITATOR_ACTOR
    return c.SendMessage(to=[spec.to], body="As asked."), actor


def present_player(state: DrillState, scenario: Scenario, role: str) -> c.Actor | None:
    for actor in players(scenario, [role]):
        participant = state.participants.get(actor.name)
        if participant is not None and participant.present:
            return actor
    return None


def stored(events: list[Event]) -> list[Event]:
    """The log as the database keeps it: JSON, read back."""
    return [Event.from_dict(json.loads(json.dumps(e.to_dict()))) for e in events]


def story(events: list[Event]) -> list[tuple[EventType, float, float, str, str]]:
    return [
        (e.type, e.at, e.scenario_time, e.actor, json.dumps(e.data, sort_keys=True)) for e in events
    ]


def finish(drill: Checked) -> None:
    """Let the story run out: resume if paused, then run `due` far in the future."""
    if drill.state.status is Status.paused:
        drill.decide(c.ResumeClock(), c.FACILITATOR_ACTOR)
    for _ in range(3):
        drill.now += 30 * 86400.0
        drill.due()


PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@PROPERTY_SETTINGS
@given(data=st.data())
def test_random_drills_keep_the_invariants(name: str, data: st.DataObject) -> None:
    scenario = SCENARIOS[name]()
    drill = run(scenario, data.draw(steps(scenario), label="plan"))
    finish(drill)  # every event was checked on its way into the log

    assert [e.seq for e in drill.events] == list(range(1, len(drill.events) + 1))
    assert drill.state.seq == len(drill.events)
    assert replay(scenario, stored(drill.events)) == drill.state
    assert replay(scenario, drill.events) == drill.state
    delivered = [
        e.data["inject_id"]
        for e in drill.events
        if e.type is EventType.inject_delivered and e.data["inject_id"]
    ]
    assert len(delivered) == len(set(delivered))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_restart_mid_drill_changes_nothing(name: str, data: st.DataObject) -> None:
    """After a restart the state is replay(stored log); the drill goes on exactly the same."""
    scenario = SCENARIOS[name]()
    plan = data.draw(steps(scenario), label="plan")
    restart_at = data.draw(st.integers(0, len(plan)), label="restart_at")
    straight = run(scenario, plan)
    restarted = run(scenario, plan, restart_at)
    assert story(restarted.events) == story(straight.events)
    assert restarted.state == straight.state


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@settings(max_examples=40, deadline=None)
@given(
    gaps=st.lists(
        st.floats(min_value=0.0, max_value=3 * HOUR, allow_nan=False), min_size=1, max_size=12
    )
)
def test_catching_up_in_one_call_equals_ticking_along(name: str, gaps: list[float]) -> None:
    """With nobody acting, when `due` runs does not change what happens or when."""
    scenario = SCENARIOS[name]()

    def timeline(stops: list[float]) -> list[tuple[EventType, float, str]]:
        drill = Checked(scenario)
        drill.decide(c.CreateDrill("prop", "Property drill"), c.FACILITATOR_ACTOR)
        drill.decide(c.StartClock(), c.FACILITATOR_ACTOR)
        for stop in stops:
            drill.now = T0 + stop
            drill.due()
        return [(e.type, e.scenario_time, json.dumps(e.data, sort_keys=True)) for e in drill.events]

    stops: list[float] = []
    total = 0.0
    for gap in gaps:
        total += gap
        stops.append(total)
    assert timeline(stops) == timeline([total])
