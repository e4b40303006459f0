"""Playing a scenario headless at full speed, on a fake clock: dry-runs and path exploration.

A dry-run is a real drill driven by the same decide/apply/due as a live one; only the clock
is simulated, jumping straight to the next thing that will happen. Exploration forks a run
at every decision, once per option, so each branch is played once from where it splits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from app.engine import commands as c
from app.engine import payloads as p
from app.engine.core import advance, apply, decide, next_due
from app.engine.events import Event, EventType
from app.engine.notices import NOT_YET_KNOWN
from app.engine.regulatory import RegimeInPlay, Replay, recipient_party, regimes_replayed
from app.engine.scenario import RegimeUse, Scenario, fill
from app.engine.state import DrillState, Status
from app.regimes.clocks import ClockState, DutyClock
from app.regimes.model import Duty

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


STARTS_CLOCKS = frozenset(
    {
        EventType.inject_delivered,
        EventType.decision_answered,
        EventType.decision_timed_out,
        EventType.decision_closed,
        EventType.message_sent,
    }
)
"""The events a regime's clock can start from (its bound trigger) or be filed by."""


class _Player:
    """A simulated drill that can be forked at a decision."""

    def __init__(self, scenario: Scenario, communication: Communication) -> None:
        self.scenario = scenario
        self.communication = communication
        self.state = DrillState()
        self.events: list[Event] = []
        self.now = DRY_RUN_EPOCH
        self.opened: list[str] = []
        self.last_option: str | None = None
        self.delivered_since_option = False
        self.dead_ends: list[str] = []
        self.stalled = False
        self.runaway = False
        self.duties_checked = 0
        """How many events the last look for notification duties had seen."""
        self.replay = Replay(scenario)
        """The log as the regimes' clocks read it, replayed as far as the last look."""

    def fork(self) -> _Player:
        twin = _Player(self.scenario, self.communication)
        twin.state = self.state.copy()
        twin.events = list(self.events)
        twin.now = self.now
        twin.opened = list(self.opened)
        twin.last_option = self.last_option
        twin.delivered_since_option = self.delivered_since_option
        twin.dead_ends = list(self.dead_ends)
        twin.duties_checked = self.duties_checked
        twin.replay = self.replay.copy()
        return twin

    def run(self, command: c.Command) -> None:
        produced = decide(self.scenario, self.state, command, self.now)
        for event in produced:
            apply(self.scenario, self.state, event)
        self._observe(produced)

    def _observe(self, produced: list[Event]) -> None:
        self.events.extend(produced)
        for event in produced:
            if event.type is EventType.inject_delivered:
                self.delivered_since_option = True
            elif event.type is EventType.decision_timed_out:
                timed_out = p.decision_timed_out(event)
                self._took(f"{timed_out['decision_id']}.{timed_out['option_id']}")
            elif event.type is EventType.decision_opened:
                self.opened.append(p.decision_opened(event)["decision_id"])

    def _took(self, option: str) -> None:
        """Remember each option taken; one after which nothing arrived is a dead end."""
        if self.last_option is not None and not self.delivered_since_option:
            self.dead_ends.append(self.last_option)
        self.last_option, self.delivered_since_option = option, False

    def answer(self, decision_id: str, option_id: str) -> None:
        decision = self.state.decisions[decision_id]
        per_role = self.scenario.decision(decision_id).per_role
        for role in decision.roles if per_role else decision.roles[:1]:
            if self.state.status is not Status.running:
                break
            self.run(c.Answer(decision_id, option_id, role=role))
        self._took(f"{decision_id}.{option_id}")

    def play_on(self, choices: dict[str, str], stop_at_unchosen: bool) -> str | None:
        """Run until the drill ends, or until a decision opens with no choice (returned)."""
        while self.state.status is Status.running:
            while self.opened:
                decision_id = self.opened[0]
                if decision_id in choices:
                    self.opened.pop(0)
                    if not self.state.decisions[decision_id].closed:
                        self.answer(decision_id, choices[decision_id])
                elif stop_at_unchosen:
                    return decision_id
                else:
                    self.opened.pop(0)
            if self.communication is Communication.diligent:
                self._send_expected()
                self._file_duties()
            if (
                len(self.events) > MAX_EVENTS
                or self.state.last_scenario_time > MAX_SCENARIO_SECONDS
            ):
                self.runaway = True
                break
            upcoming = next_due(self.state)
            if self.state.status is not Status.running:
                break
            if upcoming is None:
                self.stalled = True
                break
            self.now = max(self.now, self.state.wall_time_of(upcoming))
            self._observe(advance(self.scenario, self.state, self.now))
        return None

    def _send_expected(self) -> None:
        for pending in list(self.state.expectations.values()):
            if pending.status != "pending" or self.state.status is not Status.running:
                continue
            spec = self.scenario.expectation(pending.id)
            sender = next(
                (r for r in (spec.from_ or self.state.roles) if r in self.state.roles), None
            )
            if sender is None:
                continue
            title = fill(spec.title, self.state.variables)
            self.run(
                c.SendMessage(
                    to=[spec.to],
                    body=f"Dry run: {title}",
                    subject=title,
                    from_role=self.state.acting_role(sender),
                )
            )

    def _file_duties(self) -> None:
        """A diligent team files every notification duty the moment its clock starts,
        from a role the regime names (or any role in play), follow-ups included."""
        if not self.scenario.regimes:
            return
        # A clock starts only with an event that can fire a trigger or file a duty; the
        # last look filed every open one, so without such an event there is nothing new
        # (and the log is not replayed again: validation plays every path).
        news = self.events[self.duties_checked :]
        self.duties_checked = len(self.events)
        if not any(e.type in STARTS_CLOCKS for e in news):
            return
        while self.state.status is Status.running:
            now = self.state.last_scenario_time
            open_duty = next(
                (
                    (use.use, clock, party)
                    for use in self._regimes(now)
                    for clock in use.clocks
                    if clock.state in (ClockState.running, ClockState.missed)
                    and (party := recipient_party(use.use, clock.duty)) is not None
                ),
                None,
            )
            if open_duty is None:
                return
            use, clock, party = open_duty
            if not self._file_form(use, clock.duty):
                self._file_free_text(use, clock, party)

    def _regimes(self, now: float) -> list[RegimeInPlay]:
        """The regimes' clocks at `now`, replaying only the events since the last look."""
        self.replay.extend(self.events[self.replay.seen :])
        return regimes_replayed(self.replay, now)

    def _file_form(self, use: RegimeUse, duty: Duty) -> bool:
        """Fill in every field with what the team knows now ("not yet known", with a
        follow-up promised, for a figure nothing has revealed yet), have it signed off
        and file it. False when no role in play can draft or sign it."""
        drafter = next((r for r in use.roles if self._in_play(r)), None)
        if drafter is None or (use.sign_off is not None and not self._in_play(use.sign_off)):
            return False
        revealed = {
            fact
            for inject_id in self.state.delivered
            if self.scenario.has_inject(inject_id)
            for fact in self.scenario.inject(inject_id).facts
        }
        fields: dict[str, str] = {}
        for form_field in (f for f in duty.fields if f.required):
            figure = use.figure(form_field.fact) if form_field.fact else None
            if figure is None:
                fields[form_field.id] = f"Dry run: {form_field.label}"
            elif figure.revealed_by is None or figure.revealed_by in revealed:
                fields[form_field.id] = f"about {figure.value:,}"
            else:
                fields[form_field.id] = NOT_YET_KNOWN
        acting = self.state.acting_role
        follow_up = NOT_YET_KNOWN in fields.values()
        self.run(c.DraftNotice(use.regime, duty.id, fields, follow_up, acting(drafter)))
        if use.sign_off is not None:
            self.run(c.SignOffNotice(use.regime, duty.id, acting(use.sign_off)))
        self.run(c.FileNotice(use.regime, duty.id, acting(drafter)))
        return True

    def _in_play(self, role: str) -> bool:
        return self.state.acting_role(role) in self.state.roles

    def _file_free_text(self, use: RegimeUse, clock: DutyClock, party: str) -> None:
        sender = next(r for r in [*use.roles, *self.state.roles] if r in self.state.roles)
        title = f"{clock.regime.name}: {clock.duty.title}"
        self.run(
            c.SendMessage(
                to=[party],
                body=f"Dry run: {title} ({clock.duty.source})",
                subject=title,
                from_role=self.state.acting_role(sender),
            )
        )

    def result(self, choices: dict[str, str], unchosen: str | None = None) -> Play:
        dead_ends = list(self.dead_ends)
        if (
            unchosen is None
            and self.last_option is not None
            and not self.delivered_since_option
            and not self._ended_by(self.last_option)
        ):
            dead_ends.append(self.last_option)
        return Play(
            self.events, self.state, dict(choices), unchosen, self.stalled, self.runaway, dead_ends
        )

    def _ended_by(self, option: str) -> bool:
        reason = self.state.end_reason
        return self.state.status is Status.ended and reason is not None and option in reason


def _start(
    scenario: Scenario,
    communication: Communication,
    variables: dict[str, str] | None,
    drill_id: str = "dry-run",
) -> _Player:
    player = _Player(scenario, communication)
    player.run(
        c.CreateDrill(drill_id, f"Dry run of {scenario.title}"[:80], variables=variables or {})
    )
    player.run(c.StartClock(confirm_unfilled=True))  # a dry run has nobody at all
    return player


def play(
    scenario: Scenario,
    choices: dict[str, str] | None = None,
    communication: Communication = Communication.silent,
    stop_at_unchosen: bool = False,
    variables: dict[str, str] | None = None,
) -> Play:
    """Play to the end: answer decisions from `choices` the moment they open, let the
    others time out to their default (or stop at the first, when `stop_at_unchosen`)."""
    choices = dict(choices or {})
    player = _start(scenario, communication, variables)
    unchosen = player.play_on(choices, stop_at_unchosen)
    return player.result(choices, unchosen)


@dataclass(slots=True)
class Exploration:
    """Every path through a scenario's decisions (up to a bound), played several ways."""

    paths: list[Play]
    path_count: int
    """Distinct combinations of options (leaves of the decision tree)."""
    complete: bool
    """False when the bound cut exploration short."""


def _tree(
    scenario: Scenario, communication: Communication, max_paths: int
) -> tuple[list[Play], bool]:
    finished: list[Play] = []
    stack: list[tuple[_Player, dict[str, str]]] = [(_start(scenario, communication, None), {})]
    while stack:
        player, choices = stack.pop()
        unchosen = player.play_on(choices, stop_at_unchosen=True)
        if unchosen is None:
            finished.append(player.result(choices))
            if len(finished) >= max_paths:
                return finished, False
            continue
        player.opened.pop(0)
        options = scenario.decision(unchosen).options
        for index, option in enumerate(reversed(options)):
            branch = player if index == len(options) - 1 else player.fork()
            branch.answer(unchosen, option.id)
            stack.append((branch, {**choices, unchosen: option.id}))
    return finished, True


def explore(scenario: Scenario, max_paths: int = 512) -> Exploration:
    """Every combination of options, played by a silent and by a diligent team, plus the
    team that never answers (every decision times out; `open:` nudges fire)."""
    silent, silent_complete = _tree(scenario, Communication.silent, max_paths)
    diligent, diligent_complete = _tree(scenario, Communication.diligent, max_paths)
    stalling = play(scenario, {}, Communication.silent)
    return Exploration(
        [*silent, *diligent, stalling], len(silent), silent_complete and diligent_complete
    )
