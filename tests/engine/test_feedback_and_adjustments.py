"""The facilitator's score adjustments and the participants' hot-wash feedback.

AdjustScore: the facilitator moves an objective's score, during the drill or at the review
after it, always with a reason; it shows in the scorecard as its own item (nothing at
stake, points that move the totals). GiveFeedback: each participant, once, after the end:
what went well, what to improve, and how confident they felt (1 to 5).
"""

from __future__ import annotations

import math

import pytest

from app.engine import commands as c
from app.engine.errors import Code
from app.engine.events import FACILITATOR, EventType
from app.engine.scenario import Scenario
from app.engine.scoring import Dimension, RoleTotal, Total, scorecard

from .harness import MINUTE, Drill, as_participant, picked

IM = as_participant("im1")
IM2 = as_participant("im2")
LEGAL = as_participant("legal1")
COMMS = as_participant("comms1")
OBSERVER = as_participant("obs1")
GHOST = as_participant("ghost")


# --------------------------------------------------------------------------- AdjustScore


def test_an_adjustment_is_recorded_with_its_reason(drill: Drill) -> None:
    drill.advance(5 * MINUTE)
    (event,) = drill.run(
        c.AdjustScore("contain", 2.5, "  Good call\n  on FS01 ", role="incident_manager")
    )
    assert event.type is EventType.score_adjusted
    assert event.actor == FACILITATOR
    assert event.scenario_time == 5 * MINUTE
    assert event.data == {
        "objective_id": "contain",
        "points": 2.5,
        "reason": "Good call on FS01",
        "role": "incident_manager",
    }
    assert drill.state.points == {"contain": 2.5}
    assert drill.replayed() == drill.state


def test_an_adjustment_is_an_item_of_its_own(drill: Drill) -> None:
    (event,) = drill.run(c.AdjustScore("comms", -1.5, "Told the press too much", role="legal"))
    sc = scorecard(drill.scenario, drill.events)
    (item,) = sc.items
    assert item.dimension is Dimension.adjustments
    assert item.ref == f"adjustment-{event.seq}"
    assert item.title == "Adjusted by the facilitator: Told the press too much"
    assert (item.objective, item.role, item.points, item.max_points) == ("comms", "legal", -1.5, 0)
    assert item.status == "adjusted"
    assert item.detail == "Told the press too much"
    assert item.seqs == [event.seq]
    assert sc.dimensions["adjustments"] == Total(points=-1.5, max_points=0.0, percent=None)
    assert sc.roles["legal"] == RoleTotal(points=-1.5, max_points=0.0, percent=None, played=True)


def test_adjustments_move_the_totals_but_not_what_is_at_stake(drill: Drill) -> None:
    drill.advance(2 * MINUTE)
    drill.run(c.Answer("isolate", "now"), IM)  # contain: 5 of 5
    drill.run(c.AdjustScore("contain", -2, "Nobody checked the backups", role="incident_manager"))
    sc = scorecard(drill.scenario, drill.events)
    assert sc.objectives["contain"] == Total(points=3.0, max_points=5.0, percent=60.0)
    assert sc.roles["incident_manager"] == RoleTotal(
        points=3.0, max_points=5.0, percent=60.0, played=True
    )
    assert sc.dimensions["decisions"] == Total(points=5.0, max_points=5.0, percent=100.0)
    assert sc.overall == Total(points=3.0, max_points=5.0, percent=60.0)
    assert drill.state.points["contain"] == 3.0

    drill.run(c.AdjustScore("contain", 4.25, "Excellent hand-over"))  # about no one role
    sc = scorecard(drill.scenario, drill.events)
    assert sc.objectives["contain"] == Total(points=7.25, max_points=5.0, percent=100.0)
    assert sc.roles["incident_manager"] == RoleTotal(
        points=3.0, max_points=5.0, percent=60.0, played=True
    )
    assert sc.dimensions["adjustments"] == Total(points=2.25, max_points=0.0, percent=None)

    drill.run(c.AdjustScore("contain", -20, "Then wiped the evidence"))
    sc = scorecard(drill.scenario, drill.events)
    assert sc.objectives["contain"] == Total(points=-12.75, max_points=5.0, percent=0.0)
    assert sc.overall.percent == 0.0
    assert [i.points for i in sc.items if i.dimension is Dimension.adjustments] == [-2, 4.25, -20]
    assert drill.state.points["contain"] == -12.75


def test_adjustment_points_are_kept_to_the_cent(drill: Drill) -> None:
    (event,) = drill.run(c.AdjustScore("contain", 1.234, "Partly right"))
    assert event.data["points"] == 1.23
    assert drill.state.points["contain"] == 1.23


@pytest.mark.parametrize("points", [c.MAX_ADJUSTMENT, -c.MAX_ADJUSTMENT, 0.01, -0.01])
def test_adjustments_up_to_the_limit_are_accepted(drill: Drill, points: float) -> None:
    (event,) = drill.run(c.AdjustScore("contain", points, "x" * c.MAX_NOTE_CHARS))
    assert event.data["points"] == points


def test_adjustments_are_allowed_after_the_end_and_while_paused(drill: Drill) -> None:
    drill.run(c.PauseClock())
    drill.run(c.AdjustScore("contain", 1, "Paused to discuss"))
    drill.run(c.ResumeClock())
    drill.run(c.EndDrill())
    (event,) = drill.run(c.AdjustScore("comms", 2, "At the hot wash: the CEO was briefed"))
    assert event.type is EventType.score_adjusted
    sc = scorecard(drill.scenario, drill.events)
    assert sc.dimensions["adjustments"].points == 3.0
    assert drill.state.points == {"contain": 1.0, "comms": 2.0}


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (c.AdjustScore("speed", 1, "Fast"), Code.unknown_objective),
        (c.AdjustScore("contain", 0, "Nothing"), Code.invalid_input),
        (c.AdjustScore("contain", -0.0, "Nothing"), Code.invalid_input),
        (c.AdjustScore("contain", 0.004, "Rounds to nothing"), Code.invalid_input),
        (c.AdjustScore("contain", -0.004, "Rounds to nothing"), Code.invalid_input),
        (c.AdjustScore("contain", math.nan, "Not a number"), Code.invalid_input),
        (c.AdjustScore("contain", math.inf, "Infinite"), Code.invalid_input),
        (c.AdjustScore("contain", -math.inf, "Infinite"), Code.invalid_input),
        (c.AdjustScore("contain", c.MAX_ADJUSTMENT + 0.01, "Huge"), Code.invalid_input),
        (c.AdjustScore("contain", -c.MAX_ADJUSTMENT - 0.01, "Huge"), Code.invalid_input),
        (c.AdjustScore("contain", 1e300, "Huge"), Code.invalid_input),
        (c.AdjustScore("contain", 1, ""), Code.invalid_input),
        (c.AdjustScore("contain", 1, " \n\t "), Code.invalid_input),
        (c.AdjustScore("contain", 1, "x" * (c.MAX_NOTE_CHARS + 1)), Code.invalid_input),
        (c.AdjustScore("contain", 1, "Why", role="ciso"), Code.unknown_role),
    ],
)
def test_adjustment_refusals(drill: Drill, command: c.AdjustScore, code: Code) -> None:
    assert drill.refuse(command) is code
    assert not drill.of(EventType.score_adjusted)


def test_an_adjustment_names_only_a_role_in_play(ransomware_scenario: Scenario) -> None:
    drill = Drill(ransomware_scenario).create(roles=["incident_manager", "communications"])
    drill.start()
    assert drill.refuse(c.AdjustScore("contain", 1, "Why", role="legal")) is Code.unknown_role


@pytest.mark.parametrize("actor", [IM, LEGAL, OBSERVER, GHOST])
def test_only_the_facilitator_adjusts_scores(drill: Drill, actor: c.Actor) -> None:
    assert drill.refuse(c.AdjustScore("contain", 5, "I deserve it"), actor) is Code.not_permitted


def test_no_adjustment_before_the_drill_exists(ransomware_scenario: Scenario) -> None:
    drill = Drill(ransomware_scenario)
    assert drill.refuse(c.AdjustScore("contain", 1, "Why")) is Code.drill_not_created


# --------------------------------------------------------------------------- GiveFeedback


def _ended(drill: Drill) -> Drill:
    drill.advance(MINUTE)
    drill.run(c.EndDrill())
    return drill


def test_feedback_after_the_end_is_recorded(drill: Drill) -> None:
    _ended(drill)
    (event,) = drill.run(
        c.GiveFeedback("  Clear roles \n", "\tFaster escalation to legal ", 4), LEGAL
    )
    assert event.type is EventType.feedback_given
    assert event.actor == "legal1"
    assert event.data == {
        "participant_id": "legal1",
        "role": "legal",
        "went_well": "Clear roles",
        "improve": "Faster escalation to legal",
        "confidence": 4,
    }
    assert drill.state.feedback_from == {"legal1"}
    assert drill.replayed() == drill.state


def test_feedback_is_given_once_per_participant(drill: Drill) -> None:
    _ended(drill)
    drill.run(c.GiveFeedback("a", "b", 3), IM)
    assert drill.refuse(c.GiveFeedback("again", "again", 5), IM) is Code.feedback_given
    # Another player of the same role answers for themselves.
    assert picked(
        drill.run(c.GiveFeedback("c", "d", 2), IM2)[0].data, "participant_id", "role"
    ) == {
        "participant_id": "im2",
        "role": "incident_manager",
    }
    assert drill.state.feedback_from == {"im1", "im2"}


def test_observers_give_feedback_too(drill: Drill) -> None:
    _ended(drill)
    (event,) = drill.run(c.GiveFeedback("Good pace", "More injects", 5), OBSERVER)
    assert picked(event.data, "participant_id", "role") == {"participant_id": "obs1", "role": None}


def test_a_participant_who_left_may_still_send_feedback(drill: Drill) -> None:
    drill.run(c.Leave("comms1"), COMMS)
    _ended(drill)
    assert drill.run(c.GiveFeedback("", "", 1), COMMS)[0].data["participant_id"] == "comms1"


def test_feedback_after_the_scenarios_time_ran_out(drill: Drill) -> None:
    drill.at_scenario(10 * 60 * MINUTE)
    assert drill.of(EventType.drill_ended)
    assert drill.run(c.GiveFeedback("x", "y", 2), LEGAL)[0].type is EventType.feedback_given


def test_feedback_waits_for_the_end(lobby: Drill) -> None:
    command = c.GiveFeedback("a", "b", 3)
    assert lobby.refuse(command, LEGAL) is Code.drill_not_ended
    lobby.start()
    assert lobby.refuse(command, LEGAL) is Code.drill_not_ended
    lobby.run(c.PauseClock())
    assert lobby.refuse(command, LEGAL) is Code.drill_not_ended


def test_the_facilitator_and_strangers_do_not_give_feedback(drill: Drill) -> None:
    _ended(drill)
    assert drill.refuse(c.GiveFeedback("a", "b", 3)) is Code.not_permitted
    assert drill.refuse(c.GiveFeedback("a", "b", 3), GHOST) is Code.unknown_participant


@pytest.mark.parametrize("confidence", [0, 6, -1, 100])
def test_confidence_is_one_to_five(drill: Drill, confidence: int) -> None:
    _ended(drill)
    assert drill.refuse(c.GiveFeedback("a", "b", confidence), LEGAL) is Code.invalid_input


@pytest.mark.parametrize("confidence", [1, 2, 3, 4, 5])
def test_every_confidence_from_one_to_five_is_accepted(drill: Drill, confidence: int) -> None:
    _ended(drill)
    assert drill.run(c.GiveFeedback("a", "b", confidence), LEGAL)[0].data["confidence"] == (
        confidence
    )


LONGEST = "x" * c.MAX_FEEDBACK_CHARS
TOO_LONG = LONGEST + "x"


@pytest.mark.parametrize(
    ("went_well", "improve"), [(TOO_LONG, "b"), ("a", TOO_LONG), (TOO_LONG, TOO_LONG)]
)
def test_feedback_answers_are_capped(drill: Drill, went_well: str, improve: str) -> None:
    _ended(drill)
    assert drill.refuse(c.GiveFeedback(went_well, improve, 3), LEGAL) is Code.invalid_input
    assert drill.state.feedback_from == set()


def test_the_longest_answers_are_accepted_and_spaces_do_not_count(drill: Drill) -> None:
    _ended(drill)
    (event,) = drill.run(c.GiveFeedback(f"  {LONGEST}  ", LONGEST, 3), LEGAL)
    assert event.data["went_well"] == LONGEST
    assert event.data["improve"] == LONGEST


def test_feedback_does_not_change_the_scores(drill: Drill) -> None:
    drill.advance(2 * MINUTE)
    drill.run(c.Answer("isolate", "now"), IM)
    _ended(drill)
    before = scorecard(drill.scenario, drill.events)
    points = dict(drill.state.points)
    drill.run(c.GiveFeedback("a", "b", 5), IM)
    assert scorecard(drill.scenario, drill.events) == before
    assert drill.state.points == points
