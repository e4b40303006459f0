"""The scoring rules a team meets in its first real drill, each on a drill scripted to show it:
a message with template blanks meets nothing, a backup owes what the role it covers owed,
a role nobody played has no percentage, a trade-off's best answer still scores 100 %."""

from __future__ import annotations

import pytest

from app.engine import commands as c
from app.engine.blanks import blanks_in
from app.engine.events import Event, EventType
from app.engine.scoring import (
    CommStatus,
    Dimension,
    Scorecard,
    played_roles,
    scorecard,
    stakes,
)
from app.engine.timeline import timeline

from .harness import MINUTE, Drill, as_participant, load

TRUTH = """\
id: truth-test
title: Truth test
summary: A night with the incident manager away, a drawer statement with gaps, a trade-off.
duration: 1h
variables:
  regulator: {default: the Information Commissioner}
clock: {start: 2026-05-01T22:00:00, end: 4h}
roles:
  incident_manager: {backup: executive}
  executive: {}
  legal: {}
parties:
  regulator: {name: "{{regulator}}", kind: regulator}
  board: {name: The board, kind: board}
  press: {name: The Ledger, kind: press}
  customers: {name: Customers, kind: customers}
objectives:
  contain: {title: Contain, phase: containment}
  scope: {title: Scope, phase: detection_analysis}
  notify: {title: Notify, phase: post_incident}
facts:
  breach: Personal data left the building
injects:
  - id: away
    title: The incident manager is on a plane
    body: Unreachable until morning.
    to: [all]
    at: 0m
    unavailable: [incident_manager]
  - id: alert
    title: EDR alert
    body: Exfiltration from DB01.
    channel: edr
    severity: high
    to: [executive, legal]
    at: 10m
    opens: contain-now
    facts: [breach]
decisions:
  - id: contain-now
    prompt: Cut DB01 off now, or watch it to learn the scope?
    to: [executive]
    time_limit: 20m
    default: watch
    options:
      - {id: cut, label: Cut it off, score: {contain: 10}}
      - {id: watch, label: Watch for an hour, score: {contain: -5, scope: 3}}
expectations:
  - id: brief-board
    title: Brief the board within 30 minutes
    from: [incident_manager]
    to: board
    after: {inject: alert}
    within: 30m
    points: 10
    objective: notify
  - id: tell-regulator
    title: Tell {{regulator}} within an hour
    from: [legal]
    to: regulator
    confused_with: [press]
    after: {inject: alert}
    within: 1h
    grace: 0m
    points: 10
    objective: notify
  - id: tell-customers
    title: Tell customers within an hour
    from: [legal]
    to: customers
    confused_with: [press]
    after: {inject: alert}
    within: 1h
    grace: 0m
    points: 5
    objective: notify
statements:
  - id: regulator-notice
    title: Initial notice to the regulator
    body: "Awareness: [date, time]. Records affected: [number]. Contact: the DPO."
    roles: [legal]
    to: [regulator]
"""

LEGAL = as_participant("legal1")
EXEC = as_participant("exec1")


@pytest.fixture
def drill() -> Drill:
    return Drill(load(TRUTH)).create().join("legal1", "legal").join("exec1", "executive").start()


def card(drill: Drill) -> Scorecard:
    return scorecard(drill.scenario, drill.events)


def comm(sc: Scorecard, expectation_id: str) -> CommStatus:
    return next(r.status for r in sc.communications if r.expectation_id == expectation_id)


def test_blanks_are_found_in_every_template_form() -> None:
    assert blanks_in("Awareness: [date, time]; records: {{count}}; contact: ____") == [
        "[date, time]",
        "{{count}}",
        "____",
    ]
    # References and links are not gaps; a statement's own placeholders are, whatever form.
    assert blanks_in("Ticket [INC-4411], see [the notice](https://example.org).") == []
    assert blanks_in("Records: [42k]", "Records: [42k]") == ["[42k]"]


def test_a_drawer_statement_sent_with_its_blanks_meets_nothing(drill: Drill) -> None:
    drill.at_scenario(15 * MINUTE)
    statement = next(s for s in drill.scenario.statements if s.id == "regulator-notice")
    sent = drill.run(
        c.SendMessage(["regulator"], statement.body, "Initial notice", "regulator-notice"), LEGAL
    )
    assert [e.type for e in sent] == [EventType.message_sent]  # no expectation_met
    assert sent[0].data["blanks"] == ["[date, time]", "[number]"]
    drill.at_scenario(75 * MINUTE)
    sc = card(drill)
    assert comm(sc, "tell-regulator") is CommStatus.sent_with_blanks
    (item,) = [i for i in sc.items if i.ref == "tell-regulator"]
    assert (item.points, item.max_points, item.role) == (0.0, 10.0, "legal")
    assert item.detail == "sent with blanks still in ([date, time], [number]): not ready to go"
    lines = [e.text for e in timeline(drill.scenario, drill.events)]
    assert any("blanks left in: [date, time], [number]" in line for line in lines)


def test_the_filled_in_statement_meets_the_deadline_after_a_draft_with_blanks(
    drill: Drill,
) -> None:
    drill.at_scenario(15 * MINUTE)
    drill.run(c.SendMessage(["regulator"], "Awareness: [date, time].", "Draft"), LEGAL)
    drill.at_scenario(20 * MINUTE)
    filled = drill.run(
        c.SendMessage(["regulator"], "Awareness: 1 May 22:10. Records: 41,200.", "Notice"), LEGAL
    )
    assert filled[-1].type is EventType.expectation_met
    assert comm(card(drill), "tell-regulator") is CommStatus.on_time


def test_what_an_unavailable_role_owed_is_charged_to_the_backup_acting_for_it(
    drill: Drill,
) -> None:
    drill.at_scenario(75 * MINUTE)  # the board was never briefed, not even late
    sc = card(drill)
    result = next(r for r in sc.communications if r.expectation_id == "brief-board")
    assert result.status is CommStatus.missed
    assert result.owed_by == ["executive"]
    (item,) = [i for i in sc.items if i.ref == "brief-board"]
    assert (item.role, item.points, item.max_points) == ("executive", 0.0, 10.0)
    assert sc.roles["incident_manager"].max_points == 0  # away all night: owes nothing


def test_a_role_nobody_played_has_no_percentage_but_the_team_still_owes_it() -> None:
    drill = Drill(load(TRUTH)).create().join("exec1", "executive").start()
    drill.at_scenario(75 * MINUTE)
    sc = card(drill)
    legal = sc.roles["legal"]
    assert not legal.played and legal.percent is None
    assert legal.max_points == 15  # the regulator's and the customers' notices were legal's
    assert sc.roles["executive"].played and sc.roles["executive"].percent == 0.0
    regulator = [i for i in sc.items if i.ref == "tell-regulator"]
    assert sum(i.max_points for i in regulator) == 10
    assert sc.dimensions[Dimension.communication.value].max_points == 25


def test_the_best_answer_of_a_trade_off_scores_in_full(drill: Drill) -> None:
    spec = drill.scenario.decision("contain-now")
    _cut, watch = spec.options
    assert stakes(spec) == {"contain": 10.0, "scope": 0.0}
    # Watching learns scope the best answer does not: what it earns there was at stake.
    assert stakes(spec, watch) == {"contain": 10.0, "scope": 3.0}
    drill.at_scenario(12 * MINUTE)
    drill.run(c.Answer("contain-now", "cut"), EXEC)
    sc = card(drill)
    decision_items = [i for i in sc.items if i.dimension is Dimension.decisions]
    assert sum(i.points for i in decision_items) == sum(i.max_points for i in decision_items)
    assert sc.objectives["contain"].percent == 100.0
    assert sc.objectives["scope"].percent is None  # nothing was at stake there


def test_a_timeout_earns_no_points_and_says_so(drill: Drill) -> None:
    drill.at_scenario(31 * MINUTE)
    sc = card(drill)
    contain = next(i for i in sc.items if i.ref == "contain-now" and i.objective == "contain")
    scope = next(i for i in sc.items if i.ref == "contain-now" and i.objective == "scope")
    assert (contain.points, contain.max_points) == (-5.0, 10.0)  # not deciding is a decision
    assert (scope.points, scope.max_points) == (0.0, 0.0)  # the default's +3 is not earned
    assert contain.detail == (
        "Not answered: default applied (Watch for an hour) when its 20 min ran out"
    )
    assert drill.state.points == {"contain": -5.0, "scope": 0.0}
    assert metric_at(sc, "containment_decision") is None
    (answer,) = next(d for d in sc.decisions if d.decision_id == "contain-now").answers
    assert answer.timed_out and answer.option_id == "watch"
    assert (answer.participant, answer.answered_by_role, answer.rationale) == (None, None, "")


def test_names_and_labels_are_filled_in(drill: Drill) -> None:
    drill.at_scenario(75 * MINUTE)
    sc = card(drill)
    result = next(r for r in sc.communications if r.expectation_id == "tell-regulator")
    assert result.title == "Tell the Information Commissioner within an hour"
    # The score items the report lists carry the same filled-in words.
    (item,) = [i for i in sc.items if i.ref == "tell-regulator"]
    assert item.title == "Tell the Information Commissioner within an hour"
    assert "{{" not in item.detail
    assert result.to_name == "the Information Commissioner"
    labels = [u.label for u in sc.first_updates]
    assert labels == [
        "First update to executives",
        "First notice to the Information Commissioner",
        "First update to The Ledger",
        "First update to Customers",
    ]


def test_one_message_to_the_wrong_party_is_charged_to_one_expectation(drill: Drill) -> None:
    drill.at_scenario(20 * MINUTE)
    drill.run(c.SendMessage(["press"], "We are looking into it.", "Statement"), LEGAL)
    drill.at_scenario(75 * MINUTE)
    sc = card(drill)
    assert comm(sc, "tell-regulator") is CommStatus.wrong_party
    assert comm(sc, "tell-customers") is CommStatus.missed


def metric_at(sc: Scorecard, key: str) -> float | None:
    return next(m.at for m in sc.metrics if m.key == key)


def _event(seq: int, kind: EventType, **data: object) -> Event:
    return Event(seq, kind, 0.0, 0.0, "facilitator", dict(data))


def test_a_role_counts_as_played_by_who_acted_as_it_not_by_what_an_option_sent() -> None:
    """Joined as it, answered as it (or as its backup, which plays the backup's role), or
    wrote as it: played. A message an option sent in its name: not."""
    events = [
        _event(1, EventType.participant_joined, participant_id="p1", name="P", role="legal"),
        _event(2, EventType.participant_joined, participant_id="o1", name="O", role=None),
        _event(3, EventType.decision_answered, role="executive", answered_by_role=None),
        _event(4, EventType.decision_answered, role="incident_manager", answered_by_role="hr"),
        _event(5, EventType.message_sent, from_role="comms", via_option=None),
        _event(6, EventType.message_sent, from_role="it", via_option="pay.yes"),
    ]
    assert played_roles(events) == {"legal", "executive", "hr", "comms"}
