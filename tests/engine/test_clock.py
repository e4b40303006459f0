"""The scenario clock: start, pause, resume, speed, jump, and catching up after downtime."""

from __future__ import annotations

import pytest

from app.engine import commands as c
from app.engine.core import due
from app.engine.errors import Code
from app.engine.events import EventType
from app.engine.scenario import Scenario
from app.engine.state import Status

from .harness import HOUR, MINUTE, Drill, as_participant, picked


def test_start_puts_the_story_at_zero_and_delivers_what_is_due_at_zero(lobby: Drill) -> None:
    lobby.now += 30
    events = lobby.run(c.StartClock())
    assert [e.type for e in events] == [EventType.clock_started]
    assert events[0].scenario_time == 0.0
    assert lobby.state.status is Status.running
    assert lobby.scenario_time() == 0.0

    delivered = lobby.tick()
    assert [e.type for e in delivered] == [EventType.inject_delivered, EventType.decision_opened]
    assert delivered[0].data["inject_id"] == "alert"


def test_nothing_is_delivered_in_the_lobby(lobby: Drill) -> None:
    assert lobby.tick(lobby.now + 10 * HOUR) == []
    assert lobby.state.scenario_now(lobby.now) == 0.0


@pytest.mark.parametrize("speed", [1.0, 2.0, 10.0, 0.5])
def test_scenario_time_follows_wall_time_times_speed(
    ransomware_scenario: Scenario, speed: float
) -> None:
    drill = Drill(ransomware_scenario).create(speed=speed).start()
    for seconds in (0.0, 1.0, 59.5, 600.0, 3600.0):
        assert drill.state.scenario_now(drill.start_wall + seconds) == pytest.approx(
            seconds * speed
        )


def test_start_twice_is_refused(drill: Drill) -> None:
    assert drill.refuse(c.StartClock()) is Code.drill_already_started


def test_paused_clock_does_not_advance(drill: Drill) -> None:
    drill.advance(2 * MINUTE)
    drill.run(c.PauseClock())
    assert drill.state.status is Status.paused
    paused_at = drill.scenario_time()
    assert paused_at == pytest.approx(2 * MINUTE)

    drill.set_now(drill.now + 5 * HOUR)
    assert drill.scenario_time() == paused_at


def test_due_returns_nothing_while_paused(drill: Drill) -> None:
    drill.tick()
    drill.run(c.PauseClock())
    assert due(drill.scenario, drill.state, drill.now + 20 * HOUR) == []
    assert drill.tick(drill.now + 20 * HOUR) == []
    assert "ransom-note" not in drill.state.delivered


def test_resume_continues_from_where_the_story_paused(drill: Drill) -> None:
    drill.advance(10 * MINUTE)
    drill.run(c.PauseClock())
    drill.set_now(drill.now + 3 * HOUR)
    resumed = drill.run(c.ResumeClock())
    assert resumed[0].type is EventType.clock_resumed
    assert resumed[0].scenario_time == pytest.approx(10 * MINUTE)
    assert drill.state.status is Status.running

    events = drill.advance(20 * MINUTE)
    assert drill.scenario_time() == pytest.approx(30 * MINUTE)
    assert "ransom-note" in [e.data.get("inject_id") for e in events]


def test_speed_change_applies_from_the_moment_it_is_made(drill: Drill) -> None:
    drill.set_now(drill.start_wall + 10 * MINUTE)
    event = drill.run(c.SetSpeed(6))[0]
    assert event.type is EventType.clock_speed_changed
    assert picked(event.data, "speed", "previous") == {"speed": 6, "previous": 1.0}
    assert event.scenario_time == pytest.approx(10 * MINUTE)
    # five more wall minutes at 6x are thirty scenario minutes
    assert drill.state.scenario_now(drill.now + 5 * MINUTE) == pytest.approx(40 * MINUTE)


def test_speed_change_while_paused_keeps_the_clock_still(drill: Drill) -> None:
    drill.advance(10 * MINUTE)
    drill.run(c.PauseClock())
    drill.run(c.SetSpeed(10))
    drill.set_now(drill.now + HOUR)
    assert drill.scenario_time() == pytest.approx(10 * MINUTE)
    drill.run(c.ResumeClock())
    assert drill.state.scenario_now(drill.now + MINUTE) == pytest.approx(20 * MINUTE)


def test_scenario_time_is_a_function_of_the_log_and_now(drill: Drill) -> None:
    """Pauses, resumes and speed changes, then replay: every `now` maps the same way."""
    drill.advance(7 * MINUTE)
    drill.run(c.SetSpeed(3))
    drill.advance(2 * MINUTE)
    drill.run(c.PauseClock())
    drill.set_now(drill.now + 11 * MINUTE)
    drill.run(c.ResumeClock())
    drill.advance(1 * MINUTE)
    drill.run(c.SetSpeed(0.5))
    rebuilt = drill.replayed()
    for later in (0.0, 1.0, 30.0, 600.0, 7200.0):
        now = drill.now + later
        assert rebuilt.scenario_now(now) == drill.state.scenario_now(now)
    # 7 min at 1x + 2 min at 3x + 1 min at 3x (the pause adds nothing) = 16 scenario minutes
    assert drill.scenario_time() == pytest.approx(16 * MINUTE)
    assert drill.state.scenario_now(drill.now + 2 * MINUTE) == pytest.approx(17 * MINUTE)


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (c.PauseClock(), Code.drill_not_running),
        (c.ResumeClock(), Code.drill_not_running),
        (c.JumpToNextInject(), Code.drill_not_started),
    ],
)
def test_clock_commands_in_the_lobby(lobby: Drill, command: c.Command, code: Code) -> None:
    assert lobby.refuse(command) is code


def test_pause_twice_and_resume_while_running_are_refused(drill: Drill) -> None:
    assert drill.refuse(c.ResumeClock()) is Code.drill_not_running
    drill.run(c.PauseClock())
    assert drill.refuse(c.PauseClock()) is Code.drill_not_running


@pytest.mark.parametrize("speed", [0.0, -1.0, 1441.0])
def test_invalid_speed_is_refused(drill: Drill, speed: float) -> None:
    assert drill.refuse(c.SetSpeed(speed)) is Code.invalid_speed


def test_participants_cannot_drive_the_clock(drill: Drill) -> None:
    for command in (c.PauseClock(), c.SetSpeed(2), c.JumpToNextInject(), c.EndDrill()):
        assert drill.refuse(command, as_participant("im1")) is Code.not_permitted


# --------------------------------------------------------------------------- jump


def test_jump_moves_the_story_to_the_next_inject(drill: Drill) -> None:
    drill.tick()  # alert at 0m
    drill.advance(MINUTE)
    event = drill.run(c.JumpToNextInject())[0]
    assert event.type is EventType.clock_jumped
    assert picked(event.data, "from", "to") == {"from": pytest.approx(MINUTE), "to": 5 * MINUTE}
    assert drill.scenario_time() == pytest.approx(5 * MINUTE)
    delivered = drill.tick()
    assert [e.data.get("inject_id") for e in delivered] == ["reminder"]
    assert delivered[0].scenario_time == 5 * MINUTE


def test_jump_lets_deadlines_on_the_way_pass_first(drill: Drill) -> None:
    """Jumping from 5m to the ransom note at 30m passes the 10m deadline of `isolate`."""
    drill.at_scenario(5 * MINUTE)
    drill.run(c.JumpToNextInject())
    events = drill.tick()
    assert [(e.type, e.scenario_time) for e in events][:3] == [
        (EventType.decision_timed_out, 10 * MINUTE),
        (EventType.inject_delivered, 30 * MINUTE),
        (EventType.decision_opened, 30 * MINUTE),
    ]


def test_jump_when_the_next_inject_is_already_due(drill: Drill) -> None:
    assert drill.refuse(c.JumpToNextInject()) is Code.nothing_to_jump_to


def test_jump_with_no_inject_left(short_drill: Drill) -> None:
    short_drill.at_scenario(20 * MINUTE)
    assert short_drill.refuse(c.JumpToNextInject()) is Code.nothing_to_jump_to


def test_jump_while_paused_stays_paused_at_the_target(drill: Drill) -> None:
    drill.tick()
    drill.run(c.PauseClock())
    drill.run(c.JumpToNextInject())
    drill.set_now(drill.now + HOUR)
    assert drill.scenario_time() == 5 * MINUTE
    assert drill.tick() == []


# --------------------------------------------------------------------------- catching up


def test_catching_up_after_downtime_keeps_each_due_time(short_drill: Drill) -> None:
    """The server was down for an hour: one `due` returns everything, in order, each with
    the scenario time it was due at, not the time of the call."""
    later = short_drill.start_wall + HOUR
    events = short_drill.tick(later)
    assert [
        (e.type, e.data.get("inject_id") or e.data.get("decision_id"), e.scenario_time)
        for e in events
    ] == [
        (EventType.inject_delivered, "first", 10 * MINUTE),
        (EventType.inject_delivered, "second", 20 * MINUTE),
        (EventType.decision_opened, "escalate", 20 * MINUTE),
        (EventType.decision_timed_out, "escalate", 35 * MINUTE),
        (EventType.drill_ended, None, 35 * MINUTE),
    ]
    assert all(e.at == later for e in events)
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + 5))
    assert short_drill.state.status is Status.ended


def test_catch_up_equals_ticking_all_along(short_scenario: Scenario) -> None:
    def run(step: float) -> list[tuple[EventType, float, str | None]]:
        drill = Drill(short_scenario).create().start()
        while drill.state.status is Status.running and drill.now < drill.start_wall + HOUR:
            drill.advance(step)
        return [(e.type, e.scenario_time, e.data.get("inject_id")) for e in drill.events]

    assert run(HOUR) == run(1.0) == run(7 * MINUTE)


def test_due_is_empty_before_anything_falls_due(short_drill: Drill) -> None:
    assert short_drill.tick(short_drill.start_wall + 10 * MINUTE - 1) == []
    assert [e.data["inject_id"] for e in short_drill.advance(1)] == ["first"]


def test_due_does_not_change_the_state(drill: Drill) -> None:
    before = drill.state.copy()
    events = due(drill.scenario, drill.state, drill.now + 10 * HOUR)
    assert events, "plenty falls due in ten hours"
    assert drill.state == before
