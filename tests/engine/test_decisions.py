"""Decisions: opened by injects, answered, timed out; roles that are unavailable."""

from __future__ import annotations

import pytest

from app.engine import commands as c
from app.engine.errors import Code
from app.engine.events import EventType
from app.engine.scenario import Scenario
from app.engine.state import Status

from .harness import HOUR, MINUTE, Drill, as_participant, picked

IM1 = as_participant("im1")
IM2 = as_participant("im2")
LEGAL = as_participant("legal1")
COMMS = as_participant("comms1")
EXEC = as_participant("exec1")
OBSERVER = as_participant("obs1")


def test_inject_opens_its_decision(drill: Drill) -> None:
    events = drill.tick()
    opened = events[1]
    assert opened.type is EventType.decision_opened
    assert opened.data["decision_id"] == "isolate"
    assert opened.data["roles"] == ["incident_manager"]
    assert opened.data["deadline"] == 10 * MINUTE
    assert opened.data["prompt"] == "Isolate FS01 now?"
    state = drill.state.decisions["isolate"]
    assert not state.closed
    assert state.deadline == 10 * MINUTE


def test_first_answer_counts(drill: Drill) -> None:
    drill.tick()
    drill.set_now(drill.start_wall + 4 * MINUTE)
    events = drill.run(c.Answer("isolate", "now", rationale="  stop the spread "), IM1)
    assert [e.type for e in events] == [EventType.decision_answered]
    data = events[0].data
    assert data["option_id"] == "now"
    assert data["role"] == "incident_manager"
    assert data["rationale"] == "stop the spread"
    assert data["latency"] == pytest.approx(4 * MINUTE)
    assert events[0].actor == "im1"
    decision = drill.state.decisions["isolate"]
    assert decision.closed and not decision.timed_out
    assert decision.answers == (("incident_manager", "now"),)
    assert drill.state.chosen == {"isolate.now"}
    assert drill.state.points == {"contain": 5}

    # the other incident manager is too late: the decision is taken
    assert drill.refuse(c.Answer("isolate", "wait"), IM2) is Code.decision_closed
    assert drill.state.chosen == {"isolate.now"}


def test_a_participant_of_another_role_cannot_answer(drill: Drill) -> None:
    drill.tick()
    assert drill.refuse(c.Answer("isolate", "now"), LEGAL) is Code.wrong_role
    assert (
        drill.refuse(c.Answer("isolate", "now", role="incident_manager"), LEGAL) is Code.wrong_role
    )


def test_observers_do_not_answer(drill: Drill) -> None:
    drill.tick()
    assert drill.refuse(c.Answer("isolate", "now"), OBSERVER) is Code.not_permitted


def test_unknown_option(drill: Drill) -> None:
    drill.tick()
    assert drill.refuse(c.Answer("isolate", "later"), IM1) is Code.unknown_option


@pytest.mark.parametrize(
    ("decision_id", "code"), [("vote", Code.decision_not_open), ("nope", Code.unknown_decision)]
)
def test_answering_what_is_not_open(drill: Drill, decision_id: str, code: Code) -> None:
    drill.tick()
    assert drill.refuse(c.Answer(decision_id, "pay"), IM1) is code


def test_answer_after_the_deadline_is_refused_even_before_due_runs(drill: Drill) -> None:
    drill.tick()
    drill.set_now(drill.start_wall + 10 * MINUTE + 1)
    assert drill.refuse(c.Answer("isolate", "now"), IM1) is Code.decision_closed


def test_answer_at_the_deadline_still_counts(drill: Drill) -> None:
    drill.at_scenario(5 * MINUTE)
    drill.set_now(drill.start_wall + 10 * MINUTE)
    drill.run(c.Answer("isolate", "now"), IM1)
    assert not drill.state.decisions["isolate"].timed_out
    assert drill.tick() == []


def test_answers_wait_while_paused_or_in_the_lobby(lobby: Drill) -> None:
    assert lobby.refuse(c.Answer("isolate", "now"), IM1) is Code.drill_not_running
    lobby.start().tick()
    lobby.run(c.PauseClock())
    assert lobby.refuse(c.Answer("isolate", "now"), IM1) is Code.drill_not_running


def test_timeout_takes_the_default(drill: Drill) -> None:
    drill.tick()
    drill.at_scenario(10 * MINUTE - 1)
    assert not drill.state.decisions["isolate"].closed
    events = drill.at_scenario(10 * MINUTE)
    assert [(e.type, e.scenario_time) for e in events] == [
        (EventType.decision_timed_out, 10 * MINUTE)
    ]
    assert picked(events[0].data, "decision_id", "option_id", "roles") == {
        "decision_id": "isolate",
        "option_id": "wait",
        "roles": ["incident_manager"],  # who was asked: they see the default taken
    }
    decision = drill.state.decisions["isolate"]
    assert decision.closed and decision.timed_out
    assert decision.answers == ()
    assert drill.state.chosen == {"isolate.wait"}
    assert drill.state.points == {"contain": -2}
    assert drill.refuse(c.Answer("isolate", "now"), IM1) is Code.decision_closed


def test_timeout_with_an_ending_default_ends_the_drill(short_drill: Drill) -> None:
    events = short_drill.at_scenario(35 * MINUTE)
    assert [e.type for e in events][-2:] == [EventType.decision_timed_out, EventType.drill_ended]
    assert short_drill.state.end_reason == "option escalate.no (time ran out)"


def test_facilitator_answers_for_a_named_role(drill: Drill) -> None:
    drill.tick()
    assert drill.refuse(c.Answer("isolate", "now")) is Code.unknown_role
    event = drill.run(c.Answer("isolate", "now", role="incident_manager"))[0]
    assert event.actor == "facilitator"
    assert event.data["role"] == "incident_manager"


# --------------------------------------------------------------------------- per role


def test_per_role_each_role_answers_once(drill: Drill) -> None:
    drill.at_scenario(31 * MINUTE)
    first = drill.run(c.Answer("vote", "refuse"), IM1)
    assert [e.type for e in first] == [EventType.decision_answered]
    assert not drill.state.decisions["vote"].closed
    assert drill.refuse(c.Answer("vote", "pay"), IM2) is Code.already_answered

    last = drill.run(c.Answer("vote", "pay"), COMMS)
    assert [e.type for e in last] == [EventType.decision_answered, EventType.decision_closed]
    decision = drill.state.decisions["vote"]
    assert decision.closed and not decision.timed_out
    assert decision.answers == (("incident_manager", "refuse"), ("communications", "pay"))
    assert drill.state.chosen >= {"vote.refuse", "vote.pay"}
    assert drill.refuse(c.Answer("vote", "pay"), IM1) is Code.decision_closed


def test_per_role_outcome_does_not_depend_on_who_answers_first(
    ransomware_scenario: Scenario,
) -> None:
    """The incident manager says `stop` (which ends the drill), communications `refuse`:
    the same answers must tell the same story whichever arrives first."""
    outcomes: list[tuple[Status, list[tuple[str, str]]]] = []
    for order in (("im1", "comms1"), ("comms1", "im1")):
        drill = Drill(ransomware_scenario).create()
        drill.join("im1", "incident_manager").join("comms1", "communications").start()
        drill.at_scenario(31 * MINUTE)
        for participant_id in order:
            option = "stop" if participant_id == "im1" else "refuse"
            drill.run(c.Answer("vote", option), as_participant(participant_id))
        outcomes.append((drill.state.status, sorted(drill.state.decisions["vote"].answers)))
    assert outcomes[0] == outcomes[1]


def test_per_role_partly_answered_closes_at_the_deadline_without_the_default(
    drill: Drill,
) -> None:
    drill.at_scenario(31 * MINUTE)
    drill.run(c.Answer("vote", "pay"), IM1)
    events = drill.at_scenario(50 * MINUTE)
    closing = [e for e in events if e.data.get("decision_id") == "vote"]
    assert [(e.type, e.scenario_time) for e in closing] == [
        (EventType.decision_closed, 50 * MINUTE)
    ]
    assert not drill.state.decisions["vote"].timed_out
    assert "vote.refuse" not in drill.state.chosen


def test_per_role_unanswered_times_out(drill: Drill) -> None:
    drill.at_scenario(50 * MINUTE)
    assert drill.state.decisions["vote"].timed_out
    assert "vote.refuse" in drill.state.chosen


# --------------------------------------------------------------------------- unavailable


def test_unavailable_role_hands_injects_and_decisions_to_its_backup(drill: Drill) -> None:
    events = drill.at_scenario(40 * MINUTE)
    kinds = [
        (e.type, e.data.get("role") or e.data.get("decision_id") or e.data.get("inject_id"))
        for e in events
        if e.scenario_time == 40 * MINUTE
    ]
    assert kinds == [
        (EventType.inject_delivered, "legal-away"),
        (EventType.role_unavailable, "legal"),
        (EventType.decision_opened, "disclose"),
    ]
    assert events[-1].data["to"] == ["legal"]
    assert events[-1].data["roles"] == ["executive"]
    assert drill.state.unavailable == {"legal"}
    assert drill.state.acting_role("legal") == "executive"

    drill.at_scenario(2 * HOUR)
    news = drill.delivery("waited-news").data
    assert "legal" not in news["recipients"]
    assert news["recipients"].count("executive") == 1


def test_unavailable_roles_participant_is_refused(drill: Drill) -> None:
    drill.at_scenario(40 * MINUTE)
    assert drill.refuse(c.Answer("disclose", "notify"), LEGAL) is Code.role_unavailable
    assert (
        drill.refuse(c.SendMessage(to=["incident_manager"], body="I am back"), LEGAL)
        is Code.role_unavailable
    )


def test_backups_answer_counts(drill: Drill) -> None:
    drill.at_scenario(41 * MINUTE)
    event = drill.run(c.Answer("disclose", "notify"), EXEC)[0]
    assert event.data["role"] == "executive"
    assert event.data["answered_by_role"] == "executive"
    assert drill.state.decisions["disclose"].closed
    assert "disclose.notify" in drill.state.chosen
    assert drill.state.points["comms"] == 5
    assert "tell-regulator" in drill.state.expectations


def test_backup_named_per_drill(ransomware_scenario: Scenario) -> None:
    drill = Drill(ransomware_scenario).create(backups={"legal": "communications"})
    drill.join("comms1", "communications").join("exec1", "executive").start()
    drill.at_scenario(41 * MINUTE)
    assert drill.state.decisions["disclose"].roles == ("communications",)
    assert drill.refuse(c.Answer("disclose", "notify"), EXEC) is Code.wrong_role
    drill.run(c.Answer("disclose", "notify"), COMMS)
    assert drill.state.decisions["disclose"].closed


def test_decision_to_an_unavailable_role_times_out_to_its_default(drill: Drill) -> None:
    drill.at_scenario(70 * MINUTE)
    decision = drill.state.decisions["disclose"]
    assert decision.timed_out
    assert "disclose.wait" in drill.state.chosen
    assert drill.state.status is Status.running


def test_a_rationale_may_be_as_long_as_a_message_and_no_longer(drill: Drill) -> None:
    drill.tick()
    too_long = "x" * (c.MAX_MESSAGE_CHARS + 1)
    assert drill.refuse(c.Answer("isolate", "now", rationale=too_long), IM1) is Code.invalid_input
    longest = "x" * c.MAX_MESSAGE_CHARS
    (answered,) = drill.run(c.Answer("isolate", "now", rationale=longest), IM1)
    assert answered.data["rationale"] == longest
