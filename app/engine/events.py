"""The drill log: everything that happened, as immutable events numbered by seq."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, cast


class EventType(StrEnum):
    drill_created = "drill_created"
    participant_joined = "participant_joined"
    participant_left = "participant_left"
    clock_started = "clock_started"
    clock_paused = "clock_paused"
    clock_resumed = "clock_resumed"
    clock_speed_changed = "clock_speed_changed"
    clock_jumped = "clock_jumped"
    inject_delivered = "inject_delivered"
    inject_skipped = "inject_skipped"
    decision_opened = "decision_opened"
    decision_answered = "decision_answered"
    decision_timed_out = "decision_timed_out"
    decision_closed = "decision_closed"
    role_unavailable = "role_unavailable"
    role_available = "role_available"
    message_sent = "message_sent"
    expectation_met = "expectation_met"
    expectation_missed = "expectation_missed"
    note_added = "note_added"
    scores_released = "scores_released"
    score_adjusted = "score_adjusted"
    feedback_given = "feedback_given"
    drill_ended = "drill_ended"
    notice_drafted = "notice_drafted"
    notice_signed_off = "notice_signed_off"
    notice_field_rated = "notice_field_rated"
    party_replied = "party_replied"
    reply_suggested = "reply_suggested"
    reply_skipped = "reply_skipped"
    feed_posted = "feed_posted"


_BY_VALUE: dict[str, EventType] = {kind.value: kind for kind in EventType}


def event_type(value: str) -> EventType:
    """`EventType(value)` at the cost of a dict look-up: a log is read 10,000s at a time."""
    found = _BY_VALUE.get(value)
    return found if found is not None else EventType(value)  # unknown: EventType's error


FACILITATOR = "facilitator"
SYSTEM = "system"


def facilitator_actor(user: str | None) -> str:
    """The actor of a facilitator's events: "facilitator:<user name>", so the log says
    which account started, paused or injected (the audit trail). Logs written before
    accounts were named, and commands from the command line, say just "facilitator"."""
    return f"{FACILITATOR}:{user}" if user else FACILITATOR


def is_facilitator_actor(actor: str) -> bool:
    return actor == FACILITATOR or actor.startswith(f"{FACILITATOR}:")


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of a drill's log.

    `at` is wall-clock time (Unix seconds, UTC) when it was recorded; `scenario_time` is
    seconds since the scenario's start, on the story's clock. For what fell due while the
    server was down, `scenario_time` is when it was due, not when it was written.
    `actor` is a participant id, "facilitator" or "system": the log is the audit trail.
    `data` holds what app/engine/payloads.py declares for the event's type; read it through
    the readers there, so that mypy checks each key.
    """

    seq: int
    type: EventType
    at: float
    scenario_time: float
    actor: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": str(self.type),
            "at": self.at,
            "scenario_time": self.scenario_time,
            "actor": self.actor,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        return cls(
            seq=int(raw["seq"]),
            type=event_type(raw["type"]),
            at=float(raw["at"]),
            scenario_time=float(raw["scenario_time"]),
            actor=str(raw["actor"]),
            data=dict(raw.get("data") or {}),
        )


class _Stored:
    """Event's slots, in Event's order, without the frozen dataclass's `__init__`.

    A frozen dataclass sets each field through `object.__setattr__`: about 1 us an event,
    10 ms of every read of a 10,000-event log. `stored_event` fills this plain slotted
    object and makes it an Event, which CPython allows between classes of the same
    layout: the result is an Event like any other (frozen, equal, the same repr)."""

    # Event's order, not sorted: the layout must match for the change of class.
    __slots__ = ("seq", "type", "at", "scenario_time", "actor", "data")  # noqa: RUF023
    seq: int
    type: EventType
    at: float
    scenario_time: float
    actor: str
    data: dict[str, Any]


if _Stored.__slots__ != tuple(f.name for f in fields(Event)):  # pragma: no cover
    raise TypeError("_Stored must have Event's fields, in Event's order")


def stored_event(
    seq: int,
    type: EventType,
    at: float,
    scenario_time: float,
    actor: str,
    data: dict[str, Any],
) -> Event:
    """`Event(seq, type, at, scenario_time, actor, data)`, for the log's rows as this server
    wrote them (a restarted server reads 10,000s of them): no check is skipped, as Event
    makes none; only the frozen dataclass's slow `__init__` is."""
    event = _Stored.__new__(_Stored)
    event.seq = seq
    event.type = type
    event.at = at
    event.scenario_time = scenario_time
    event.actor = actor
    event.data = data
    event.__class__ = Event  # type: ignore[assignment]
    return cast(Event, event)
