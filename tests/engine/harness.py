"""A fake-clock driver for engine tests: decide, apply and due, nothing else.

`Drill` keeps the log and the state the way the application service will: every event
`decide` or `due` returns is applied at once, in order. Time is `now`, set by the test.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from app.authoring.loader import load_scenario_text
from app.engine import commands as c
from app.engine.core import apply, decide, due, replay
from app.engine.errors import Code, DomainError
from app.engine.events import Event, EventType
from app.engine.scenario import Scenario
from app.engine.state import DrillState

T0 = 1_800_000_000.0
"""Wall time (Unix seconds) at which every test drill is created."""

MINUTE = 60.0
HOUR = 3600.0


def load(text: str, file: str = "test.yaml") -> Scenario:
    """Load scenario YAML through the real loader; it must pass the format's type checks.

    The validator's flow findings are tested in tests/validate, not relied on here.
    """
    loaded = load_scenario_text(text, file)
    assert loaded.scenario is not None, [f.render() for f in loaded.findings]
    return loaded.scenario


def as_participant(participant_id: str) -> c.Actor:
    return c.Actor(participant_id)


def picked(data: dict[str, object], *keys: str) -> dict[str, object]:
    """The named keys of an event's data: events may carry more than a test looks at."""
    return {key: data.get(key) for key in keys}


class Drill:
    """One drill on a fake clock. The clock starts (scenario time 0) at `start_wall`."""

    def __init__(self, scenario: Scenario, now: float = T0) -> None:
        self.scenario = scenario
        self.state = DrillState()
        self.events: list[Event] = []
        self.now = now
        self.start_wall = now

    # ------------------------------------------------------------------ commands

    def run(self, command: c.Command, actor: c.Actor = c.FACILITATOR_ACTOR) -> list[Event]:
        produced = decide(self.scenario, self.state, command, self.now, actor)
        self.commit(produced)
        return produced

    def refuse(self, command: c.Command, actor: c.Actor = c.FACILITATOR_ACTOR) -> Code:
        """Run a command that must be refused; check it changed nothing; return its code."""
        before = copy.deepcopy(self.state)
        try:
            decide(self.scenario, self.state, command, self.now, actor)
        except DomainError as exc:
            assert self.state == before, "a refused command changed the state"
            assert exc.message, "a refusal explains itself"
            return exc.code
        raise AssertionError(f"{command!r} by {actor!r} was not refused")

    def commit(self, produced: Iterable[Event]) -> None:
        for event in produced:
            apply(self.scenario, self.state, event)
            self.events.append(event)

    # ------------------------------------------------------------------ clock

    def tick(self, now: float | None = None) -> list[Event]:
        """Run `due` at `now` (default: the current fake time) and apply what it returns."""
        if now is not None:
            self.set_now(now)
        produced = due(self.scenario, self.state, self.now)
        self.commit(produced)
        return produced

    def set_now(self, now: float) -> None:
        assert now >= self.now, "the fake wall clock only moves forward"
        self.now = now

    def advance(self, seconds: float) -> list[Event]:
        """Move the wall clock on by `seconds` and run `due`."""
        return self.tick(self.now + seconds)

    def scenario_time(self) -> float:
        return self.state.scenario_now(self.now)

    # ------------------------------------------------------------------ set-ups

    def create(
        self,
        speed: float | None = None,
        roles: list[str] | None = None,
        backups: dict[str, str] | None = None,
        variables: dict[str, str] | None = None,
    ) -> Drill:
        self.run(
            c.CreateDrill(
                "d1",
                "Christmas drill",
                speed=speed,
                roles=roles,
                backups=backups or {},
                variables=variables or {},
            )
        )
        return self

    def join(self, participant_id: str, role: str | None, name: str | None = None) -> Drill:
        self.run(
            c.Join(participant_id, name or participant_id.title(), role),
            as_participant(participant_id),
        )
        return self

    def start(self) -> Drill:
        self.start_wall = self.now
        self.run(c.StartClock())
        return self

    def at_scenario(self, seconds: float) -> list[Event]:
        """Run `due` at the wall time the running clock reaches scenario time `seconds`."""
        return self.tick(max(self.now, self.state.wall_time_of(seconds)))

    # ------------------------------------------------------------------ reading the log

    def of(self, kind: EventType) -> list[Event]:
        return [e for e in self.events if e.type is kind]

    def delivered_ids(self) -> list[str]:
        return [
            e.data["inject_id"]
            for e in self.of(EventType.inject_delivered)
            if e.data["inject_id"] is not None
        ]

    def skipped(self) -> dict[str, str]:
        return {e.data["inject_id"]: e.data["reason"] for e in self.of(EventType.inject_skipped)}

    def delivery(self, inject_id: str) -> Event:
        found = [e for e in self.of(EventType.inject_delivered) if e.data["inject_id"] == inject_id]
        assert len(found) == 1, f"{inject_id} delivered {len(found)} times"
        return found[0]

    def replayed(self) -> DrillState:
        return replay(self.scenario, self.events)
