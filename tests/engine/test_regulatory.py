"""Regimes in play: the scenario binds each regime's events to what happens in the story,
a message to the party bound to a recipient files the most urgent open duty owed to it,
follow-ups start when what they follow is filed, and every clock is read at a moment of
the story. Driven through decide/apply/due on a fake clock, as a drill runs."""

from __future__ import annotations

from datetime import timedelta

from app.engine import commands as c
from app.engine.regulatory import Replay, regimes_in_play, regimes_replayed
from app.engine.scoring import Dimension, scorecard
from app.engine.simulate import Communication, play
from app.regimes.clocks import ClockState
from app.regimes.library import regime as shipped_regime
from tests.conftest import ROOT

from .harness import MINUTE, Drill, as_participant, load

PAYMENTS = """\
id: payments-outage
title: Payments outage
summary: A payments firm's core platform fails; DORA and NIS2 clocks start.
duration: 1h
clock:
  start: 2026-12-24T09:00:00
  timezone: Europe/Berlin
  speed: 60
  end: 40d
roles:
  incident_manager: {}
  legal: {}
parties:
  bafin: {name: BaFin, kind: regulator}
  csirt: {name: CERT-Bund, kind: regulator}
objectives:
  report: {title: Report on time, phase: post_incident}
injects:
  - id: outage
    title: Card payments fail across the EU
    body: Every card payment since 09:00 has failed.
    to: [all]
    at: 0m
    opens: classify
  - id: wrap-up
    title: Six weeks on
    body: The reports are in; the drill ends here.
    to: [all]
    at: 39d
    ends_drill: true
decisions:
  - id: classify
    prompt: Is this a major ICT-related incident?
    to: [legal]
    time_limit: 2h
    default: minor
    options:
      - {id: major, label: Major, score: {report: 5}}
      - {id: minor, label: Not major}
regimes:
  - regime: dora
    starts:
      aware: {inject: outage}
      classified_major: {option: classify.major}
    authority: bafin
    facts: {clients_affected: 1200}
  - regime: nis2
    starts:
      aware: {inject: outage}
    authority: csirt
"""


def _drill() -> Drill:
    drill = Drill(load(PAYMENTS)).create()
    drill.join("p1", "legal")
    drill.start()
    drill.tick()
    return drill


def _clocks(drill: Drill) -> dict[str, dict[str, ClockState]]:
    now = drill.scenario_time()
    return {
        use.regime.id: {clock.duty.id: clock.state for clock in use.clocks}
        for use in regimes_in_play(drill.scenario, drill.events, now)
    }


def _send(drill: Drill, to: str, body: str) -> None:
    drill.run(c.SendMessage([to], body), as_participant("p1"))


def file_form(drill: Drill, regime: str, duty: str, participant: str = "p1") -> None:
    """The participant fills in every field of the duty's form and files it."""
    form = shipped_regime(regime).duty(duty)
    fields = {f.id: f"{f.label}: 1200" for f in form.fields}
    drill.run(c.DraftNotice(regime, duty, fields), as_participant(participant))
    drill.run(c.FileNotice(regime, duty), as_participant(participant))


def test_clocks_start_from_the_bound_events_and_run_in_parallel() -> None:
    drill = _drill()
    clocks = _clocks(drill)
    assert clocks["dora"]["initial_notification"] is ClockState.waiting  # not classified yet
    assert clocks["nis2"]["early_warning"] is ClockState.running
    drill.advance(30)  # 30 scenario minutes at speed 60
    drill.run(c.Answer("classify", "major"), as_participant("p1"))
    assert _clocks(drill)["dora"]["initial_notification"] is ClockState.running
    drill.advance(4 * MINUTE)  # 4 story hours after the classification: due now, not late
    assert _clocks(drill)["dora"]["initial_notification"] is ClockState.running
    drill.advance(1)  # a story minute more
    assert _clocks(drill)["dora"]["initial_notification"] is ClockState.missed
    assert _clocks(drill)["nis2"]["early_warning"] is ClockState.running


def test_a_message_to_the_bound_party_files_the_most_urgent_duty_and_chains_the_next() -> None:
    drill = _drill()
    drill.run(c.Answer("classify", "major"), as_participant("p1"))
    drill.advance(MINUTE)  # one story hour
    _send(drill, "bafin", "Initial notification: card payments down since 09:00.")
    clocks = _clocks(drill)["dora"]
    assert clocks["initial_notification"] is ClockState.filed
    assert clocks["intermediate_report"] is ClockState.running  # 72 h from the filing
    assert clocks["final_report"] is ClockState.waiting
    assert _clocks(drill)["nis2"]["early_warning"] is ClockState.running  # another party
    _send(drill, "csirt", "Early warning: suspected malicious, cross-border impact.")
    _send(drill, "csirt", "Incident notification: severity high.")
    nis2 = _clocks(drill)["nis2"]
    assert nis2["early_warning"] is ClockState.filed
    assert nis2["incident_notification"] is ClockState.filed
    assert nis2["final_report"] is ClockState.running
    drill.advance(80 * MINUTE)  # 80 story hours: the intermediate report is overdue
    assert _clocks(drill)["dora"]["intermediate_report"] is ClockState.missed
    _send(drill, "bafin", "Intermediate report, late.")
    dora = _clocks(drill)["dora"]
    assert dora["intermediate_report"] is ClockState.late
    assert dora["final_report"] is ClockState.running


def test_a_message_to_someone_else_files_nothing() -> None:
    drill = _drill()
    _send(drill, "incident_manager", "Should we tell BaFin?")
    _send(drill, "bafin", "Before anything started? No: the NIS2 clock runs, DORA waits.")
    clocks = _clocks(drill)
    assert clocks["dora"]["initial_notification"] is ClockState.waiting
    assert clocks["nis2"]["early_warning"] is ClockState.running


def test_clocks_read_at_an_earlier_moment_ignore_later_filings() -> None:
    drill = _drill()
    drill.advance(MINUTE)
    _send(drill, "csirt", "Early warning.")
    in_play = regimes_in_play(drill.scenario, drill.events, 30 * MINUTE)
    nis2 = next(u for u in in_play if u.regime.id == "nis2")
    assert nis2.clocks[0].state is ClockState.running and nis2.filings == []


def test_the_shipped_data_theft_scenario_files_gdpr_on_time_only_when_the_team_does() -> None:
    loaded = load((ROOT / "scenarios" / "customer-database-theft.yaml").read_text())
    for communication, expected in (
        (Communication.diligent, ClockState.filed),
        (Communication.silent, ClockState.missed),
    ):
        result = play(loaded, {}, communication)
        (gdpr,) = regimes_in_play(loaded, result.events, result.state.last_scenario_time)
        assert [clock.state for clock in gdpr.clocks] == [expected, expected], communication
        authority = gdpr.clocks[0]
        assert authority.due_at is not None and authority.started_at is not None
        assert authority.due_at - authority.started_at == timedelta(hours=72)


def test_a_replay_extended_step_by_step_and_forked_reads_as_the_whole_log() -> None:
    """The dry run's diligent team asks for the clocks at every step and forks at every
    decision: its replay, extended with each step's events and copied at the fork, must
    read the clocks exactly as a replay of the whole log does, at every moment."""
    loaded = load((ROOT / "scenarios" / "customer-database-theft.yaml").read_text())
    events = play(loaded, {}, Communication.diligent).events
    replay = Replay(loaded)
    middle = len(events) // 2
    for end in range(1, len(events) + 1):
        replay.extend(events[replay.seen : end])
        if end == middle:
            replay = replay.copy()
            Replay.extend(replay.copy(), events[end:])  # a twin going on must not move this one
        at = events[end - 1].scenario_time
        assert regimes_replayed(replay, at) == regimes_in_play(loaded, events[:end], at), end


SCORED = PAYMENTS.replace(
    """    authority: csirt
""",
    """    authority: csirt
    score:
      early_warning: {points: 10, objective: report}
      incident_notification: {points: 20, objective: report}
""",
)


def test_duties_score_on_time_late_and_missed_and_open_ones_are_not_counted() -> None:
    drill = Drill(load(SCORED)).create()
    drill.join("p1", "legal")
    drill.start()
    drill.tick()
    drill.advance(MINUTE)  # a story hour: the NIS2 early warning goes on time
    file_form(drill, "nis2", "early_warning")
    drill.advance(80 * MINUTE)  # 81 h: the 72 h notification is late
    file_form(drill, "nis2", "incident_notification")
    card = scorecard(drill.scenario, drill.events)
    items = {i.ref: i for i in card.items if i.dimension is Dimension.regulatory}
    assert (items["nis2.early_warning"].points, items["nis2.early_warning"].max_points) == (10, 10)
    assert items["nis2.early_warning"].role == "legal"
    late = items["nis2.incident_notification"]
    assert (late.status, late.points, late.max_points) == ("late", 10, 20)
    assert "9 h late: half the points" in late.detail
    # DORA: never classified, so never started; NIS2's final report is due a month after
    # the notification, after this moment: neither is counted either way.
    assert "dora.initial_notification" not in items and "nis2.final_report" not in items
    assert card.objectives["report"].max_points == 30 + 5  # the duties and the option
    assert card.dimensions["regulatory"].points == 20


def test_a_duty_missed_scores_nothing_and_is_the_team_s() -> None:
    drill = Drill(load(SCORED)).create()
    drill.join("p1", "legal")
    drill.start()
    drill.tick()
    drill.advance(25 * MINUTE)  # 25 story hours: the early warning's 24 h have passed
    # Nothing happened since the start: the log alone has not reached the deadline, the
    # moment asked about has (the live scores ask with the clock's time).
    assert not [
        i for i in scorecard(drill.scenario, drill.events).items if i.ref.startswith("nis2")
    ]
    card = scorecard(drill.scenario, drill.events, drill.scenario_time())
    (missed,) = [i for i in card.items if i.ref == "nis2.early_warning"]
    assert (missed.status, missed.points, missed.max_points, missed.role) == (
        "missed",
        0,
        10,
        None,
    )


def test_a_notice_sent_to_the_party_it_is_confused_with_is_the_wrong_party() -> None:
    text = SCORED.replace(
        "    authority: bafin\n", "    authority: bafin\n    confused_with: [csirt]\n"
    ).replace(
        "      classified_major: {option: classify.major}\n",
        "      classified_major: {inject: outage}\n",
    )
    drill = Drill(load(text)).create()
    drill.join("p1", "legal")
    drill.start()
    drill.tick()
    drill.advance(MINUTE)
    _send(drill, "csirt", "Major incident: initial notification.")  # files NIS2, not DORA
    drill.advance(24 * MINUTE)  # past DORA's 4 h (and 24 h)
    card = scorecard(drill.scenario, drill.events, drill.scenario_time())
    (dora,) = [i for i in card.items if i.ref == "dora.initial_notification"]
    assert (dora.status, dora.points, dora.max_points) == ("wrong_party", 0, 10)
    assert dora.detail == "written to CERT-Bund instead of BaFin; never filed"
    nis2 = {i.ref: i.status for i in card.items if i.ref.startswith("nis2")}
    assert nis2["nis2.early_warning"] == "filed"
