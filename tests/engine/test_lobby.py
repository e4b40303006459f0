"""Creating a drill and joining it."""

from __future__ import annotations

import pytest

from app.engine import commands as c
from app.engine.errors import Code
from app.engine.events import FACILITATOR, EventType
from app.engine.scenario import Scenario
from app.engine.state import Status

from .harness import T0, Drill, as_participant


def test_create_drill_records_the_setup(ransomware_scenario: Scenario) -> None:
    drill = Drill(ransomware_scenario)
    events = drill.run(c.CreateDrill("d1", "  Christmas drill ", variables={"company": "Initech"}))

    assert [(e.seq, e.type) for e in events] == [(1, EventType.drill_created)]
    created = events[0]
    assert created.at == T0
    assert created.scenario_time == 0.0
    assert created.actor == FACILITATOR
    assert created.data["name"] == "Christmas drill"
    assert created.data["scenario_id"] == "engine-test"
    assert created.data["speed"] == 1.0
    assert created.data["variables"] == {"company": "Initech"}
    assert created.data["backups"] == {"legal": "executive"}
    state = drill.state
    assert state.status is Status.lobby
    assert state.roles == ["incident_manager", "legal", "communications", "executive"]
    assert not state.started


def test_create_with_a_subset_of_roles_and_own_speed(ransomware_scenario: Scenario) -> None:
    drill = Drill(ransomware_scenario).create(speed=10, roles=["incident_manager", "legal"])
    assert drill.state.roles == ["incident_manager", "legal"]
    assert drill.state.speed == 10
    assert drill.state.variables == {"company": "Acme"}


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (c.CreateDrill("d1", "x", roles=["ciso"]), Code.unknown_role),
        (c.CreateDrill("d1", "x", roles=[]), Code.invalid_input),
        (c.CreateDrill("d1", "x", variables={"nope": "1"}), Code.invalid_input),
        (c.CreateDrill("d1", "x", speed=0), Code.invalid_speed),
        (c.CreateDrill("d1", "x", speed=5000), Code.invalid_speed),
        (c.CreateDrill("d1", "   "), Code.invalid_input),
        (c.CreateDrill("d1", "x" * 81), Code.invalid_input),
        (c.CreateDrill("d1", "x", backups={"legal": "legal"}), Code.unknown_role),
    ],
)
def test_create_refuses_a_bad_setup(
    ransomware_scenario: Scenario, command: c.CreateDrill, code: Code
) -> None:
    assert Drill(ransomware_scenario).refuse(command) is code


def test_create_twice_is_refused(lobby: Drill) -> None:
    assert lobby.refuse(c.CreateDrill("d1", "again")) is Code.drill_exists


def test_commands_before_create_are_refused(ransomware_scenario: Scenario) -> None:
    drill = Drill(ransomware_scenario)
    assert drill.refuse(c.StartClock()) is Code.drill_not_created
    assert drill.refuse(c.Join("p", "P", "legal"), as_participant("p")) is Code.drill_not_created


def test_several_participants_may_play_one_role(lobby: Drill) -> None:
    managers = [p for p in lobby.state.participants.values() if p.role == "incident_manager"]
    assert sorted(p.id for p in managers) == ["im1", "im2"]
    joined = lobby.of(EventType.participant_joined)
    assert [e.actor for e in joined] == ["im1", "im2", "legal1", "comms1", "exec1", "obs1"]
    assert [e.seq for e in joined] == [2, 3, 4, 5, 6, 7]


def test_observer_joins_with_no_role(lobby: Drill) -> None:
    observer = lobby.state.participants["obs1"]
    assert observer.role is None
    assert observer.observer
    assert not lobby.state.participants["im1"].observer


def test_join_an_unknown_role_is_refused(lobby: Drill) -> None:
    code = lobby.refuse(c.Join("x1", "Xavier", "ciso"), as_participant("x1"))
    assert code is Code.unknown_role


def test_join_a_role_not_in_play_is_refused(ransomware_scenario: Scenario) -> None:
    drill = Drill(ransomware_scenario).create(roles=["incident_manager"])
    assert drill.refuse(c.Join("l1", "Lee", "legal"), as_participant("l1")) is Code.unknown_role


def test_join_twice_and_blank_names_are_refused(lobby: Drill) -> None:
    assert (
        lobby.refuse(c.Join("im1", "Again", "legal"), as_participant("im1"))
        is Code.participant_exists
    )
    assert (
        lobby.refuse(c.Join("new", "  \t ", "legal"), as_participant("new")) is Code.invalid_input
    )


def test_join_normalises_the_display_name(lobby: Drill) -> None:
    lobby.run(c.Join("p9", "  Ada   Lovelace ", "legal"), as_participant("p9"))
    assert lobby.state.participants["p9"].name == "Ada Lovelace"


def test_joining_is_possible_while_the_drill_runs(drill: Drill) -> None:
    drill.advance(600)
    drill.join("late", "communications")
    assert drill.state.participants["late"].role == "communications"


def test_leave_marks_the_participant_absent(lobby: Drill) -> None:
    lobby.run(c.Leave("im2"), as_participant("im2"))
    assert not lobby.state.participants["im2"].present
    assert lobby.refuse(c.Leave("im2"), as_participant("im2")) is Code.unknown_participant


def test_nobody_leaves_for_someone_else(lobby: Drill) -> None:
    assert lobby.refuse(c.Leave("im2"), as_participant("im1")) is Code.not_permitted
    lobby.run(c.Leave("im2"))  # the facilitator may remove anyone
    assert not lobby.state.participants["im2"].present


@pytest.mark.parametrize(
    "name",
    ["x" * (c.MAX_NAME_CHARS + 1), "Eve\x1b[31m", "Bob\x00", "Al\x9bice"],
    ids=["too long", "an escape", "a NUL", "a C1 control"],
)
def test_a_name_too_long_or_with_a_control_character_is_refused(lobby: Drill, name: str) -> None:
    """Whichever is wrong, on its own: names show on every screen and in the report."""
    assert lobby.refuse(c.Join("p9", name, "legal"), as_participant("p9")) is Code.invalid_input


def test_the_longest_name_is_accepted(lobby: Drill) -> None:
    lobby.run(c.Join("p9", "x" * c.MAX_NAME_CHARS, "legal"), as_participant("p9"))
    assert lobby.state.participants["p9"].name == "x" * c.MAX_NAME_CHARS
