"""The visibility filter, event type by event type (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from app.engine.events import Event, EventType
from app.realtime.visibility import FACILITATOR_VIEW, Viewer, visible

LEGAL = Viewer("participant", "legal", "p-legal")
OBSERVER = Viewer("observer", None, "p-obs")


def _event(kind: EventType, **data: Any) -> Event:
    return Event(7, kind, 0.0, 60.0, "system", data)


@pytest.mark.parametrize(
    ("event", "legal_sees"),
    [
        (
            _event(
                EventType.inject_delivered,
                inject_id="a",
                recipients=["legal"],
                facts=["x"],
                body="**b**",
            ),
            True,
        ),
        (
            _event(EventType.inject_delivered, inject_id="a", recipients=["executive"], body="b"),
            False,
        ),
        (_event(EventType.inject_skipped, inject_id="a", reason="condition"), False),
        (_event(EventType.decision_opened, decision_id="d", roles=["executive"]), False),
        (_event(EventType.decision_opened, decision_id="d", roles=["legal"]), True),
        (_event(EventType.message_sent, from_role="hr", to=["press"], recipients=[]), False),
        (_event(EventType.message_sent, from_role="hr", to=["legal"], recipients=["legal"]), True),
        (
            _event(EventType.message_sent, from_role="hr", to=["executive"], recipients=["legal"]),
            True,
        ),  # legal stands in for the executive
        (_event(EventType.note_added, text="slow to escalate"), False),
        (_event(EventType.expectation_met, expectation_id="e", points=10), False),
        (_event(EventType.clock_paused), True),
        (_event(EventType.participant_joined, participant_id="p-legal", role="legal"), True),
        (_event(EventType.participant_joined, participant_id="p-hr", role="legal"), False),
        (_event(EventType.participant_left, participant_id="p-hr"), False),
    ],
)
def test_a_participant_sees_only_their_share(event: Event, legal_sees: bool) -> None:
    assert (visible(event, LEGAL, scores_released=False) is not None) is legal_sees
    for everything in (FACILITATOR_VIEW, OBSERVER):
        shown = visible(event, everything, scores_released=False)
        assert shown is not None
        assert shown["data"].items() >= event.data.items()  # all of it (plus body_html)


def test_inject_bodies_come_rendered_and_sanitised() -> None:
    inject = _event(
        EventType.inject_delivered,
        recipients=["legal"],
        body="**Ransom** note <script>alert(1)</script>",
    )
    shown = visible(inject, LEGAL, scores_released=False)
    assert shown is not None
    assert "<strong>Ransom</strong>" in shown["data"]["body_html"]
    assert "<script>" not in shown["data"]["body_html"]


def test_scores_show_only_after_release_and_facts_never() -> None:
    met = _event(EventType.expectation_met, expectation_id="e", points=10)
    assert visible(met, LEGAL, scores_released=True) is not None
    inject = _event(EventType.inject_delivered, recipients=["legal"], facts=["breach"], body="b")
    shown = visible(inject, LEGAL, scores_released=True)
    assert shown is not None and "facts" not in shown["data"]
    created = _event(EventType.drill_created, name="D", variables={"ceo": "Ann"})
    shown_created = visible(created, LEGAL, scores_released=False)
    assert shown_created is not None and "variables" not in shown_created["data"]


def test_view_keys_group_exactly_the_viewers_who_see_the_same_thing() -> None:
    """The hub encodes each event once per view key: viewers that share a key must get
    identical messages, whatever the event."""
    from app.realtime.hub import view_key

    viewers = [
        LEGAL,
        Viewer("participant", "legal", "p-legal-2"),
        Viewer("participant", "hr", "p-hr"),
        OBSERVER,
        FACILITATOR_VIEW,
    ]
    events = [
        _event(EventType.participant_joined, participant_id="p-legal", role="legal"),
        _event(EventType.feedback_given, participant_id="p-hr", confidence=3),
        _event(EventType.inject_delivered, inject_id="a", recipients=["legal"], body="x"),
        _event(EventType.expectation_met, expectation_id="e", points=10),
        _event(EventType.clock_paused),
    ]
    for event in events:
        for released in (False, True):
            seen: dict[object, object] = {}
            for viewer in viewers:
                key = view_key(event, viewer, released)
                shown = visible(event, viewer, released)
                assert seen.setdefault(key, shown) == shown, (event.type, viewer)


def test_logs_written_before_a_key_existed_are_filtered_without_it() -> None:
    """Older logs lack `roles` on decision events, `recipients` on messages and
    `variables` on drill_created: the filter reads them as empty, never fails on them."""
    old_decision = _event(EventType.decision_answered, decision_id="pay", option_id="no")
    assert visible(old_decision, LEGAL, False) is None
    assert visible(old_decision, FACILITATOR_VIEW, False) is not None
    old_message = _event(EventType.message_sent, from_role="executive", to=["legal"], body="hi")
    assert visible(old_message, LEGAL, False) is not None
    aside = _event(EventType.message_sent, from_role="executive", to=["regulator"], body="x")
    assert visible(aside, LEGAL, False) is None
    created = _event(EventType.drill_created, name="Old", roles=["legal"])
    shown = visible(created, LEGAL, False)
    assert shown is not None and shown["data"] == {"name": "Old", "roles": ["legal"]}


def test_a_participant_sees_their_own_arrival_and_departure_only() -> None:
    for kind in (EventType.participant_joined, EventType.participant_left):
        mine = _event(kind, participant_id="p-legal", name="Lee", role="legal")
        theirs = _event(kind, participant_id="p-exec", name="Eve", role="executive")
        assert visible(mine, LEGAL, False) is not None, kind
        assert visible(theirs, LEGAL, False) is None, kind
