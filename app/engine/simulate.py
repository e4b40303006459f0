"""Playing a scenario headless at full speed, on a fake clock: dry-runs and path exploration.

A dry-run is a real drill driven by the same decide/apply/due as a live one; only the clock
is simulated, jumping straight to the next thing that will happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from app.engine import commands as c
from app.engine.core import apply, decide, due, next_due
from app.engine.events import Event, EventType
from app.engine.scenario import Scenario
from app.engine.state import DrillState, Status

DRY_RUN_EPOCH = 1_800_000_000.0
"""Wall time at which simulated drills start: fixed, so dry-runs are reproducible."""
MAX_EVENTS = 20_000
MAX_SCENARIO_SECONDS = 60 * 86400.0


class Communication(StrEnum):
    """How the simulated team communicates, since nobody is there to type."""

    silent = "silent"
    """Nobody sends a message: shows what a team that stalls would see."""
    diligent = "diligent"
    """Every expected message is sent the moment it is expected."""


@dataclass(slots=True)
class Play:
    """One headless run: the log, the final state, and where it stopped and why."""

    events: list[Event]
    state: DrillState
    choices: dict[str, str]
    unchosen: str | None = None
    """A decision that opened with no choice given (exploration stops there)."""
    stalled: bool = False
    """Nothing left to happen, yet the drill has not ended."""
    runaway: bool = False
    """It went on past the event or time bound."""
    dead_end_after: list[str] = field(default_factory=list)
    """Options (DECISION.OPTION) after which nothing more arrived."""


class _Player:
    def __init__(self, scenario: Scenario, speed: float | None) -> None:
        self.scenario = scenario
        self.state = DrillState()
        self.events: list[Event] = []
        self.now = DRY_RUN_EPOCH
        self.speed = speed

    def run(self, command: c.Command) -> list[Event]:
        produced = decide(self.scenario, self.state, command, self.now)
        self._commit(produced)
        return produced

    def tick(self) -> list[Event]:
        produced = due(self.scenario, self.state, self.now)
        self._commit(produced)
        return produced

    def _commit(self, produced: list[Event]) -> None:
        for event in produced:
            apply(self.scenario, self.state, event)
        self.events.extend(produced)


def play(
    scenario: Scenario,
    choices: dict[str, str] | None = None,
    communication: Communication = Communication.silent,
    stop_at_unchosen: bool = False,
    variables: dict[str, str] | None = None,
) -> Play:
    """Play to the end: answer decisions from `choices` when they open, else let them
    time out to their default (or stop there, when exploring)."""
    choices = dict(choices or {})
    player = _Player(scenario, None)
    player.run(
        c.CreateDrill("dry-run", f"Dry run of {scenario.title}"[:80], variables=variables or {})
    )
    player.run(c.StartClock())
    result = Play(player.events, player.state, choices)
    last_option: str | None = None
    delivered_since_option = False
    while player.state.status is Status.running:
        if (
            len(player.events) > MAX_EVENTS
            or player.state.last_scenario_time > MAX_SCENARIO_SECONDS
        ):
            result.runaway = True
            break
        produced = player.tick()
        for event in produced:
            if event.type is EventType.inject_delivered:
                delivered_since_option = True
            if event.type is EventType.decision_timed_out:
                last_option, delivered_since_option = _note_option(
                    result,
                    last_option,
                    delivered_since_option,
                    f"{event.data['decision_id']}.{event.data['option_id']}",
                )
        for event in produced:
            if event.type is not EventType.decision_opened:
                continue
            decision_id = event.data["decision_id"]
            if decision_id in choices:
                chosen = _answer_all(player, scenario, decision_id, choices[decision_id])
                last_option, delivered_since_option = _note_option(
                    result, last_option, delivered_since_option, chosen
                )
            elif stop_at_unchosen:
                result.unchosen = decision_id
                return result
        if communication is Communication.diligent:
            _send_expected(player, scenario)
        upcoming = next_due(player.state)
        if player.state.status is not Status.running:
            break
        if upcoming is None:
            result.stalled = True
            break
        player.now = max(player.now, player.state.wall_time_of(upcoming))
    if (
        last_option is not None
        and not delivered_since_option
        and not _ended_by(player.state, last_option)
    ):
        result.dead_end_after.append(last_option)
    return result


def _note_option(result: Play, last: str | None, delivered: bool, chosen: str) -> tuple[str, bool]:
    """Remember each option taken; one after which nothing arrived is a dead end."""
    if last is not None and not delivered:
        result.dead_end_after.append(last)
    return chosen, False


def _ended_by(state: DrillState, option: str) -> bool:
    return (
        state.status is Status.ended and state.end_reason is not None and option in state.end_reason
    )


def _answer_all(player: _Player, scenario: Scenario, decision_id: str, option_id: str) -> str:
    decision = player.state.decisions[decision_id]
    per_role = scenario.decision(decision_id).per_role
    for role in decision.roles if per_role else decision.roles[:1]:
        if player.state.status is not Status.running:
            break
        player.run(c.Answer(decision_id, option_id, role=role))
    return f"{decision_id}.{option_id}"


def _send_expected(player: _Player, scenario: Scenario) -> None:
    for pending in list(player.state.expectations.values()):
        if pending.status != "pending" or player.state.status is not Status.running:
            continue
        spec = scenario.expectation(pending.id)
        sender = next(
            (r for r in (spec.from_ or player.state.roles) if r in player.state.roles), None
        )
        if sender is None:
            continue
        sender = player.state.acting_role(sender)
        player.run(
            c.SendMessage(
                to=[spec.to], body=f"[dry-run] {spec.title}", subject=spec.title, from_role=sender
            )
        )


@dataclass(slots=True)
class Exploration:
    """Every path through a scenario's decisions (up to a bound), played both ways."""

    paths: list[Play]
    complete: bool
    """False when the bound cut exploration short."""

    @property
    def path_count(self) -> int:
        return len({tuple(sorted(p.choices.items())) for p in self.paths})


def explore(scenario: Scenario, max_paths: int = 256) -> Exploration:
    """Depth-first over options: each decision that opens branches once per option."""
    finished: list[Play] = []
    stack: list[dict[str, str]] = [{}]
    complete = True
    while stack:
        choices = stack.pop()
        probe = play(scenario, choices, stop_at_unchosen=True)
        if probe.unchosen is not None:
            options = scenario.decision(probe.unchosen).options
            stack.extend({**choices, probe.unchosen: o.id} for o in reversed(options))
            continue
        if len(finished) >= 2 * max_paths:
            complete = False
            break
        finished.append(probe)
        finished.append(play(scenario, choices, Communication.diligent))
    return Exploration(finished, complete)
