"""Messages, drawer statements, communication expectations, observer notes, the end."""

from __future__ import annotations

import pytest

from app.engine import commands as c
from app.engine.errors import Code
from app.engine.events import EventType
from app.engine.scenario import Scenario
from app.engine.state import Status

from .harness import HOUR, MINUTE, Drill, as_participant, picked

IM = as_participant("im1")
LEGAL = as_participant("legal1")
COMMS = as_participant("comms1")
OBSERVER = as_participant("obs1")


def test_message_from_a_participant_speaks_for_their_role(drill: Drill) -> None:
    drill.advance(MINUTE)
    event = drill.run(
        c.SendMessage(to=["legal", "regulator", "legal"], body=" Heads up ", subject="FS01"), IM
    )[0]
    assert event.type is EventType.message_sent
    assert event.actor == "im1"
    assert picked(event.data, "from_role", "to", "subject", "body", "statement_id") == {
        "from_role": "incident_manager",
        "to": ["legal", "regulator"],
        "subject": "FS01",
        "body": "Heads up",
        "statement_id": None,
    }
    assert ("incident_manager", "regulator") in drill.state.sent_pairs


def test_facilitator_names_the_role_a_message_is_from(drill: Drill) -> None:
    assert drill.refuse(c.SendMessage(to=["legal"], body="hi")) is Code.unknown_role
    event = drill.run(c.SendMessage(to=["legal"], body="hi", from_role="executive"))[0]
    assert event.data["from_role"] == "executive"


def test_participant_cannot_speak_as_another_role(drill: Drill) -> None:
    command = c.SendMessage(to=["legal"], body="hi", from_role="executive")
    assert drill.refuse(command, IM) is Code.wrong_role


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (c.SendMessage(to=["ceo"], body="hi"), Code.unknown_recipient),
        (c.SendMessage(to=["legal", "journalists"], body="hi"), Code.unknown_recipient),
        (c.SendMessage(to=[], body="hi"), Code.unknown_recipient),
        (c.SendMessage(to=["legal"], body=""), Code.invalid_input),
        (c.SendMessage(to=["legal"], body=" \n\t "), Code.invalid_input),
        (c.SendMessage(to=["legal"], body="x" * (c.MAX_MESSAGE_CHARS + 1)), Code.invalid_input),
        (
            c.SendMessage(to=["legal"], body="hi", subject="s" * (c.MAX_SUBJECT_CHARS + 1)),
            Code.invalid_input,
        ),
        (c.SendMessage(to=["press"], body="hi", statement_id="nope"), Code.unknown_statement),
        (
            c.SendMessage(to=["press"], body="We are investigating.", statement_id="press-line"),
            Code.statement_not_allowed,
        ),
    ],
)
def test_message_refusals(drill: Drill, command: c.SendMessage, code: Code) -> None:
    drill.advance(MINUTE)
    assert drill.refuse(command, IM) is code


def test_the_longest_message_is_accepted(drill: Drill) -> None:
    body = "x" * c.MAX_MESSAGE_CHARS
    assert drill.run(c.SendMessage(to=["legal"], body=body), IM)[0].data["body"] == body


def test_a_role_not_in_play_is_not_a_recipient(ransomware_scenario: Scenario) -> None:
    drill = Drill(ransomware_scenario).create(roles=["incident_manager", "communications"])
    drill.join("im1", "incident_manager").start()
    assert drill.refuse(c.SendMessage(to=["legal"], body="hi"), IM) is Code.unknown_recipient


def test_drawer_statement_by_an_allowed_role(drill: Drill) -> None:
    event = drill.run(
        c.SendMessage(
            to=["press"], body="We are investigating an incident.", statement_id="press-line"
        ),
        COMMS,
    )[0]
    assert event.data["statement_id"] == "press-line"


def test_observers_and_strangers_do_not_send(drill: Drill) -> None:
    assert drill.refuse(c.SendMessage(to=["legal"], body="hi"), OBSERVER) is Code.not_permitted
    assert (
        drill.refuse(c.SendMessage(to=["legal"], body="hi"), as_participant("ghost"))
        is Code.unknown_participant
    )
    drill.run(c.Leave("im1"), IM)
    assert drill.refuse(c.SendMessage(to=["legal"], body="hi"), IM) is Code.unknown_participant


def test_messages_wait_for_a_running_clock(lobby: Drill) -> None:
    command = c.SendMessage(to=["legal"], body="hi")
    assert lobby.refuse(command, IM) is Code.drill_not_running
    lobby.start().run(c.PauseClock())
    assert lobby.refuse(command, IM) is Code.drill_not_running


# --------------------------------------------------------------------------- expectations


def _tell_exec(drill: Drill, at: float, actor: c.Actor = IM) -> list[EventType]:
    """Send the executive a message at scenario time `at` (running `due` up to then)."""
    drill.at_scenario(at)
    events = drill.run(c.SendMessage(to=["executive"], body="Ransomware on FS01."), actor)
    return [e.type for e in events]


def test_expectation_starts_counting_at_its_trigger(drill: Drill) -> None:
    drill.at_scenario(30 * MINUTE - 1)
    assert "tell-exec" not in drill.state.expectations
    drill.at_scenario(30 * MINUTE)
    pending = drill.state.expectations["tell-exec"]
    assert (pending.armed_at, pending.deadline, pending.closes) == (
        30 * MINUTE,
        60 * MINUTE,
        90 * MINUTE,
    )
    assert pending.status == "pending"


def test_expectation_met_on_time_earns_full_points(drill: Drill) -> None:
    assert _tell_exec(drill, 45 * MINUTE) == [EventType.message_sent, EventType.expectation_met]
    met = drill.of(EventType.expectation_met)[0]
    assert met.data["status"] == "on_time"
    assert met.data["points"] == 10
    assert met.data["message_seq"] == met.seq - 1
    assert drill.state.expectations["tell-exec"].status == "on_time"
    assert drill.state.points["comms"] == 10


def test_expectation_met_exactly_at_the_deadline_is_on_time(drill: Drill) -> None:
    _tell_exec(drill, 60 * MINUTE)
    assert drill.of(EventType.expectation_met)[0].data["status"] == "on_time"


@pytest.mark.parametrize(
    ("at", "points"),
    [(61 * MINUTE, 9.67), (75 * MINUTE, 5.0), (87 * MINUTE, 1.0)],
)
def test_late_earns_points_falling_linearly_to_zero_at_the_end_of_grace(
    drill: Drill, at: float, points: float
) -> None:
    _tell_exec(drill, at)
    met = drill.of(EventType.expectation_met)[0]
    assert met.data["status"] == "late"
    assert met.data["points"] == pytest.approx(points)
    assert drill.state.points["comms"] == pytest.approx(points)


def test_missed_expectation_at_deadline_plus_grace(drill: Drill) -> None:
    drill.at_scenario(90 * MINUTE - 1)
    assert drill.of(EventType.expectation_missed) == []
    drill.at_scenario(90 * MINUTE)
    missed = drill.of(EventType.expectation_missed)
    assert len(missed) == 1
    assert missed[0].scenario_time == 90 * MINUTE
    assert picked(missed[0].data, "expectation_id", "deadline") == {
        "expectation_id": "tell-exec",
        "deadline": 60 * MINUTE,
    }
    assert drill.state.expectations["tell-exec"].status == "missed"
    assert "comms" not in drill.state.points
    # telling them now earns nothing and changes nothing
    assert _tell_exec(drill, 95 * MINUTE) == [EventType.message_sent]


def test_message_after_the_grace_does_not_meet_the_expectation(drill: Drill) -> None:
    """The server had not run `due` yet when the message came, 5 minutes after the grace
    ended: it must not count as met (late, 0 points); it is missed."""
    drill.at_scenario(80 * MINUTE)
    drill.set_now(drill.state.wall_time_of(95 * MINUTE))
    drill.run(c.SendMessage(to=["executive"], body="Ransomware on FS01."), IM)
    assert drill.of(EventType.expectation_met) == []
    drill.tick()
    assert drill.state.expectations["tell-exec"].status == "missed"


def test_expectation_only_met_by_the_named_roles(drill: Drill) -> None:
    assert _tell_exec(drill, 40 * MINUTE, COMMS) == [EventType.message_sent]
    assert drill.state.expectations["tell-exec"].status == "pending"


def test_expectation_met_once(drill: Drill) -> None:
    _tell_exec(drill, 40 * MINUTE)
    assert _tell_exec(drill, 41 * MINUTE) == [EventType.message_sent]
    drill.at_scenario(3 * HOUR)
    assert drill.of(EventType.expectation_missed) == []


def test_message_before_the_countdown_does_not_count(drill: Drill) -> None:
    assert _tell_exec(drill, 10 * MINUTE) == [EventType.message_sent]
    drill.at_scenario(90 * MINUTE)
    assert drill.state.expectations["tell-exec"].status == "missed"


def test_expectation_armed_by_an_option_and_met_by_a_party_message(drill: Drill) -> None:
    drill.at_scenario(41 * MINUTE)
    drill.run(c.Answer("disclose", "notify"), as_participant("exec1"))
    assert drill.state.expectations["tell-regulator"].deadline == 41 * MINUTE + 72 * HOUR
    events = drill.run(c.SendMessage(to=["regulator"], body="Notification under Art. 33."), COMMS)
    assert [e.type for e in events] == [EventType.message_sent, EventType.expectation_met]
    assert drill.state.expectations["tell-regulator"].status == "on_time"


# --------------------------------------------------------------------------- observer notes


def test_observer_writes_a_note(drill: Drill) -> None:
    event = drill.run(c.AddNote(" IM did not loop in legal. ", objective_id="comms"), OBSERVER)[0]
    assert event.type is EventType.note_added
    assert event.actor == "obs1"
    assert picked(event.data, "text", "objective_id") == {
        "text": "IM did not loop in legal.",
        "objective_id": "comms",
    }


def test_facilitator_writes_a_note(lobby: Drill) -> None:
    assert lobby.run(c.AddNote("Room set up."))[0].actor == "facilitator"


@pytest.mark.parametrize("participant_id", ["im1", "legal1", "comms1"])
def test_players_do_not_write_observer_notes(drill: Drill, participant_id: str) -> None:
    command = c.AddNote("I did great.")
    assert drill.refuse(command, as_participant(participant_id)) is Code.not_permitted


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (c.AddNote("text", objective_id="nope"), Code.unknown_objective),
        (c.AddNote("   "), Code.invalid_input),
        (c.AddNote("x" * (c.MAX_NOTE_CHARS + 1)), Code.invalid_input),
    ],
)
def test_note_refusals(drill: Drill, command: c.AddNote, code: Code) -> None:
    assert drill.refuse(command, OBSERVER) is code


# --------------------------------------------------------------------------- the end


FACILITATOR_ONLY: list[c.Command] = [
    c.StartClock(),
    c.PauseClock(),
    c.ResumeClock(),
    c.SetSpeed(2),
    c.JumpToNextInject(),
    c.EndDrill(),
    c.ManualInject(title="T", body="B", to=["legal"]),
]


@pytest.mark.parametrize("command", FACILITATOR_ONLY, ids=lambda cmd: type(cmd).__name__)
def test_facilitator_only_commands_are_refused_for_participants(
    drill: Drill, command: c.Command
) -> None:
    assert drill.refuse(command, IM) is Code.not_permitted
    assert drill.refuse(command, OBSERVER) is Code.not_permitted


def test_facilitator_ends_the_drill(drill: Drill) -> None:
    drill.advance(3 * MINUTE)
    event = drill.run(c.EndDrill("  out of time "))[0]
    assert event.type is EventType.drill_ended
    assert event.data["reason"] == "out of time"
    assert drill.state.status is Status.ended
    assert drill.state.timers == {}
    assert drill.tick(drill.now + 20 * HOUR) == []


AFTER_THE_END: list[tuple[c.Command, c.Actor]] = [
    (c.StartClock(), c.FACILITATOR_ACTOR),
    (c.PauseClock(), c.FACILITATOR_ACTOR),
    (c.ResumeClock(), c.FACILITATOR_ACTOR),
    (c.SetSpeed(2), c.FACILITATOR_ACTOR),
    (c.JumpToNextInject(), c.FACILITATOR_ACTOR),
    (c.EndDrill(), c.FACILITATOR_ACTOR),
    (c.ManualInject(title="T", body="B", to=["legal"]), c.FACILITATOR_ACTOR),
    (c.Answer("isolate", "now"), IM),
    (c.Answer("isolate", "now", role="incident_manager"), c.FACILITATOR_ACTOR),
    (c.SendMessage(to=["legal"], body="hi"), IM),
    (c.SendMessage(to=["legal"], body="hi", from_role="executive"), c.FACILITATOR_ACTOR),
    (c.Join("late", "Late Larry", "legal"), as_participant("late")),
    (c.Join("late", "Late Lara", None), as_participant("late")),
    (c.PauseClock(), IM),
]


@pytest.mark.parametrize(
    ("command", "actor"),
    AFTER_THE_END,
    ids=[f"{type(cmd).__name__}-{actor.name}" for cmd, actor in AFTER_THE_END],
)
def test_everything_is_refused_after_the_end(
    drill: Drill, command: c.Command, actor: c.Actor
) -> None:
    drill.tick()
    drill.advance(MINUTE)
    drill.run(c.EndDrill())
    assert drill.refuse(command, actor) is Code.drill_ended
