"""`stored_event`, the log reader's way to build an Event, makes the same Event as the
dataclass's own constructor: equal, frozen, of the same class, shown the same."""

from __future__ import annotations

import dataclasses

import pytest

from app.engine.events import Event, EventType, stored_event


@pytest.mark.parametrize("kind", list(EventType))
def test_a_stored_event_is_the_event_the_constructor_makes(kind: EventType) -> None:
    data = {"drill_id": "d", "to": ["legal"], "nested": {"n": [1, 2.5, None]}}
    made = Event(7, kind, 1_800_000_000.5, 3600.0, "facilitator:ann", data)
    stored = stored_event(7, kind, 1_800_000_000.5, 3600.0, "facilitator:ann", data)
    assert type(stored) is Event
    assert stored == made
    assert repr(stored) == repr(made)
    assert stored.to_dict() == made.to_dict()
    assert dataclasses.astuple(stored) == dataclasses.astuple(made)
    assert Event.from_dict(stored.to_dict()) == stored


def test_a_stored_event_is_as_frozen_as_any_other() -> None:
    stored = stored_event(1, EventType.note_added, 0.0, 0.0, "system", {"text": "x"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        stored.seq = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del stored.data
    assert dataclasses.replace(stored, seq=2) == Event(
        2, EventType.note_added, 0.0, 0.0, "system", {"text": "x"}
    )
