"""The facilitator's hand on the story: fire a scheduled inject now, skip one for good, and
start with a required role empty only on purpose, with the override in the log."""

from __future__ import annotations

import pytest

from app.engine import commands as c
from app.engine.errors import Code
from app.engine.events import EventType
from app.engine.timeline import timeline
from app.reports.build import Inputs, build_report
from app.reports.render import render_markdown

from .harness import MINUTE, Drill, as_participant, load

CONTROLS = """\
id: controls
title: Controls
summary: A night with a note at 10 minutes and a press call at 30.
duration: 1h
clock: {start: 2026-12-24T22:40:00, end: 2h}
roles:
  incident_manager: {required: true}
  legal: {}
objectives:
  comms: {title: Communicate, phase: post_incident}
injects:
  - id: alert
    title: EDR alert
    body: Encryption on FS01.
    to: [incident_manager]
    at: 0m
  - id: note
    title: Ransom note
    body: Pay 40 BTC.
    to: [legal]
    at: 10m
  - id: press
    title: A reporter calls
    body: Is it true?
    to: [legal]
    at: 30m
    when: {delivered: nothing-yet}
  - id: nothing-yet
    title: Quiet hour
    body: Nothing happens.
    to: [legal]
    at: 1h
"""

IM = as_participant("im1")


@pytest.fixture
def drill() -> Drill:
    return Drill(load(CONTROLS)).create().join("im1", "incident_manager").join("l1", "legal")


def test_a_scheduled_inject_fires_now_when_the_facilitator_says(drill: Drill) -> None:
    drill.start().at_scenario(2 * MINUTE)
    (fired,) = drill.run(c.FireInject("note"))
    assert fired.type is EventType.inject_delivered
    assert (fired.data["inject_id"], fired.scenario_time) == ("note", 2 * MINUTE)
    assert fired.data["fired_by_facilitator"] is True
    assert drill.at_scenario(20 * MINUTE) == []  # it does not come again at T+10m
    assert drill.delivered_ids() == ["alert", "note"]


def test_fired_ahead_of_time_it_arrives_even_where_its_condition_is_false(drill: Drill) -> None:
    drill.start().at_scenario(5 * MINUTE)
    (fired,) = drill.run(c.FireInject("press"))  # its `when` is false now: asked for anyway
    assert fired.data["inject_id"] == "press"


def test_a_skipped_inject_never_arrives(drill: Drill) -> None:
    drill.start().at_scenario(2 * MINUTE)
    (skipped,) = drill.run(c.SkipInject("note"))
    assert skipped.type is EventType.inject_skipped
    assert skipped.data == {"inject_id": "note", "reason": "facilitator"}
    drill.at_scenario(90 * MINUTE)
    assert "note" not in drill.delivered_ids()
    lines = [e.text for e in timeline(drill.scenario, drill.events)]
    assert "Ransom note skipped: skipped by the facilitator" in lines
    assert drill.replayed() == drill.state


def test_only_a_waiting_inject_can_be_fired_or_skipped(drill: Drill) -> None:
    assert drill.refuse(c.FireInject("note")) is Code.drill_not_running  # not started
    drill.start().at_scenario(12 * MINUTE)
    assert drill.refuse(c.FireInject("note")) is Code.inject_not_scheduled  # delivered
    assert drill.refuse(c.SkipInject("note")) is Code.inject_not_scheduled
    assert drill.refuse(c.FireInject("no-such-inject")) is Code.unknown_inject
    drill.run(c.SkipInject("press"))
    assert drill.refuse(c.FireInject("press")) is Code.inject_not_scheduled  # skipped
    drill.run(c.PauseClock())
    assert drill.refuse(c.FireInject("nothing-yet")) is Code.drill_not_running
    assert drill.refuse(c.FireInject("nothing-yet"), IM) is Code.not_permitted


def test_a_required_role_left_empty_needs_the_facilitator_to_confirm() -> None:
    drill = Drill(load(CONTROLS)).create().join("l1", "legal")
    assert drill.refuse(c.StartClock()) is Code.required_roles_unfilled
    (started,) = drill.run(c.StartClock(confirm_unfilled=True))
    assert started.data["unfilled_required"] == ["incident_manager"]
    # The report says so, as the console's confirmation promised.
    report = build_report(Inputs(drill.scenario, drill.events), now=0.0)
    assert report.overview.started_without == ["Incident manager"]
    assert "| Started without | Incident manager (required by the scenario" in render_markdown(
        report, drill.scenario
    )


def test_a_filled_required_role_starts_without_asking(drill: Drill) -> None:
    (started,) = drill.run(c.StartClock())
    assert "unfilled_required" not in started.data


def test_the_timeline_says_what_the_facilitator_did_and_how() -> None:
    """The console's feed and the report read these lines: each keeps the fact a
    facilitator acted on (who was missing, the speed before, a fired inject, whose score)."""
    drill = Drill(load(CONTROLS)).create().join("l1", "legal")
    drill.run(c.StartClock(confirm_unfilled=True))
    drill.run(c.SetSpeed(60))
    drill.run(c.FireInject("note"))
    drill.run(c.AdjustScore("comms", -2, "Told the press first", role="legal"))
    lines = {entry.kind: entry.text for entry in timeline(drill.scenario, drill.events)}
    assert lines["clock_started"] == "Clock started at 1x, without Incident manager"
    assert lines["clock_speed_changed"] == "Speed changed from 1x to 60x"
    assert lines["score_adjusted"] == (
        "Score for 'Communicate' adjusted -2: Told the press first; role: Legal counsel"
    )
    fired = [e.text for e in timeline(drill.scenario, drill.events) if "Ransom note" in e.text]
    assert fired == [
        "Ransom note (fired now by the facilitator) -> Legal counsel via email, severity info"
    ]
