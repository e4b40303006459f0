"""Who sees score adjustments and hot-wash feedback.

`score_adjusted` reaches participants only once the facilitator releases the scores;
`feedback_given` reaches only its author, the facilitator and observers, released or not.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.engine import commands as c
from app.engine.events import Event, EventType
from app.realtime.visibility import FACILITATOR_VIEW, Viewer, visible, visible_log
from tests.engine.harness import MINUTE, Drill, as_participant
from tests.engine.scenarios import ransomware

LEGAL = Viewer("participant", "legal", "p-legal")
OTHER_LEGAL = Viewer("participant", "legal", "p-legal2")
COMMS = Viewer("participant", "communications", "p-comms")
OBSERVER = Viewer("observer", None, "p-obs")


def _event(kind: EventType, **data: Any) -> Event:
    return Event(9, kind, 0.0, 60.0, "facilitator", data)


ADJUSTED = _event(
    EventType.score_adjusted, objective_id="contain", points=-2.0, reason="Slow", role="legal"
)
FEEDBACK = _event(
    EventType.feedback_given,
    participant_id="p-legal",
    role="legal",
    went_well="Roles",
    improve="Speed",
    confidence=3,
)


@pytest.mark.parametrize("viewer", [LEGAL, COMMS])
def test_an_adjustment_reaches_participants_only_once_scores_are_released(
    viewer: Viewer,
) -> None:
    assert visible(ADJUSTED, viewer, scores_released=False) is None
    assert visible(ADJUSTED, viewer, scores_released=True) == ADJUSTED.to_dict()


@pytest.mark.parametrize("viewer", [FACILITATOR_VIEW, OBSERVER])
@pytest.mark.parametrize("released", [False, True])
def test_the_facilitator_and_observers_always_see_adjustments(
    viewer: Viewer, released: bool
) -> None:
    assert visible(ADJUSTED, viewer, scores_released=released) == ADJUSTED.to_dict()


@pytest.mark.parametrize("released", [False, True])
def test_feedback_reaches_its_author(released: bool) -> None:
    assert visible(FEEDBACK, LEGAL, scores_released=released) == FEEDBACK.to_dict()


@pytest.mark.parametrize("viewer", [OTHER_LEGAL, COMMS, Viewer("participant", None, "p-x")])
@pytest.mark.parametrize("released", [False, True])
def test_feedback_is_hidden_from_other_participants(viewer: Viewer, released: bool) -> None:
    assert visible(FEEDBACK, viewer, scores_released=released) is None


@pytest.mark.parametrize("viewer", [FACILITATOR_VIEW, OBSERVER])
@pytest.mark.parametrize("released", [False, True])
def test_the_facilitator_and_observers_read_all_feedback(viewer: Viewer, released: bool) -> None:
    assert visible(FEEDBACK, viewer, scores_released=released) == FEEDBACK.to_dict()


def test_a_real_drill_log_filtered_per_viewer() -> None:
    drill = Drill(ransomware()).create()
    for participant_id, role in (("im1", "incident_manager"), ("legal1", "legal"), ("o", None)):
        drill.join(participant_id, role)
    drill.start()
    drill.advance(MINUTE)
    drill.run(c.AdjustScore("contain", 1, "Quick triage", role="incident_manager"))
    drill.run(c.EndDrill())
    drill.run(c.GiveFeedback("Calm", "Faster", 4), as_participant("im1"))
    drill.run(c.GiveFeedback("Clear", "Louder", 2), as_participant("legal1"))

    im = Viewer("participant", "incident_manager", "im1")

    def kinds(viewer: Viewer) -> list[tuple[EventType, str | None]]:
        shown = visible_log(drill.events, viewer, drill.state.scores_released)
        return [
            (EventType(e["type"]), e["data"].get("participant_id"))
            for e in shown
            if e["type"] in (EventType.score_adjusted, EventType.feedback_given)
        ]

    assert kinds(im) == [(EventType.feedback_given, "im1")]
    everything = [
        (EventType.score_adjusted, None),
        (EventType.feedback_given, "im1"),
        (EventType.feedback_given, "legal1"),
    ]
    assert kinds(Viewer("observer", None, "o")) == everything
    assert kinds(FACILITATOR_VIEW) == everything

    drill.run(c.ReleaseScores())
    assert drill.state.scores_released
    assert kinds(im) == [(EventType.score_adjusted, None), (EventType.feedback_given, "im1")]


def test_the_release_carries_the_scorecard_it_was_given_and_an_old_empty_one_still_replays() -> (
    None
):
    """The drills service gives `release_scores` the scorecard of the log so far; the
    engine writes it into the event (pure: it computes nothing). A log written before
    (`data: {}`) replays to the same released state, reads the same in the timeline and
    reaches participants as it is."""
    from app.engine.core import replay
    from app.engine.timeline import describe

    drill = Drill(ransomware())
    drill.create()
    card = {"overall": {"points": -2.0}, "items": []}
    (released,) = drill.run(c.ReleaseScores(scorecard=card))
    assert released.type is EventType.scores_released and released.data == {"scorecard": card}
    shown = visible(released, LEGAL, True)
    assert shown is not None and shown["data"] == {"scorecard": card}
    old = Event(released.seq, EventType.scores_released, released.at, 0.0, "facilitator", {})
    state = replay(drill.scenario, [*drill.events[:-1], old])
    assert state.scores_released and state.seq == released.seq
    old_entry, new_entry = describe(drill.scenario, old), describe(drill.scenario, released)
    assert old_entry is not None and new_entry is not None
    assert old_entry.text == new_entry.text
    shown_old = visible(old, LEGAL, True)
    assert shown_old is not None and shown_old["data"] == {}
