"""Injects: when they arrive, under which condition, to whom; branches; manual injects."""

from __future__ import annotations

import pytest

from app.engine import commands as c
from app.engine.errors import Code
from app.engine.events import SYSTEM, EventType
from app.engine.scenario import Channel, Scenario, Severity
from app.engine.state import Status

from .harness import HOUR, MINUTE, Drill, as_participant

IM = as_participant("im1")
COMMS = as_participant("comms1")
EXEC = as_participant("exec1")


@pytest.mark.parametrize(
    ("inject_id", "offset"),
    [
        ("alert", 0.0),
        ("ransom-note", 30 * MINUTE),
        ("legal-away", 40 * MINUTE),
        ("leak-news", 3 * HOUR),
    ],
)
def test_inject_arrives_at_its_offset_and_not_before(
    drill: Drill, inject_id: str, offset: float
) -> None:
    if offset:
        drill.at_scenario(offset - 1)
        assert inject_id not in drill.delivered_ids()
    drill.at_scenario(offset)
    event = drill.delivery(inject_id)
    assert event.scenario_time == offset
    assert event.actor == SYSTEM
    assert drill.state.delivered[inject_id] == event.seq


def test_delivery_carries_the_filled_in_text_and_recipients(
    ransomware_scenario: Scenario,
) -> None:
    drill = Drill(ransomware_scenario).create(variables={"company": "Initech"}).start()
    drill.tick()
    data = drill.delivery("alert").data
    assert data["title"] == "EDR alert at Initech"
    assert data["body"] == "Encryption seen on FS01 at Initech."
    assert data["manual"] is False
    assert data["to"] == data["recipients"] == ["incident_manager"]
    drill.at_scenario(30 * MINUTE)
    note = drill.delivery("ransom-note").data
    assert note["to"] == ["incident_manager", "legal", "communications", "executive"]
    assert note["facts"] == ["encrypted"]


def test_all_means_the_roles_in_play(ransomware_scenario: Scenario) -> None:
    drill = Drill(ransomware_scenario).create(roles=["incident_manager", "communications"])
    drill.start().at_scenario(30 * MINUTE)
    assert drill.delivery("ransom-note").data["to"] == ["incident_manager", "communications"]


def test_after_an_inject_plus_delay(drill: Drill) -> None:
    drill.at_scenario(45 * MINUTE - 1)
    assert "followup" not in drill.delivered_ids()
    drill.at_scenario(45 * MINUTE)
    assert drill.delivery("followup").scenario_time == 45 * MINUTE


def test_after_counts_from_the_actual_delivery(drill: Drill) -> None:
    """The ransom note arrives late (the clock was paused before it): the follow-up's
    delay counts from when the note arrived in the story, not from its planned time."""
    drill.at_scenario(20 * MINUTE)
    drill.run(c.PauseClock())
    drill.set_now(drill.now + HOUR)
    drill.run(c.ResumeClock())
    drill.at_scenario(30 * MINUTE)
    assert drill.delivery("ransom-note").scenario_time == 30 * MINUTE
    drill.at_scenario(45 * MINUTE)
    assert drill.delivery("followup").scenario_time == 45 * MINUTE


def test_after_an_option_plus_delay(drill: Drill) -> None:
    drill.tick()
    drill.set_now(drill.start_wall + 3 * MINUTE)
    drill.run(c.Answer("isolate", "now"), IM)
    drill.at_scenario(8 * MINUTE - 1)
    assert "isolated-report" not in drill.delivered_ids()
    drill.at_scenario(8 * MINUTE)
    assert drill.delivery("isolated-report").scenario_time == 8 * MINUTE


def test_after_an_option_not_taken_never_arrives(drill: Drill) -> None:
    drill.at_scenario(4 * HOUR)
    assert "isolated-report" not in drill.delivered_ids()
    assert "isolated-report" not in drill.skipped()
    assert "isolated-report" not in drill.state.armed


def test_after_a_decision_closes(short_drill: Drill) -> None:
    short_drill.at_scenario(20 * MINUTE)
    short_drill.set_now(short_drill.now + 2 * MINUTE)
    short_drill.run(c.Answer("escalate", "yes"), as_participant("soc1"))
    short_drill.at_scenario(27 * MINUTE)
    assert short_drill.delivery("wrap-up").scenario_time == 27 * MINUTE
    assert short_drill.state.status is Status.ended
    assert short_drill.state.end_reason == "inject wrap-up"


# --------------------------------------------------------------------------- conditions


def test_when_flag_true_delivers(drill: Drill) -> None:
    drill.tick()
    drill.run(c.Answer("isolate", "now"), IM)
    assert drill.state.flags == {"contained": True}
    drill.at_scenario(2 * HOUR)
    assert "contained-news" in drill.delivered_ids()
    assert drill.skipped()["waited-news"] == "condition"


def test_when_chosen_delivers_after_a_timeout_too(drill: Drill) -> None:
    drill.at_scenario(2 * HOUR)
    assert "waited-news" in drill.delivered_ids()
    assert drill.skipped()["contained-news"] == "condition"
    skip = drill.of(EventType.inject_skipped)[0]
    assert skip.scenario_time == 2 * HOUR


def test_not_sent_arrives_only_if_nobody_messaged_legal(drill: Drill) -> None:
    drill.at_scenario(HOUR)
    assert "legal-nudge" in drill.delivered_ids()


def test_not_sent_is_skipped_once_legal_has_been_told(drill: Drill) -> None:
    drill.at_scenario(15 * MINUTE)
    drill.run(c.SendMessage(to=["legal"], body="We may have a breach."), COMMS)
    drill.at_scenario(HOUR)
    assert "legal-nudge" not in drill.delivered_ids()
    assert drill.skipped()["legal-nudge"] == "condition"


def test_a_message_to_someone_else_does_not_count_as_telling_legal(drill: Drill) -> None:
    drill.at_scenario(15 * MINUTE)
    drill.run(c.SendMessage(to=["executive", "press"], body="FYI"), IM)
    drill.at_scenario(HOUR)
    assert "legal-nudge" in drill.delivered_ids()


def test_open_decision_condition_true_while_unanswered(drill: Drill) -> None:
    drill.at_scenario(5 * MINUTE)
    assert drill.delivery("reminder").scenario_time == 5 * MINUTE


def test_open_decision_condition_false_once_answered(drill: Drill) -> None:
    drill.tick()
    drill.set_now(drill.now + MINUTE)
    drill.run(c.Answer("isolate", "wait"), IM)
    drill.at_scenario(5 * MINUTE)
    assert drill.skipped() == {"reminder": "condition"}


def test_condition_is_judged_when_the_inject_falls_due(drill: Drill) -> None:
    """Telling legal after the nudge fell due changes nothing about the nudge."""
    drill.at_scenario(HOUR)
    drill.run(c.SendMessage(to=["legal"], body="Now we tell you."), IM)
    assert drill.delivered_ids().count("legal-nudge") == 1


# --------------------------------------------------------------------------- branches


def test_option_triggers_an_inject_after_its_delay(drill: Drill) -> None:
    drill.at_scenario(31 * MINUTE)
    drill.run(c.Answer("vote", "pay"), IM)
    drill.at_scenario(41 * MINUTE - 1)
    assert "paid-followup" not in drill.delivered_ids()
    drill.at_scenario(41 * MINUTE)
    assert drill.delivery("paid-followup").scenario_time == 41 * MINUTE


def test_suppressed_inject_is_skipped_as_suppressed(drill: Drill) -> None:
    drill.tick()
    drill.run(c.Answer("isolate", "now"), IM)
    assert "leak-news" in drill.state.suppressed
    drill.at_scenario(3 * HOUR)
    assert "leak-news" not in drill.delivered_ids()
    skip = [e for e in drill.of(EventType.inject_skipped) if e.data["inject_id"] == "leak-news"]
    assert len(skip) == 1
    assert skip[0].data["reason"] == "suppressed"
    assert skip[0].scenario_time == 3 * HOUR


def test_not_suppressed_when_the_other_option_is_taken(drill: Drill) -> None:
    drill.tick()
    drill.run(c.Answer("isolate", "wait"), IM)
    drill.at_scenario(3 * HOUR)
    assert drill.delivery("leak-news").data["to"] == ["communications"]


def test_ends_drill_option(short_drill: Drill) -> None:
    short_drill.at_scenario(21 * MINUTE)
    events = short_drill.run(c.Answer("escalate", "no"), as_participant("soc1"))
    assert [e.type for e in events] == [EventType.decision_answered, EventType.drill_ended]
    assert short_drill.state.status is Status.ended
    assert short_drill.state.end_reason == "option escalate.no"
    assert short_drill.tick(short_drill.now + HOUR) == []


def test_scenario_end_time(drill: Drill) -> None:
    drill.at_scenario(10 * HOUR - 1)
    assert drill.state.status is Status.running
    events = drill.at_scenario(10 * HOUR)
    assert [e.type for e in events] == [EventType.drill_ended]
    assert events[0].scenario_time == 10 * HOUR
    assert drill.state.end_reason == "the scenario's time is up"


# --------------------------------------------------------------------------- manual injects


def test_facilitator_sends_a_manual_inject(drill: Drill) -> None:
    drill.advance(2 * MINUTE)
    events = drill.run(
        c.ManualInject(
            title=" Phone call ",
            body="The CEO is on the line.",
            to=["executive", "legal"],
            channel=Channel.phone,
            severity=Severity.high,
            sender="CEO",
        )
    )
    assert [e.type for e in events] == [EventType.inject_delivered]
    data = events[0].data
    assert data["manual"] is True
    assert data["inject_id"] is None
    assert data["title"] == "Phone call"
    assert data["to"] == ["executive", "legal"]
    assert data["channel"] == "phone"
    assert data["severity"] == "high"
    assert data["sender"] == "CEO"
    assert events[0].scenario_time == pytest.approx(2 * MINUTE)
    assert drill.state.delivered == {"alert": drill.delivery("alert").seq}


def test_manual_inject_to_all_and_to_an_unavailable_role(drill: Drill) -> None:
    drill.at_scenario(40 * MINUTE)  # legal is now unavailable; the executive acts
    data = drill.run(c.ManualInject(title="Update", body="News.", to=["legal"]))[0].data
    assert data["recipients"] == ["executive"]
    data = drill.run(c.ManualInject(title="Update", body="News.", to=["all"]))[0].data
    assert data["to"] == drill.state.roles


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (c.ManualInject(title="T", body="B", to=["ciso"]), Code.unknown_role),
        (c.ManualInject(title="T", body="B", to=[]), Code.unknown_role),
        (c.ManualInject(title=" ", body="B", to=["legal"]), Code.invalid_input),
        (c.ManualInject(title="T", body="", to=["legal"]), Code.invalid_input),
        (
            c.ManualInject(title="T", body="x" * (c.MAX_MESSAGE_CHARS + 1), to=["legal"]),
            Code.invalid_input,
        ),
    ],
)
def test_manual_inject_refusals(drill: Drill, command: c.ManualInject, code: Code) -> None:
    assert drill.refuse(command) is code


def test_manual_inject_needs_a_started_drill(lobby: Drill) -> None:
    command = c.ManualInject(title="T", body="B", to=["legal"])
    assert lobby.refuse(command) is Code.drill_not_started


def test_only_the_facilitator_sends_manual_injects(drill: Drill) -> None:
    command = c.ManualInject(title="T", body="B", to=["legal"])
    assert drill.refuse(command, IM) is Code.not_permitted
    assert drill.refuse(command, as_participant("obs1")) is Code.not_permitted
