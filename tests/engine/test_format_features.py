"""Format features authors asked for: "sent by a time" conditions, a list in `to`, an
option that is also a message, a role unavailable from the start. Each is played on the
real engine (decide/apply/due) with a fake clock, through the real YAML loader."""

from __future__ import annotations

from functools import cache

from app.engine import commands as c
from app.engine.errors import Code
from app.engine.events import EventType
from app.engine.scenario import Scenario
from app.realtime.visibility import FACILITATOR_VIEW, Viewer, visible

from .harness import HOUR, MINUTE, Drill, as_participant, load, picked

NEWSROOM = """\
id: newsroom
title: The staff memo
summary: A leak; the press calls if the staff memo is late, the regulator wants to hear.
duration: 1h
variables:
  regulator_name:
    default: Information Commissioner
clock:
  start: 2026-03-02T08:40:00
  end: 4h
roles:
  incident_manager: {}
  communications: {}
  legal: {}
  hr: {}
parties:
  staff: {name: All staff, kind: staff}
  union: {name: The union, kind: employee_representatives}
  press: {name: The Daily, kind: press}
  regulator: {name: "{{regulator_name}}", kind: regulator}
  police: {name: City police, kind: law_enforcement}
objectives:
  comms: {title: Communicate, phase: post_incident}
injects:
  - id: alert
    title: Data on a forum
    body: Our HR export is on a forum.
    to: [incident_manager, legal]
    at: 0m
    opens: notify
  - id: journalist
    title: A journalist calls
    body: Your staff say they have heard nothing. Comment?
    to: [communications]
    at: 1h50m
    when: {not: {sent: {to: staff, by: 1h20m}}}
  - id: thanks
    title: Staff thank you for the early word
    body: The early memo calmed the floor.
    to: [hr]
    at: 1h50m
    when: {sent: {from: [hr, communications], to: [staff, union], by: 1h20m}}
  - id: close
    title: The end
    body: That is the drill.
    to: [all]
    at: 3h
    ends_drill: true
decisions:
  - id: notify
    prompt: Notify the {{regulator_name}} now?
    to: [legal]
    time_limit: 30m
    default: now
    options:
      - id: now
        label: Notify the {{regulator_name}} now
        sends:
          to: [regulator]
          subject: Personal data breach notification to the {{regulator_name}}
      - id: police
        label: Report it to the police instead
        description: They take the forum down.
        sends: {to: [police]}
      - id: later
        label: Wait for the forensic report
expectations:
  - id: tell-regulator
    title: Tell the {{regulator_name}} within the hour
    from: [legal]
    to: regulator
    confused_with: [police]
    within: 1h
    points: 10
    objective: comms
  - id: police-report
    title: File the police report within 30 minutes of deciding to
    to: police
    after: {option: notify.police}
    within: 30m
    objective: comms
"""

AWAY = """\
id: away
title: The incident manager is on a plane
summary: The incident manager is unreachable all drill; the executive acts for them.
duration: 1h
clock:
  start: 2026-03-02T08:40:00
  end: 2h
roles:
  incident_manager:
    backup: executive
    unavailable: true
  executive: {}
  legal: {}
objectives:
  lead: {title: Lead the response, phase: detection_analysis}
injects:
  - id: alert
    title: Ransom note
    body: Files are encrypted.
    to: [incident_manager]
    at: 0m
    opens: convene
  - id: landed
    title: The incident manager has landed
    body: They are back online.
    to: [incident_manager]
    at: 1h
    available: [incident_manager]
decisions:
  - id: convene
    prompt: Convene the crisis team?
    to: [incident_manager]
    time_limit: 20m
    default: wait
    options:
      - id: convene
        label: Convene now
        score: {lead: 10}
      - id: wait
        label: Wait
"""


@cache
def newsroom() -> Scenario:
    return load(NEWSROOM, "newsroom.yaml")


@cache
def away() -> Scenario:
    return load(AWAY, "away.yaml")


def _newsroom_drill() -> Drill:
    drill = Drill(newsroom()).create()
    for participant_id, role in (
        ("im", "incident_manager"),
        ("comms", "communications"),
        ("lawyer", "legal"),
        ("people", "hr"),
    ):
        drill.join(participant_id, role)
    drill.start().tick()  # the alert at 0m puts the decision to legal
    return drill


def _send_at(drill: Drill, seconds: float, sender: str, to: list[str]) -> None:
    drill.at_scenario(seconds)
    drill.run(
        c.SendMessage(to=to, body="Update on the leak.", subject="The leak"),
        as_participant(sender),
    )


def _answer(drill: Drill, option: str, participant: str = "lawyer") -> None:
    drill.run(c.Answer("notify", option), as_participant(participant))


# --------------------------------------------------------------------------- sent by a time


def test_a_memo_sent_before_the_time_keeps_the_journalist_away() -> None:
    drill = _newsroom_drill()
    _answer(drill, "later")
    _send_at(drill, 1 * HOUR, "people", ["staff"])
    drill.at_scenario(2 * HOUR)
    assert drill.skipped() == {"journalist": "condition"}
    assert "thanks" in drill.delivered_ids()


def test_a_memo_sent_after_the_time_does_not_count_as_sent_by_it() -> None:
    """At 10:30 the memo has been sent (a plain `sent:` would hold), but not by 10:00."""
    drill = _newsroom_drill()
    _answer(drill, "later")
    _send_at(drill, 1 * HOUR + 30 * MINUTE, "people", ["staff"])
    drill.at_scenario(2 * HOUR)
    assert "journalist" in drill.delivered_ids()
    assert drill.skipped() == {"thanks": "condition"}


def test_the_first_time_counts_and_a_later_message_does_not_move_it() -> None:
    drill = _newsroom_drill()
    _answer(drill, "later")
    _send_at(drill, 10 * MINUTE, "people", ["staff"])
    _send_at(drill, 1 * HOUR + 30 * MINUTE, "people", ["staff"])
    assert drill.state.first_sent[("hr", "staff")] == 10 * MINUTE
    drill.at_scenario(2 * HOUR)
    assert drill.skipped() == {"journalist": "condition"}
    assert drill.replayed() == drill.state


def test_no_memo_at_all_brings_the_journalist() -> None:
    drill = _newsroom_drill()
    _answer(drill, "later")
    drill.at_scenario(2 * HOUR)
    assert "journalist" in drill.delivered_ids()
    assert drill.skipped() == {"thanks": "condition"}


def test_a_list_in_to_matches_any_of_its_recipients() -> None:
    """`to: [staff, union]`: a word to the union alone is enough; from the wrong role, not."""
    drill = _newsroom_drill()
    _answer(drill, "later")
    _send_at(drill, 20 * MINUTE, "lawyer", ["union"])  # legal is not in `from`
    _send_at(drill, 30 * MINUTE, "comms", ["union"])
    drill.at_scenario(2 * HOUR)
    assert "thanks" in drill.delivered_ids()
    assert "journalist" in drill.delivered_ids()  # the staff themselves were never told


# --------------------------------------------------------------------------- options that send


def test_an_option_that_sends_meets_the_regulator_deadline_on_time() -> None:
    drill = _newsroom_drill()
    drill.at_scenario(10 * MINUTE)
    produced = drill.run(c.Answer("notify", "now"), as_participant("lawyer"))
    assert [e.type for e in produced[:3]] == [
        EventType.decision_answered,
        EventType.message_sent,
        EventType.expectation_met,
    ]
    message = produced[1]
    assert picked(message.data, "from_role", "to", "subject", "via_option", "blanks") == {
        "from_role": "legal",
        "to": ["regulator"],
        "subject": "Personal data breach notification to the Information Commissioner",
        "via_option": "notify.now",
        "blanks": [],
    }
    assert "{{" not in message.data["body"]
    met = produced[2]
    assert picked(met.data, "expectation_id", "status", "points", "message_seq") == {
        "expectation_id": "tell-regulator",
        "status": "on_time",
        "points": 10,
        "message_seq": message.seq,
    }
    assert drill.replayed() == drill.state


def test_the_facilitator_answering_for_a_role_sends_from_that_role() -> None:
    drill = _newsroom_drill()
    drill.at_scenario(5 * MINUTE)
    produced = drill.run(c.Answer("notify", "now", role="legal"))
    message = next(e for e in produced if e.type is EventType.message_sent)
    assert message.data["from_role"] == "legal"
    assert drill.state.expectations["tell-regulator"].status == "on_time"


def test_a_timeout_to_a_sending_default_sends_nothing() -> None:
    """Not deciding is not notifying: the default `now` drives the story, but the
    regulator was never told, and the expectation is missed."""
    drill = _newsroom_drill()
    drill.at_scenario(2 * HOUR + 5 * MINUTE)
    assert [e.data["option_id"] for e in drill.of(EventType.decision_timed_out)] == ["now"]
    assert drill.of(EventType.message_sent) == []
    assert drill.state.expectations["tell-regulator"].status == "missed"


def test_an_option_that_sends_meets_the_expectation_it_arms_itself() -> None:
    """`after: {option: notify.police}` starts the countdown with the very answer whose
    message meets it: the message follows the answer, so it is on time."""
    drill = _newsroom_drill()
    drill.at_scenario(12 * MINUTE)
    produced = drill.run(c.Answer("notify", "police"), as_participant("lawyer"))
    message = next(e for e in produced if e.type is EventType.message_sent)
    assert message.data["subject"] == "Report it to the police instead"
    assert message.data["body"] == "Report it to the police instead\n\nThey take the forum down."
    met = [e.data["expectation_id"] for e in produced if e.type is EventType.expectation_met]
    assert met == ["police-report"]
    assert drill.state.expectations["police-report"].status == "on_time"
    assert drill.state.expectations["tell-regulator"].status == "pending"
    assert drill.replayed() == drill.state


def test_an_option_without_sends_sends_nothing() -> None:
    drill = _newsroom_drill()
    produced = drill.run(c.Answer("notify", "later"), as_participant("lawyer"))
    assert [e.type for e in produced] == [EventType.decision_answered]


# --------------------------------------------------------------------------- away from the start


def test_a_role_unavailable_from_the_start_has_its_decision_put_to_the_backup() -> None:
    drill = Drill(away()).create()
    created = drill.events
    assert [e.type for e in created] == [EventType.drill_created, EventType.role_unavailable]
    assert picked(created[1].data, "role", "backup", "from_start") == {
        "role": "incident_manager",
        "backup": "executive",
        "from_start": True,
    }
    drill.join("im", "incident_manager").join("boss", "executive").start()
    drill.at_scenario(1 * MINUTE)
    alert = drill.delivery("alert")
    assert alert.data["recipients"] == ["executive"]
    opened = drill.of(EventType.decision_opened)[0]
    assert opened.data["roles"] == ["executive"]
    assert drill.refuse(c.Answer("convene", "convene"), as_participant("im")) is (
        Code.role_unavailable
    )
    drill.run(c.Answer("convene", "convene"), as_participant("boss"))
    assert drill.state.decisions["convene"].answers == (("executive", "convene"),)
    assert drill.replayed() == drill.state


def test_the_role_is_back_when_an_inject_says_so() -> None:
    drill = Drill(away()).create().join("im", "incident_manager").start()
    assert "incident_manager" in drill.state.unavailable
    drill.at_scenario(1 * HOUR + MINUTE)
    assert "incident_manager" not in drill.state.unavailable


def test_a_drill_without_the_backup_is_refused_with_the_reason() -> None:
    drill = Drill(away())
    code = drill.refuse(c.CreateDrill("d1", "Short-handed", roles=["incident_manager", "legal"]))
    assert code is Code.unknown_role


def test_a_message_sent_by_an_option_is_seen_like_any_message() -> None:
    """The sender's screen shows it; a role it did not concern does not see it."""
    drill = _newsroom_drill()
    produced = drill.run(c.Answer("notify", "now"), as_participant("lawyer"))
    message = next(e for e in produced if e.type is EventType.message_sent)
    legal = Viewer("participant", role="legal", participant_id="lawyer")
    people = Viewer("participant", role="hr", participant_id="people")
    shown = visible(message, legal, scores_released=False)
    assert shown is not None and shown["data"]["via_option"] == "notify.now"
    assert visible(message, people, scores_released=False) is None
    assert visible(message, FACILITATOR_VIEW, scores_released=False) is not None
