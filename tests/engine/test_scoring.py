"""The scorecard: a pure fold of a drill's log into points, checked figure by figure.

Drills are scripted through the engine on the fake clock, so every number below is known
in advance: decision points per objective and role, communication timing (on time, late,
missed, wrong party, not due, pending), totals per objective, role, dimension and overall,
the first updates per audience, the response metrics, and that every item points at the
events that earned or lost its points.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.authoring.loader import load_scenario_file
from app.engine import commands as c
from app.engine.errors import DomainError
from app.engine.events import Event, EventType
from app.engine.scenario import Channel, Scenario, Severity
from app.engine.scoring import (
    CommStatus,
    CommunicationResult,
    DecisionResult,
    Dimension,
    Metric,
    RoleTotal,
    Scorecard,
    ScoreItem,
    Total,
    audience_of,
    first_alert,
    scorecard,
    split,
    total,
)
from app.engine.simulate import play
from tests.conftest import SCENARIOS

from .harness import MINUTE, Drill, as_participant, load
from .scenarios import ransomware, short

SCORING = """\
id: scoring-test
title: Scoring test
summary: Every audience, a containment objective, a per-role decision, a floor at zero.
duration: 1h
clock:
  start: 2026-05-01T09:00:00
  end: 8h
roles:
  incident_manager: {}
  soc_analyst: {}
  legal: {}
  communications: {}
  executive: {}
parties:
  regulator: {name: Data protection authority, kind: regulator}
  police: {name: Police, kind: law_enforcement}
  board: {name: The board, kind: board}
  staff: {name: All staff, kind: staff}
  customers: {name: Customers, kind: customers}
objectives:
  detect: {title: Detect, phase: detection_analysis}
  contain: {title: Contain, phase: containment}
  notify: {title: Notify, phase: post_incident}
injects:
  - id: memo
    title: Routine memo
    body: The patch window is on Sunday.
    to: [all]
    at: 0m
  - id: edr
    title: EDR alert
    body: Ransomware behaviour on FS01.
    channel: edr
    severity: high
    to: [soc_analyst]
    at: 10m
    opens: triage
  - id: breach
    title: Data left the building
    body: Customer data was copied out.
    to: [all]
    at: 30m
    opens: disclose
  - id: ransom-note
    title: Ransom note
    body: Pay or else.
    to: [executive]
    at: 1h
    opens: ransom
decisions:
  - id: triage
    prompt: |
      Isolate FS01?
      It holds the customer share.
    to: [soc_analyst, incident_manager]
    time_limit: 10m
    default: wait
    options:
      - id: isolate
        label: Isolate
        score: {contain: 4, detect: 2}
      - id: partial
        label: Block the share only
        score: {contain: 1}
      - id: wait
        label: Wait
        score: {contain: -2}
  - id: disclose
    prompt: Notify the regulator now?
    to: [legal, executive]
    per_role: true
    time_limit: 20m
    default: hold
    options:
      - id: notify
        label: Notify
        score: {notify: 3}
      - id: hold
        label: Hold
        score: {notify: -1}
  - id: ransom
    prompt: Pay the ransom?
    to: [executive]
    time_limit: 10m
    default: refuse
    options:
      - id: pay
        label: Pay
        score: {contain: -3}
      - id: refuse
        label: Refuse
        score: {contain: -1}
expectations:
  - id: tell-regulator
    title: Tell the regulator
    from: [legal, executive]
    to: regulator
    confused_with: [police]
    after: {inject: breach}
    within: 30m
    grace: 30m
    points: 10
    objective: notify
  - id: tell-board
    title: Brief the board
    to: board
    confused_with: [staff]
    after: {inject: edr}
    within: 1h
    points: 6
    objective: notify
"""
"""Its timeline, in scenario time:

- 0m `memo` (email, info: not an alert).
- 10m `edr` (EDR, high: the first alert) opens `triage` (SOC analyst and incident manager,
  10m, default `wait`); `tell-board` starts counting (anyone, 1h, grace 1h, 6 points).
- 30m `breach` opens `disclose` (per role: legal and executive, 20m, default `hold`);
  `tell-regulator` starts counting (legal or executive, 30m + 30m grace, 10 points).
- 1h `ransom-note` opens `ransom` (executive, 10m): both options lose points (best is 0).
"""

IM = as_participant("im1")
SOC = as_participant("soc1")
LEGAL = as_participant("legal1")
COMMS = as_participant("comms1")
EXEC = as_participant("exec1")
OBSERVER = as_participant("obs1")

PLAYERS = (
    ("im1", "incident_manager"),
    ("soc1", "soc_analyst"),
    ("legal1", "legal"),
    ("comms1", "communications"),
    ("exec1", "executive"),
    ("obs1", None),
)

EDR_AT = 10 * MINUTE
BREACH_AT = 30 * MINUTE


@cache
def scoring() -> Scenario:
    return load(SCORING, "scoring.yaml")


@pytest.fixture
def sdrill() -> Drill:
    """The scoring drill, everyone joined, clock started (scenario time 0)."""
    drill = Drill(scoring()).create()
    for participant_id, role in PLAYERS:
        drill.join(participant_id, role)
    return drill.start()


def card(drill: Drill) -> Scorecard:
    return scorecard(drill.scenario, drill.events)


def rows(sc: Scorecard, ref: str | None = None) -> set[tuple[str, str | None, float, float, str]]:
    """(objective, role, points, max_points, status) of the items, for one ref if given."""
    return {
        (i.objective or "", i.role, i.points, i.max_points, i.status)
        for i in sc.items
        if ref is None or i.ref == ref
    }


def decision(sc: Scorecard, decision_id: str) -> DecisionResult:
    found = [d for d in sc.decisions if d.decision_id == decision_id]
    assert len(found) == 1
    return found[0]


def comm(sc: Scorecard, expectation_id: str) -> CommunicationResult:
    found = [x for x in sc.communications if x.expectation_id == expectation_id]
    assert len(found) == 1
    return found[0]


def items_of(sc: Scorecard, ref: str) -> list[ScoreItem]:
    return [i for i in sc.items if i.ref == ref]


def metric(sc: Scorecard, key: str) -> Metric:
    return next(m for m in sc.metrics if m.key == key)


def send(drill: Drill, at: float, to: list[str], actor: c.Actor) -> Event:
    """Send a message at scenario time `at` (running `due` up to then); the message event."""
    drill.at_scenario(at)
    produced = drill.run(c.SendMessage(to=to, body="Update."), actor)
    assert produced[0].type is EventType.message_sent
    return produced[0]


def answer(drill: Drill, at: float, decision_id: str, option: str, actor: c.Actor) -> Event:
    drill.at_scenario(at)
    produced = drill.run(c.Answer(decision_id, option), actor)
    assert produced[0].type is EventType.decision_answered
    return produced[0]


def the(drill: Drill, kind: EventType, **data: object) -> Event:
    found = [e for e in drill.of(kind) if all(e.data.get(k) == v for k, v in data.items())]
    assert len(found) == 1, f"{len(found)} {kind} events with {data}"
    return found[0]


def end(drill: Drill, at: float) -> Event:
    drill.at_scenario(at)
    return drill.run(c.EndDrill())[-1]


# --------------------------------------------------------------------------- total()


def _item(points: float, max_points: float) -> ScoreItem:
    return ScoreItem(
        dimension=Dimension.decisions,
        ref="x",
        title="x",
        objective="o",
        role=None,
        points=points,
        max_points=max_points,
        status="answered",
        detail="",
        seqs=[1],
    )


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([], Total(points=0.0, max_points=0.0, percent=None)),
        ([(3, 4)], Total(points=3.0, max_points=4.0, percent=75.0)),
        ([(1, 3)], Total(points=1.0, max_points=3.0, percent=33.3)),
        ([(2, 3)], Total(points=2.0, max_points=3.0, percent=66.7)),
        ([(-2, 4)], Total(points=-2.0, max_points=4.0, percent=0.0)),
        ([(4, 4), (3, 0)], Total(points=7.0, max_points=4.0, percent=100.0)),
        ([(-1, 0)], Total(points=-1.0, max_points=0.0, percent=None)),
        ([(5, 0)], Total(points=5.0, max_points=0.0, percent=None)),
        ([(0.1, 1), (0.2, 1)], Total(points=0.3, max_points=2.0, percent=15.0)),
        ([(6.67, 10), (3.333, 0)], Total(points=10.0, max_points=10.0, percent=100.0)),
        # Below one point of maximum still has a percentage; it is worked out from the
        # rounded figures the reader sees (0.1 of 0.33 is 30.3 %).
        ([(0.5, 0.5)], Total(points=0.5, max_points=0.5, percent=100.0)),
        ([(0.1, 0.3333)], Total(points=0.1, max_points=0.33, percent=30.3)),
    ],
)
def test_total_sums_rounds_and_clamps(pairs: list[tuple[float, float]], expected: Total) -> None:
    assert total(_item(p, m) for p, m in pairs) == expected


# --------------------------------------------------------------------------- decisions


def test_an_answer_earns_the_chosen_options_points_per_objective(sdrill: Drill) -> None:
    answered = answer(sdrill, EDR_AT + 4 * MINUTE, "triage", "isolate", SOC)
    sc = card(sdrill)
    opened = the(sdrill, EventType.decision_opened, decision_id="triage")
    assert rows(sc, "triage") == {
        ("contain", "soc_analyst", 4.0, 4.0, "answered"),
        ("detect", "soc_analyst", 2.0, 2.0, "answered"),
    }
    for item in items_of(sc, "triage"):
        assert item.dimension is Dimension.decisions
        assert item.title == "Isolate FS01?"
        assert item.seqs == [opened.seq, answered.seq]
        assert item.detail == "chose 'Isolate' after 4 min of 10 min"
    result = decision(sc, "triage")
    assert result.roles == ["soc_analyst", "incident_manager"]
    assert result.opened_at == EDR_AT
    assert result.time_limit == 10 * MINUTE
    assert result.closed
    assert result.alternatives == ["Block the share only", "Wait"]
    (only,) = result.answers
    assert only.role == "soc_analyst"
    assert only.answered_by_role == "soc_analyst"
    assert only.participant == "Soc1"
    assert (only.option_id, only.option_label) == ("isolate", "Isolate")
    assert not only.timed_out
    assert only.latency == 4 * MINUTE
    assert only.seq == answered.seq
    assert only.points == {"contain": 4.0, "detect": 2.0}


def test_a_weaker_option_earns_less_and_nothing_for_objectives_it_ignores(sdrill: Drill) -> None:
    answer(sdrill, EDR_AT + 9 * MINUTE, "triage", "partial", IM)
    sc = card(sdrill)
    assert rows(sc, "triage") == {
        ("contain", "incident_manager", 1.0, 4.0, "answered"),
        ("detect", "incident_manager", 0.0, 2.0, "answered"),
    }
    assert decision(sc, "triage").answers[0].latency == 9 * MINUTE
    assert sc.objectives["contain"] == Total(points=1.0, max_points=4.0, percent=25.0)
    assert sc.objectives["detect"] == Total(points=0.0, max_points=2.0, percent=0.0)


def test_the_rationale_and_the_facilitators_answer_are_kept(sdrill: Drill) -> None:
    sdrill.at_scenario(EDR_AT + MINUTE)
    sdrill.run(c.Answer("triage", "isolate", role="incident_manager", rationale=" Stop it. "))
    (only,) = decision(card(sdrill), "triage").answers
    assert only.rationale == "Stop it."
    assert only.participant is None  # recorded by the facilitator, not a participant
    assert only.role == "incident_manager"
    assert only.latency == MINUTE


def test_a_timeout_takes_the_default_shared_evenly_by_the_roles_asked(sdrill: Drill) -> None:
    sdrill.at_scenario(EDR_AT + 10 * MINUTE)
    timed_out = the(sdrill, EventType.decision_timed_out, decision_id="triage")
    opened = the(sdrill, EventType.decision_opened, decision_id="triage")
    sc = card(sdrill)
    assert rows(sc, "triage") == {
        ("contain", "soc_analyst", -1.0, 2.0, "timed_out"),
        ("contain", "incident_manager", -1.0, 2.0, "timed_out"),
        ("detect", "soc_analyst", 0.0, 1.0, "timed_out"),
        ("detect", "incident_manager", 0.0, 1.0, "timed_out"),
    }
    for item in items_of(sc, "triage"):
        assert item.seqs == [opened.seq, timed_out.seq]
        assert item.detail == "Not answered: default applied (Wait) when its 10 min ran out"
    result = decision(sc, "triage")
    assert result.closed
    assert result.alternatives == ["Isolate", "Block the share only"]
    (only,) = result.answers
    assert only.timed_out
    assert only.role == "soc_analyst, incident_manager"
    assert only.answered_by_role is None
    assert only.participant is None
    assert (only.option_id, only.option_label) == ("wait", "Wait")
    assert only.latency == 10 * MINUTE
    assert only.seq == timed_out.seq
    # Shared, the roles' points add up to the option's: -2 of at best 4.
    assert sc.objectives["contain"] == Total(points=-2.0, max_points=4.0, percent=0.0)
    assert sc.roles["soc_analyst"] == RoleTotal(
        points=-1.0, max_points=3.0, percent=0.0, played=True
    )


def test_per_role_decisions_credit_each_role_its_own_answer(sdrill: Drill) -> None:
    first = answer(sdrill, BREACH_AT + 5 * MINUTE, "disclose", "notify", LEGAL)
    second = answer(sdrill, BREACH_AT + 10 * MINUTE, "disclose", "hold", EXEC)
    assert sdrill.of(EventType.decision_closed)  # the last answer closes it
    sc = card(sdrill)
    assert rows(sc, "disclose") == {
        ("notify", "legal", 3.0, 3.0, "answered"),
        ("notify", "executive", -1.0, 3.0, "answered"),
    }
    result = decision(sc, "disclose")
    assert [(a.role, a.option_id, a.latency, a.seq) for a in result.answers] == [
        ("legal", "notify", 5 * MINUTE, first.seq),
        ("executive", "hold", 10 * MINUTE, second.seq),
    ]
    assert result.closed
    assert result.alternatives == []
    assert sc.roles["legal"] == RoleTotal(points=3.0, max_points=3.0, percent=100.0, played=True)
    assert sc.roles["executive"] == RoleTotal(points=-1.0, max_points=3.0, percent=0.0, played=True)


def test_a_per_role_decision_puts_the_silent_roles_down_as_unanswered(sdrill: Drill) -> None:
    answer(sdrill, BREACH_AT + 5 * MINUTE, "disclose", "notify", LEGAL)
    partial = card(sdrill)  # still open: nobody is marked silent yet
    assert rows(partial, "disclose") == {("notify", "legal", 3.0, 3.0, "answered")}
    assert not decision(partial, "disclose").closed

    sdrill.at_scenario(BREACH_AT + 20 * MINUTE)
    closed = the(sdrill, EventType.decision_closed, decision_id="disclose")
    opened = the(sdrill, EventType.decision_opened, decision_id="disclose")
    sc = card(sdrill)
    assert rows(sc, "disclose") == {
        ("notify", "legal", 3.0, 3.0, "answered"),
        ("notify", "executive", 0.0, 3.0, "unanswered"),
    }
    (silent,) = [i for i in items_of(sc, "disclose") if i.status == "unanswered"]
    assert silent.seqs == [opened.seq, closed.seq]
    assert silent.detail == "executive gave no answer within 20 min"
    assert decision(sc, "disclose").closed
    assert sc.objectives["notify"].max_points == 6.0


def test_a_per_role_decision_nobody_answers_times_out_shared(sdrill: Drill) -> None:
    sdrill.at_scenario(BREACH_AT + 20 * MINUTE)
    sc = card(sdrill)
    assert rows(sc, "disclose") == {
        ("notify", "legal", -0.5, 1.5, "timed_out"),
        ("notify", "executive", -0.5, 1.5, "timed_out"),
    }
    assert decision(sc, "disclose").answers[0].role == "legal, executive"


def test_the_best_score_is_floored_at_zero(sdrill: Drill) -> None:
    answer(sdrill, 62 * MINUTE, "ransom", "pay", EXEC)
    sc = card(sdrill)
    assert rows(sc, "ransom") == {("contain", "executive", -3.0, 0.0, "answered")}
    # With triage timed out (wait: -2 of 4), the objective is below zero: 0 percent.
    assert sc.objectives["contain"] == Total(points=-5.0, max_points=4.0, percent=0.0)
    assert sc.roles["executive"].max_points == 1.5  # disclose shared; ransom puts 0 at stake


def test_the_better_of_two_bad_options_still_scores_below_zero(sdrill: Drill) -> None:
    sdrill.at_scenario(70 * MINUTE)  # ransom times out: refuse, -1
    assert rows(card(sdrill), "ransom") == {("contain", "executive", -1.0, 0.0, "timed_out")}


def test_a_decision_still_open_at_the_end_scores_nothing(sdrill: Drill) -> None:
    end(sdrill, EDR_AT + 5 * MINUTE)
    sc = card(sdrill)
    assert rows(sc, "triage") == set()
    result = decision(sc, "triage")
    assert result.answers == []
    assert not result.closed
    assert result.alternatives == ["Isolate", "Block the share only", "Wait"]
    assert [d.decision_id for d in sc.decisions] == ["triage"]  # only what was opened


def test_a_per_role_decision_cut_short_by_the_end_marks_nobody_silent(sdrill: Drill) -> None:
    answer(sdrill, BREACH_AT + MINUTE, "disclose", "hold", EXEC)
    end(sdrill, BREACH_AT + 2 * MINUTE)
    sc = card(sdrill)
    assert rows(sc, "disclose") == {("notify", "executive", -1.0, 3.0, "answered")}
    assert not decision(sc, "disclose").closed


def test_a_backup_answering_is_credited_to_the_role_it_acts_for(drill: Drill) -> None:
    """ransomware(): legal is away from 40m; the executive (legal's backup) gets `disclose`."""
    drill.at_scenario(45 * MINUTE)
    drill.run(c.Answer("disclose", "notify"), as_participant("exec1"))
    sc = scorecard(drill.scenario, drill.events)
    assert rows(sc, "disclose") == {("comms", "executive", 5.0, 5.0, "answered")}
    (only,) = decision(sc, "disclose").answers
    assert (only.role, only.answered_by_role, only.participant) == (
        "executive",
        "executive",
        "Exec1",
    )
    assert only.latency == 5 * MINUTE


def test_decisions_without_scores_give_no_items(drill: Drill) -> None:
    """ransomware(): `vote` scores nothing; it is listed, but puts no points at stake."""
    drill.at_scenario(35 * MINUTE)
    drill.run(c.Answer("vote", "refuse"), as_participant("comms1"))
    drill.at_scenario(50 * MINUTE)
    sc = scorecard(drill.scenario, drill.events)
    assert rows(sc, "vote") == set()
    assert decision(sc, "vote").closed


# --------------------------------------------------------------------------- communication


def test_a_message_on_time_earns_full_points(sdrill: Drill) -> None:
    message = send(sdrill, BREACH_AT + 15 * MINUTE, ["regulator"], LEGAL)
    met = the(sdrill, EventType.expectation_met, expectation_id="tell-regulator")
    sc = card(sdrill)
    result = comm(sc, "tell-regulator")
    assert result.status is CommStatus.on_time
    assert (result.points, result.max_points) == (10.0, 10.0)
    assert (result.armed_at, result.deadline, result.closes) == (
        BREACH_AT,
        BREACH_AT + 30 * MINUTE,
        BREACH_AT + 60 * MINUTE,
    )
    assert result.sent_at == BREACH_AT + 15 * MINUTE
    assert result.delta == -15 * MINUTE
    assert result.message_seq == message.seq
    assert result.sent_by_role == "legal"
    assert (result.to, result.to_name) == ("regulator", "Data protection authority")
    assert result.from_roles == ["legal", "executive"]
    assert result.objective == "notify"
    (item,) = items_of(sc, "tell-regulator")
    assert item.dimension is Dimension.communication
    assert (item.objective, item.role, item.points, item.max_points, item.status) == (
        "notify",
        "legal",
        10.0,
        10.0,
        "on_time",
    )
    assert item.seqs == [message.seq, met.seq]
    assert item.detail == "sent 15 min before the deadline"
    assert item.title == "Tell the regulator"


def test_a_message_at_the_deadline_is_on_time(sdrill: Drill) -> None:
    send(sdrill, BREACH_AT + 30 * MINUTE, ["regulator"], EXEC)
    result = comm(card(sdrill), "tell-regulator")
    assert (result.status, result.points, result.delta) == (CommStatus.on_time, 10.0, 0.0)
    assert result.sent_by_role == "executive"


@pytest.mark.parametrize(
    ("late_by", "points"),
    [
        (MINUTE, 9.67),
        (10 * MINUTE, 6.67),
        (15 * MINUTE, 5.0),
        (20 * MINUTE, 3.33),
        (29 * MINUTE, 0.33),
    ],
)
def test_a_late_message_earns_linearly_less_until_deadline_plus_grace(
    sdrill: Drill, late_by: float, points: float
) -> None:
    message = send(sdrill, BREACH_AT + 30 * MINUTE + late_by, ["regulator"], LEGAL)
    sc = card(sdrill)
    result = comm(sc, "tell-regulator")
    assert result.status is CommStatus.late
    assert (result.points, result.max_points) == (points, 10.0)
    assert result.delta == late_by
    assert result.message_seq == message.seq
    (item,) = items_of(sc, "tell-regulator")
    assert (item.role, item.points, item.max_points, item.status) == ("legal", points, 10.0, "late")
    # disclose timed out at 50m: hold, -1 of 3 shared; plus this message.
    assert {i.ref for i in sc.items if i.objective == "notify"} == {"disclose", "tell-regulator"}
    assert sc.objectives["notify"].points == round(points - 1, 2)
    assert sc.objectives["notify"].max_points == 13.0


def test_ten_minutes_late_reads_as_such(sdrill: Drill) -> None:
    send(sdrill, BREACH_AT + 40 * MINUTE, ["regulator"], LEGAL)
    (item,) = items_of(card(sdrill), "tell-regulator")
    assert item.points == 6.67
    assert item.detail == "sent 10 min after the deadline"


def test_a_missed_message_earns_nothing_shared_by_the_roles_that_should_have_sent_it(
    sdrill: Drill,
) -> None:
    sdrill.at_scenario(BREACH_AT + 60 * MINUTE)
    missed = the(sdrill, EventType.expectation_missed, expectation_id="tell-regulator")
    sc = card(sdrill)
    result = comm(sc, "tell-regulator")
    assert result.status is CommStatus.missed
    assert (result.points, result.max_points) == (0.0, 10.0)
    assert (result.sent_at, result.delta, result.message_seq, result.sent_by_role) == (
        None,
        None,
        None,
        None,
    )
    assert rows(sc, "tell-regulator") == {
        ("notify", "legal", 0.0, 5.0, "missed"),
        ("notify", "executive", 0.0, 5.0, "missed"),
    }
    for item in items_of(sc, "tell-regulator"):
        assert item.seqs == [missed.seq]
        assert item.detail == "nothing reached Data protection authority"


def test_a_message_after_deadline_plus_grace_is_missed(sdrill: Drill) -> None:
    send(sdrill, BREACH_AT + 61 * MINUTE, ["regulator"], LEGAL)
    result = comm(card(sdrill), "tell-regulator")
    assert result.status is CommStatus.missed
    assert result.points == 0.0


def test_an_expectation_from_anyone_missed_has_one_item_for_nobody(sdrill: Drill) -> None:
    sdrill.at_scenario(EDR_AT + 2 * 60 * MINUTE)  # tell-board: 1h, grace 1h
    sc = card(sdrill)
    assert rows(sc, "tell-board") == {("notify", None, 0.0, 6.0, "missed")}
    assert comm(sc, "tell-board").from_roles is None


def test_an_expectation_from_anyone_is_credited_to_who_sent_it(sdrill: Drill) -> None:
    send(sdrill, EDR_AT + 30 * MINUTE, ["board"], COMMS)
    assert rows(card(sdrill), "tell-board") == {("notify", "communications", 6.0, 6.0, "on_time")}


def test_the_default_grace_is_the_deadline_again(sdrill: Drill) -> None:
    send(sdrill, EDR_AT + 90 * MINUTE, ["board"], IM)  # 30m late of 1h grace: half
    result = comm(card(sdrill), "tell-board")
    assert (result.deadline, result.closes) == (EDR_AT + 60 * MINUTE, EDR_AT + 120 * MINUTE)
    assert (result.status, result.points) == (CommStatus.late, 3.0)


def test_a_message_to_another_outside_party_is_the_wrong_party(sdrill: Drill) -> None:
    wrong = send(sdrill, BREACH_AT + 10 * MINUTE, ["police"], LEGAL)
    sdrill.at_scenario(BREACH_AT + 60 * MINUTE)
    missed = the(sdrill, EventType.expectation_missed, expectation_id="tell-regulator")
    sc = card(sdrill)
    result = comm(sc, "tell-regulator")
    assert result.status is CommStatus.wrong_party
    assert (result.points, result.max_points) == (0.0, 10.0)
    assert (result.message_seq, result.sent_by_role) == (wrong.seq, "legal")
    assert result.sent_at == BREACH_AT + 10 * MINUTE
    assert rows(sc, "tell-regulator") == {
        ("notify", "legal", 0.0, 5.0, "wrong_party"),
        ("notify", "executive", 0.0, 5.0, "wrong_party"),
    }
    for item in items_of(sc, "tell-regulator"):
        assert item.seqs == [wrong.seq, missed.seq]
        assert item.detail == "sent to Police instead of Data protection authority"


@pytest.mark.parametrize(
    ("at", "to", "actor"),
    [
        (BREACH_AT + 10 * MINUTE, ["police"], COMMS),  # not a sender the expectation names
        (BREACH_AT + 10 * MINUTE, ["executive"], LEGAL),  # a role, not an outside party
        (BREACH_AT - 5 * MINUTE, ["police"], LEGAL),  # before the countdown started
    ],
)
def test_only_an_eligible_message_in_the_window_is_the_wrong_party(
    sdrill: Drill, at: float, to: list[str], actor: c.Actor
) -> None:
    send(sdrill, at, to, actor)
    sdrill.at_scenario(BREACH_AT + 60 * MINUTE)
    result = comm(card(sdrill), "tell-regulator")
    assert result.status is CommStatus.missed
    assert result.message_seq is None


def test_a_party_the_scenario_does_not_name_as_confused_is_simply_missed(sdrill: Drill) -> None:
    send(sdrill, BREACH_AT + 10 * MINUTE, ["customers"], LEGAL)
    sdrill.at_scenario(BREACH_AT + 60 * MINUTE)
    result = comm(card(sdrill), "tell-regulator")
    assert (result.status, result.message_seq) == (CommStatus.missed, None)
    (item,) = {i.detail for i in items_of(card(sdrill), "tell-regulator")}
    assert item == "nothing reached Data protection authority"


def test_the_right_party_among_others_is_not_the_wrong_party(sdrill: Drill) -> None:
    send(sdrill, BREACH_AT + 10 * MINUTE, ["police", "regulator"], LEGAL)
    sdrill.at_scenario(BREACH_AT + 60 * MINUTE)
    assert comm(card(sdrill), "tell-regulator").status is CommStatus.on_time


def test_the_right_party_after_a_wrong_one_counts(sdrill: Drill) -> None:
    send(sdrill, BREACH_AT + 5 * MINUTE, ["police"], LEGAL)
    right = send(sdrill, BREACH_AT + 40 * MINUTE, ["regulator"], EXEC)
    result = comm(card(sdrill), "tell-regulator")
    assert (result.status, result.points, result.message_seq) == (
        CommStatus.late,
        6.67,
        right.seq,
    )


def test_while_running_an_open_countdown_is_pending_and_not_at_stake(sdrill: Drill) -> None:
    sdrill.at_scenario(BREACH_AT + 45 * MINUTE)  # past the deadline, inside the grace
    sc = card(sdrill)
    for expectation_id in ("tell-regulator", "tell-board"):
        result = comm(sc, expectation_id)
        assert result.status is CommStatus.pending
        assert (result.points, result.max_points) == (0.0, 0.0)
        assert items_of(sc, expectation_id) == []
    assert sc.dimensions["communication"] == Total(points=0.0, max_points=0.0, percent=None)


def test_an_end_before_the_deadline_makes_it_not_due(sdrill: Drill) -> None:
    end(sdrill, BREACH_AT + 10 * MINUTE)
    sc = card(sdrill)
    assert [(x.expectation_id, x.status, x.max_points) for x in sc.communications] == [
        ("tell-board", CommStatus.not_due, 0.0),
        ("tell-regulator", CommStatus.not_due, 0.0),
    ]
    assert [i for i in sc.items if i.dimension is Dimension.communication] == []
    assert sc.objectives["notify"] == Total(points=0.0, max_points=0.0, percent=None)


def test_an_end_after_the_deadline_with_nothing_sent_is_missed(sdrill: Drill) -> None:
    ended = end(sdrill, BREACH_AT + 40 * MINUTE)  # inside the grace: no missed event yet
    assert not sdrill.of(EventType.expectation_missed)
    sc = card(sdrill)
    result = comm(sc, "tell-regulator")
    assert (result.status, result.max_points) == (CommStatus.missed, 10.0)
    for item in items_of(sc, "tell-regulator"):
        assert item.seqs == [ended.seq]  # traceable: the end settled it


def test_an_end_after_the_deadline_with_the_wrong_party_is_wrong_party(sdrill: Drill) -> None:
    wrong = send(sdrill, BREACH_AT + 20 * MINUTE, ["police"], EXEC)
    ended = end(sdrill, BREACH_AT + 40 * MINUTE)
    sc = card(sdrill)
    assert comm(sc, "tell-regulator").status is CommStatus.wrong_party
    for item in items_of(sc, "tell-regulator"):
        assert item.seqs == [wrong.seq, ended.seq]


def test_expectations_never_armed_are_not_listed(sdrill: Drill) -> None:
    sdrill.at_scenario(5 * MINUTE)
    assert card(sdrill).communications == []


# --------------------------------------------------------------------------- a whole drill


def _whole_drill(drill: Drill) -> dict[str, Event]:
    """A scripted drill with a known score, the key events by name."""
    ev = {
        "triage": answer(drill, EDR_AT + 4 * MINUTE, "triage", "isolate", SOC),
        "board": send(drill, EDR_AT + 10 * MINUTE, ["board", "staff"], COMMS),
        "disclose": answer(drill, BREACH_AT + 5 * MINUTE, "disclose", "notify", LEGAL),
        "police": send(drill, BREACH_AT + 10 * MINUTE, ["police"], LEGAL),
    }
    drill.at_scenario(BREACH_AT + 20 * MINUTE)  # disclose closes; the executive said nothing
    ev["ransom"] = answer(drill, 65 * MINUTE, "ransom", "refuse", EXEC)
    ev["regulator"] = send(drill, 70 * MINUTE, ["regulator"], EXEC)  # 10 min late: 6.67
    drill.run(c.AdjustScore("detect", -1.5, "Ignored the phishing memo", role="soc_analyst"))
    ev["end"] = end(drill, 80 * MINUTE)
    return ev


def test_a_whole_drill_adds_up(sdrill: Drill) -> None:
    _whole_drill(sdrill)
    sc = card(sdrill)
    assert sorted(
        (i.dimension.value, i.ref, i.objective or "", i.role or "", i.points, i.max_points)
        for i in sc.items
    ) == sorted(
        [
            ("decisions", "triage", "contain", "soc_analyst", 4.0, 4.0),
            ("decisions", "triage", "detect", "soc_analyst", 2.0, 2.0),
            ("decisions", "disclose", "notify", "legal", 3.0, 3.0),
            ("decisions", "disclose", "notify", "executive", 0.0, 3.0),
            ("decisions", "ransom", "contain", "executive", -1.0, 0.0),
            ("communication", "tell-board", "notify", "communications", 6.0, 6.0),
            ("communication", "tell-regulator", "notify", "executive", 6.67, 10.0),
            (
                "adjustments",
                f"adjustment-{sdrill.of(EventType.score_adjusted)[0].seq}",
                "detect",
                "soc_analyst",
                -1.5,
                0.0,
            ),
        ]
    )
    assert sc.objectives == {
        "detect": Total(points=0.5, max_points=2.0, percent=25.0),
        "contain": Total(points=3.0, max_points=4.0, percent=75.0),
        "notify": Total(points=15.67, max_points=22.0, percent=71.2),
    }
    assert sc.roles == {
        "incident_manager": RoleTotal(points=0.0, max_points=0.0, percent=None, played=True),
        "soc_analyst": RoleTotal(points=4.5, max_points=6.0, percent=75.0, played=True),
        "legal": RoleTotal(points=3.0, max_points=3.0, percent=100.0, played=True),
        "communications": RoleTotal(points=6.0, max_points=6.0, percent=100.0, played=True),
        "executive": RoleTotal(points=5.67, max_points=13.0, percent=43.6, played=True),
    }
    assert sc.dimensions == {
        "decisions": Total(points=8.0, max_points=12.0, percent=66.7),
        "communication": Total(points=12.67, max_points=16.0, percent=79.2),
        "regulatory": Total(points=0.0, max_points=0.0, percent=None),  # no regime played
        "adjustments": Total(points=-1.5, max_points=0.0, percent=None),
    }
    assert sc.overall == Total(points=19.17, max_points=28.0, percent=68.5)


def test_the_roles_listed_are_the_roles_in_play() -> None:
    drill = Drill(scoring()).create(roles=["soc_analyst", "incident_manager"])
    drill.join("soc1", "soc_analyst").start()
    answer(drill, EDR_AT + MINUTE, "triage", "isolate", SOC)
    sc = card(drill)
    assert list(sc.roles) == ["soc_analyst", "incident_manager"]
    assert list(sc.objectives) == ["detect", "contain", "notify"]
    assert list(sc.dimensions) == ["decisions", "communication", "regulatory", "adjustments"]


def test_an_empty_log_scores_nothing() -> None:
    sc = scorecard(scoring(), [])
    assert sc.items == []
    assert sc.decisions == []
    assert sc.communications == []
    assert list(sc.roles) == list(scoring().roles)
    assert sc.overall == Total(points=0.0, max_points=0.0, percent=None)
    assert all(m.at is None and m.seq is None for m in sc.metrics)
    assert all(u.at is None for u in sc.first_updates)


# --------------------------------------------------------------------------- traceability

SOURCES: dict[tuple[Dimension, str], tuple[set[EventType], ...]] = {
    (Dimension.decisions, "answered"): (
        {EventType.decision_opened},
        {EventType.decision_answered},
    ),
    (Dimension.decisions, "timed_out"): (
        {EventType.decision_opened},
        {EventType.decision_timed_out},
    ),
    (Dimension.decisions, "unanswered"): (
        {EventType.decision_opened},
        {EventType.decision_closed},
    ),
    (Dimension.communication, "on_time"): (
        {EventType.message_sent},
        {EventType.expectation_met},
    ),
    (Dimension.communication, "late"): ({EventType.message_sent}, {EventType.expectation_met}),
    (Dimension.communication, "missed"): ({EventType.expectation_missed, EventType.drill_ended},),
    (Dimension.communication, "wrong_party"): (
        {EventType.message_sent},
        {EventType.expectation_missed, EventType.drill_ended},
    ),
    (Dimension.adjustments, "adjusted"): ({EventType.score_adjusted},),
}
"""For each kind of item, the types its `seqs` point at, in order."""


def assert_traceable(scenario: Scenario, events: list[Event], sc: Scorecard) -> None:
    by_seq = {e.seq: e for e in events}
    for item in sc.items:
        shapes = SOURCES[(item.dimension, item.status)]
        assert len(item.seqs) == len(shapes), item
        assert item.seqs == sorted(item.seqs)
        for seq, types in zip(item.seqs, shapes, strict=True):
            event = by_seq[seq]
            assert event.type in types, (item, event)
            ref = event.data.get("decision_id") or event.data.get("expectation_id")
            if ref is not None:
                assert ref == item.ref, (item, event)
        if item.dimension is Dimension.communication and item.status in ("on_time", "late"):
            message = by_seq[item.seqs[0]]
            assert message.data["from_role"] == item.role
            assert scenario.expectation(item.ref).to in message.data["to"]


def test_every_item_points_at_the_events_behind_it(sdrill: Drill) -> None:
    ev = _whole_drill(sdrill)
    sc = card(sdrill)
    assert_traceable(sdrill.scenario, sdrill.events, sc)
    (late,) = items_of(sc, "tell-regulator")
    assert late.seqs[0] == ev["regulator"].seq


def test_timeouts_misses_and_wrong_parties_are_traceable(sdrill: Drill) -> None:
    staff = send(sdrill, EDR_AT + 10 * MINUTE, ["staff"], COMMS)
    sdrill.at_scenario(3 * 60 * MINUTE)
    sc = card(sdrill)
    assert {(i.ref, i.status) for i in sc.items if i.dimension is Dimension.communication} == {
        ("tell-board", "wrong_party"),  # from anyone: all staff instead of the board
        ("tell-regulator", "missed"),  # nothing went to the police or the regulator
    }
    assert comm(sc, "tell-board").message_seq == staff.seq
    assert {i.status for i in sc.items} == {"timed_out", "wrong_party", "missed"}
    assert_traceable(sdrill.scenario, sdrill.events, sc)


# --------------------------------------------------------------------------- metrics


def test_the_first_alert_is_the_first_edr_or_siem_or_high_inject(sdrill: Drill) -> None:
    sdrill.at_scenario(EDR_AT)
    edr = sdrill.delivery("edr")
    assert first_alert(sdrill.events) == edr
    (alert,) = [m for m in card(sdrill).metrics if m.key == "first_alert"]
    assert (alert.at, alert.after_trigger, alert.seq) == (EDR_AT, 0.0, edr.seq)


@pytest.mark.parametrize(
    ("channel", "severity", "is_alert"),
    [
        (Channel.siem, Severity.info, True),
        (Channel.edr, Severity.low, True),
        (Channel.email, Severity.critical, True),
        (Channel.phone, Severity.high, True),
        (Channel.email, Severity.medium, False),
    ],
)
def test_a_manual_inject_can_be_the_first_alert(
    sdrill: Drill, channel: Channel, severity: Severity, is_alert: bool
) -> None:
    sdrill.at_scenario(2 * MINUTE)
    manual = sdrill.run(
        c.ManualInject(
            "Call", "The SOC calls.", ["soc_analyst"], channel=channel, severity=severity
        )
    )[0]
    sdrill.at_scenario(EDR_AT)
    expected = manual if is_alert else sdrill.delivery("edr")
    assert first_alert(sdrill.events) == expected


def test_without_any_alert_the_first_inject_is_the_trigger(short_drill: Drill) -> None:
    assert first_alert(short_drill.events) is None
    short_drill.at_scenario(20 * MINUTE)
    assert first_alert(short_drill.events) == short_drill.delivery("first")
    sc = scorecard(short(), short_drill.events)
    assert metric(sc, "first_alert").at == 10 * MINUTE


def test_the_metrics_of_a_whole_drill(sdrill: Drill) -> None:
    send(sdrill, 5 * MINUTE, ["incident_manager"], SOC)  # before the alert: not counted
    ev = _whole_drill(sdrill)
    sc = card(sdrill)
    edr = sdrill.delivery("edr")
    assert [(m.key, m.at, m.after_trigger, m.seq) for m in sc.metrics] == [
        ("first_alert", EDR_AT, 0.0, edr.seq),
        ("first_investigator_action", EDR_AT + 4 * MINUTE, 4 * MINUTE, ev["triage"].seq),
        ("containment_decision", EDR_AT + 4 * MINUTE, 4 * MINUTE, ev["triage"].seq),
        ("executive_notified", EDR_AT + 10 * MINUTE, 10 * MINUTE, ev["board"].seq),
        ("regulator_notified", 70 * MINUTE, 60 * MINUTE, ev["regulator"].seq),
    ]
    assert [m.label for m in sc.metrics] == [
        "First alert",
        "First investigator action",
        "Decision to contain",
        "First update to executives",
        "First notice to a regulator",
    ]


def test_the_first_updates_cover_the_executives_and_every_party(sdrill: Drill) -> None:
    ev = _whole_drill(sdrill)
    sc = card(sdrill)
    assert [
        (u.audience, u.at, u.after_trigger, u.message_seq, u.from_role) for u in sc.first_updates
    ] == [
        ("executives", EDR_AT + 10 * MINUTE, 10 * MINUTE, ev["board"].seq, "communications"),
        ("regulator", 70 * MINUTE, 60 * MINUTE, ev["regulator"].seq, "executive"),
        ("police", BREACH_AT + 10 * MINUTE, 30 * MINUTE, ev["police"].seq, "legal"),
        ("staff", EDR_AT + 10 * MINUTE, 10 * MINUTE, ev["board"].seq, "communications"),
        ("customers", None, None, None, None),
    ]
    assert [u.label for u in sc.first_updates] == [
        "First update to executives",
        "First notice to Data protection authority",
        "First update to Police",
        "First update to All staff",
        "First update to Customers",
    ]


def test_only_the_first_update_per_audience_counts(sdrill: Drill) -> None:
    first = send(sdrill, EDR_AT + MINUTE, ["executive"], IM)  # the executive role counts
    send(sdrill, EDR_AT + 2 * MINUTE, ["board"], COMMS)
    customers = send(sdrill, EDR_AT + 3 * MINUTE, ["customers", "police"], COMMS)
    sc = card(sdrill)
    updates = {u.audience: u for u in sc.first_updates}
    assert (updates["executives"].message_seq, updates["executives"].from_role) == (
        first.seq,
        "incident_manager",
    )
    assert updates["executives"].after_trigger == MINUTE
    assert updates["customers"].message_seq == customers.seq
    assert updates["staff"].at is None and updates["regulator"].at is None
    assert metric(sc, "executive_notified").seq == first.seq


def test_audiences_of_recipients() -> None:
    scenario = scoring()
    assert {r: audience_of(scenario, r) for r in [*scenario.parties, "executive", "legal"]} == {
        "regulator": "regulator",
        "police": "police",
        "board": "executives",
        "staff": "staff",
        "customers": "customers",
        "executive": "executives",
        "legal": None,
    }


def test_an_investigator_message_after_the_alert_is_their_first_action(sdrill: Drill) -> None:
    send(sdrill, 5 * MINUTE, ["incident_manager"], SOC)
    message = send(sdrill, EDR_AT + 2 * MINUTE, ["incident_manager"], SOC)
    assert metric(card(sdrill), "first_investigator_action").seq == message.seq
    assert metric(card(sdrill), "first_investigator_action").after_trigger == 2 * MINUTE


def test_others_actions_are_not_an_investigators(sdrill: Drill) -> None:
    answer(sdrill, EDR_AT + MINUTE, "triage", "isolate", IM)
    sc = card(sdrill)
    investigator = metric(sc, "first_investigator_action")
    assert (investigator.at, investigator.after_trigger, investigator.seq) == (None, None, None)
    assert metric(sc, "containment_decision").after_trigger == MINUTE


def test_a_timeout_is_no_decision_to_contain(sdrill: Drill) -> None:
    sdrill.at_scenario(EDR_AT + 10 * MINUTE)
    assert the(sdrill, EventType.decision_timed_out, decision_id="triage")
    containment = metric(card(sdrill), "containment_decision")
    assert (containment.at, containment.after_trigger, containment.seq) == (None, None, None)


def test_choosing_not_to_contain_is_no_decision_to_contain(sdrill: Drill) -> None:
    answer(sdrill, EDR_AT + MINUTE, "triage", "wait", SOC)
    containment = metric(card(sdrill), "containment_decision")
    assert (containment.at, containment.seq) == (None, None)


def test_a_partial_containment_is_a_decision_to_contain(sdrill: Drill) -> None:
    chosen = answer(sdrill, EDR_AT + 3 * MINUTE, "triage", "partial", SOC)
    containment = metric(card(sdrill), "containment_decision")
    assert (containment.after_trigger, containment.seq) == (3 * MINUTE, chosen.seq)


def test_notifications_not_made_have_no_time(sdrill: Drill) -> None:
    sdrill.at_scenario(EDR_AT)
    sc = card(sdrill)
    for key in ("executive_notified", "regulator_notified", "containment_decision"):
        m = metric(sc, key)
        assert (m.at, m.after_trigger, m.seq) == (None, None, None)


# --------------------------------------------------------------------------- determinism


def _stored(events: list[Event]) -> list[Event]:
    return [Event.from_dict(json.loads(json.dumps(e.to_dict()))) for e in events]


def test_the_same_log_gives_the_same_scorecard(sdrill: Drill) -> None:
    _whole_drill(sdrill)
    first = card(sdrill)
    assert scorecard(sdrill.scenario, _stored(sdrill.events)) == first
    assert scorecard(sdrill.scenario, tuple(sdrill.events)) == first
    assert first.model_dump(mode="json") == card(sdrill).model_dump(mode="json")


def test_a_prefix_of_the_log_scores_the_drill_as_it_stood(sdrill: Drill) -> None:
    answer(sdrill, EDR_AT + MINUTE, "triage", "isolate", SOC)
    before = card(sdrill)
    count = len(sdrill.events)
    _ = end(sdrill, 20 * MINUTE)
    assert scorecard(sdrill.scenario, sdrill.events[:count]) == before


# --------------------------------------------------------------------------- properties


RANSOMWARE_PLAYERS = ("im1", "legal1", "comms1", "exec1")
RANSOMWARE_ROLES = ("incident_manager", "legal", "communications", "executive")
RECIPIENTS = [*RANSOMWARE_ROLES, "regulator", "press"]


@dataclass(frozen=True, slots=True)
class Wait:
    seconds: float


@dataclass(frozen=True, slots=True)
class AnswerSome:
    """Answer the `pick`-th open decision, if any, with its `option`-th option, as the
    player of the `who`-th role it is put to (or, `by_anyone`, as the `who`-th player)."""

    pick: int
    option: int
    who: int
    by_anyone: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    who: int
    to: list[str]


@dataclass(frozen=True, slots=True)
class Adjust:
    objective: str
    points: float
    role: str | None = None


@dataclass(frozen=True, slots=True)
class End:
    pass


Step = Wait | AnswerSome | Message | Adjust | End

STEPS: dict[str, st.SearchStrategy[Step]] = {
    "wait": st.builds(Wait, st.sampled_from([0.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0])),
    "answer": st.builds(
        AnswerSome, st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.booleans()
    ),
    # Mostly the messages the expectations ask for (on time, late or to the wrong party).
    "message": st.one_of(
        st.builds(Message, st.just(0), st.just(["executive"])),
        st.builds(Message, st.integers(0, 3), st.sampled_from([["regulator"], ["press"]])),
        st.builds(
            Message,
            st.integers(0, 3),
            st.lists(st.sampled_from(RECIPIENTS), min_size=1, max_size=2),
        ),
    ),
    "adjust": st.builds(
        Adjust,
        st.sampled_from(["contain", "comms", "nope"]),
        st.sampled_from([-5.0, -0.5, 0.25, 3.0, 1000.0, 0.0]),
        st.sampled_from([None, *RANSOMWARE_ROLES]),
    ),
    "end": st.just(End()),
}
MIX = ["wait"] * 5 + ["answer"] * 4 + ["message"] * 4 + ["adjust"] + ["end"]
step_strategy: st.SearchStrategy[Step] = st.sampled_from(MIX).flatmap(lambda k: STEPS[k])


def _command(drill: Drill, step: Step) -> tuple[c.Command, c.Actor] | None:
    if isinstance(step, AnswerSome):
        open_ = sorted(d.id for d in drill.state.decisions.values() if not d.closed)
        if not open_:
            return None
        decision = drill.state.decisions[open_[step.pick % len(open_)]]
        spec = drill.scenario.decision(decision.id)
        option = spec.options[step.option % len(spec.options)].id
        if step.by_anyone:
            who = RANSOMWARE_PLAYERS[step.who % len(RANSOMWARE_PLAYERS)]
        else:
            role = decision.roles[step.who % len(decision.roles)]
            who = RANSOMWARE_PLAYERS[RANSOMWARE_ROLES.index(role)]
        return c.Answer(spec.id, option), as_participant(who)
    if isinstance(step, Message):
        actor = as_participant(RANSOMWARE_PLAYERS[step.who])
        return c.SendMessage(to=step.to, body="Update."), actor
    if isinstance(step, Adjust):
        adjust = c.AdjustScore(step.objective, step.points, "Judgement call", role=step.role)
        return adjust, c.FACILITATOR_ACTOR
    if isinstance(step, End):
        return c.EndDrill(), c.FACILITATOR_ACTOR
    return None


def _play(steps: list[Step]) -> Drill:
    """ransomware(), one player per role; each step after `due`, as the service runs it."""
    drill = Drill(ransomware()).create()
    for participant_id, role in zip(RANSOMWARE_PLAYERS, RANSOMWARE_ROLES, strict=True):
        drill.join(participant_id, role)
    drill.start()
    for step in steps:
        drill.tick()
        if isinstance(step, Wait):
            drill.advance(step.seconds)
            continue
        command = _command(drill, step)
        if command is not None:
            with contextlib.suppress(DomainError):  # refusals are part of the game
                drill.run(*command)
    return drill


def _close(a: float, b: float, items: int) -> bool:
    return abs(a - b) <= 0.005 * (items + 1) + 1e-9


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step_strategy, max_size=50), finish=st.booleans())
def test_random_drills_score_consistently(steps: list[Step], finish: bool) -> None:
    drill = _play(steps)
    if finish:
        drill.advance(24 * 3600.0)
    sc = scorecard(drill.scenario, drill.events)

    groups: list[tuple[Total, list[ScoreItem]]] = [(sc.overall, sc.items)]
    groups += [(t, [i for i in sc.items if i.objective == k]) for k, t in sc.objectives.items()]
    groups += [(t, [i for i in sc.items if i.role == k]) for k, t in sc.roles.items()]
    groups += [
        (t, [i for i in sc.items if i.dimension.value == k]) for k, t in sc.dimensions.items()
    ]
    for got, items in groups:
        if isinstance(got, RoleTotal):
            # A role nobody played has no percentage; its points still add up.
            assert got.played or got.percent is None
            percent = got.percent if got.played else total(items).percent
            got = Total(points=got.points, max_points=got.max_points, percent=percent)
        # Worked out here, not by scoring's own total(): sums, then the share of the
        # maximum as a percentage, clamped to 0-100, to one decimal.
        assert got.points == round(sum(i.points for i in items), 2)
        assert got.max_points == round(sum(i.max_points for i in items), 2)
        if got.max_points > 0:
            share = 100 * sum(i.points for i in items) / sum(i.max_points for i in items)
            assert got.percent == pytest.approx(min(100.0, max(0.0, share)), abs=0.06)
        else:
            assert got.percent is None
    assert all(i.max_points >= 0 for i in sc.items)
    assert all(
        i.points <= i.max_points for i in sc.items if i.dimension is not Dimension.adjustments
    )
    # The engine's running points per objective are the scorecard's, up to rounding.
    for objective, points in drill.state.points.items():
        mine = [i for i in sc.items if i.objective == objective]
        assert _close(sum(i.points for i in mine), points, len(mine)), objective
    assert_traceable(drill.scenario, drill.events, sc)
    assert scorecard(drill.scenario, _stored(drill.events)) == sc
    assert scorecard(drill.scenario, list(drill.events)) == sc


def test_a_message_at_the_very_deadline_is_on_time(sdrill: Drill) -> None:
    send(sdrill, BREACH_AT + 30 * MINUTE, ["regulator"], LEGAL)  # within 30m, to the second
    result = comm(card(sdrill), "tell-regulator")
    assert (result.status, result.points, result.delta) == (CommStatus.on_time, 10.0, 0.0)


def test_the_grace_ends_a_second_before_its_close(sdrill: Drill) -> None:
    """The window is [deadline, deadline + grace): a second before it closes still earns a
    sliver; at the close the expectation is missed (its timer fires first)."""
    send(sdrill, BREACH_AT + 60 * MINUTE - 1, ["regulator"], LEGAL)
    result = comm(card(sdrill), "tell-regulator")
    assert (result.status, result.points) == (CommStatus.late, 0.01)


def test_a_message_at_the_close_of_the_grace_is_missed(sdrill: Drill) -> None:
    send(sdrill, BREACH_AT + 60 * MINUTE, ["regulator"], LEGAL)  # 30m + 30m grace, exactly
    result = comm(card(sdrill), "tell-regulator")
    assert (result.status, result.points) == (CommStatus.missed, 0.0)


def test_points_shared_by_three_roles_add_up_to_the_cent() -> None:
    """10 points owed by three roles read 3.34 + 3.33 + 3.33, not 3 x 3.33 = 9.99: a
    report said "0 of 44.99 points" for five expectations worth 45."""
    assert split(10, 3) == [3.34, 3.33, 3.33] and sum(split(10, 3)) == 10
    assert split(-10, 3) == [-3.34, -3.33, -3.33]
    assert split(5, 1) == [5.0] and split(0, 4) == [0.0, 0.0, 0.0, 0.0]
    scenario = load_scenario_file(SCENARIOS / "payments-major-ict-incident.yaml").scenario
    assert scenario is not None
    card = scorecard(scenario, play(scenario).events)
    assert card.dimensions["communication"].max_points == 45.0  # 10 + 10 + 10 + 10 + 5
    assert card.dimensions["decisions"].max_points == 40.0
