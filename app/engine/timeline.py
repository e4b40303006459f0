"""Events told as a timeline in scenario time: for dry-runs, live views and reports."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.engine.durations import format_clock, format_duration
from app.engine.events import Event, EventType
from app.engine.scenario import Scenario, fill
from app.engine.scoring import first_line, not_answered


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    offset: str
    """T+HH:MM since the scenario's start."""
    story_time: str
    """The in-world date and time, in the scenario's time zone."""
    kind: str
    text: str

    def as_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "offset": self.offset,
            "story_time": self.story_time,
            "kind": self.kind,
            "text": self.text,
        }


def story_datetime(scenario: Scenario, scenario_time: float) -> datetime:
    start = scenario.clock.start
    zone = ZoneInfo(scenario.clock.timezone)
    start = start.replace(tzinfo=zone) if start.tzinfo is None else start.astimezone(zone)
    return start + timedelta(seconds=scenario_time)


def _names(scenario: Scenario, ids: list[str]) -> str:
    return ", ".join(scenario.recipient_name(i) for i in ids)


def describe(scenario: Scenario, event: Event) -> Entry | None:
    """One line for an event a person would want in a timeline; None for bookkeeping."""
    d = event.data
    text: str | None
    kind = event.type.value
    match event.type:
        case EventType.drill_created:
            text = f"Drill {d['name']!r} created ({len(d['roles'])} roles in play)"
        case EventType.participant_joined:
            role = scenario.role_title(d["role"]) if d["role"] else "observer"
            text = f"{d['name']} joined as {role}"
        case EventType.participant_left:
            text = "A participant left"
        case EventType.clock_started:
            text = f"Clock started at {d['speed']:g}x"
        case EventType.clock_paused:
            text = "Clock paused"
        case EventType.clock_resumed:
            text = "Clock resumed"
        case EventType.clock_speed_changed:
            text = f"Speed changed to {d['speed']:g}x"
        case EventType.clock_jumped:
            text = f"Clock jumped to {format_clock(d['to'])}"
        case EventType.inject_delivered:
            via = f" via {d['channel']}"
            manual = " (manual)" if d.get("manual") else ""
            stand_in = ""
            if d["recipients"] != d["to"]:
                stand_in = f" (received by {_names(scenario, d['recipients'])})"
            text = f"{d['title']}{manual} -> {_names(scenario, d['to'])}{stand_in}{via}"
        case EventType.inject_skipped:
            why = (
                "suppressed by an earlier choice"
                if d["reason"] == "suppressed"
                else "its condition was false"
            )
            if d["reason"] == "facilitator":
                why = "skipped by the facilitator"
            text = f"{_inject_title(scenario, d['inject_id'])} skipped: {why}"
        case EventType.decision_opened:
            text = (
                f"{_prompt(scenario, d['decision_id'])} put to {_names(scenario, d['roles'])}, "
                f"due {format_clock(d['deadline'])}"
            )
        case EventType.decision_answered:
            text = (
                f"{scenario.role_title(d['answered_by_role'])} chose "
                f"{_option_label(scenario, d['decision_id'], d['option_id'])} "
                f"in {format_duration(d['latency'])}"
            )
        case EventType.decision_timed_out:
            label = _option_label(scenario, d["decision_id"], d["option_id"])
            text = f"{_prompt(scenario, d['decision_id'])}: {not_answered(label)}"
        case EventType.decision_closed:
            text = f"{_prompt(scenario, d['decision_id'])} closed"
        case EventType.role_unavailable:
            backup = f"; {scenario.role_title(d['backup'])} acts" if d.get("backup") else ""
            text = f"{scenario.role_title(d['role'])} is unavailable{backup}"
        case EventType.role_available:
            text = f"{scenario.role_title(d['role'])} is available again"
        case EventType.message_sent:
            what = "message"
            if d.get("statement_id"):
                what = f"drawer statement {_statement_title(scenario, d['statement_id'])!r}"
            subject = f": {d['subject']}" if d.get("subject") else ""
            blanks = f" (blanks left in: {', '.join(d['blanks'])})" if d.get("blanks") else ""
            text = (
                f"{scenario.role_title(d['from_role'])} sent {what} to "
                f"{_names(scenario, d['to'])}{subject}{blanks}"
            )
        case EventType.expectation_met:
            label = "on time" if d["status"] == "on_time" else "late"
            text = (
                f"{_expectation_title(scenario, d['expectation_id'])}: met {label} by "
                f"{scenario.role_title(d['from_role'])} ({d['points']:g} pts)"
            )
        case EventType.expectation_missed:
            text = f"{_expectation_title(scenario, d['expectation_id'])}: missed"
        case EventType.note_added:
            text = f"Note: {d['text']}"
        case EventType.scores_released:
            text = "Scores released to participants"
        case EventType.drill_ended:
            text = f"Drill ended: {d.get('why') or end_reason(scenario, d['reason'])}"
        case EventType.score_adjusted:
            objective = scenario.objectives.get(d["objective_id"])
            title = objective.title if objective else d["objective_id"]
            text = f"Score for {title!r} adjusted {d['points']:+g}: {d['reason']}"
        case EventType.feedback_given:
            text = None  # hot-wash answers belong to the report's own section
        case _:  # pragma: no cover - every event type is described above
            text = None
    if text is None:
        return None
    when = story_datetime(scenario, event.scenario_time)
    return Entry(
        event.seq, format_clock(event.scenario_time), when.strftime("%a %d %b %H:%M"), kind, text
    )


def _option_label(scenario: Scenario, decision_id: str, option_id: str) -> str:
    for option in scenario.decision(decision_id).options:
        if option.id == option_id:
            return option.label
    return option_id


def end_reason(scenario: Scenario, reason: str) -> str:
    """Why a drill ended, in words: the engine records "inject ID" and "option D.O"."""
    kind, _, ref = reason.partition(" ")
    if kind == "inject" and scenario.has_inject(ref):
        return f"the inject {scenario.inject(ref).title!r} ends the story"
    decision_id, dot, rest = ref.partition(".")
    if kind == "option" and dot and scenario.has_decision(decision_id):
        option_id, _, suffix = rest.partition(" ")
        label = _option_label(scenario, decision_id, option_id)
        chosen = "was taken when time ran out" if suffix else "was chosen"
        return f"{label!r} {chosen}, which ends the story"
    return reason


def _prompt(scenario: Scenario, decision_id: str) -> str:
    """A decision as people know it: the first line of its question."""
    if not scenario.has_decision(decision_id):
        return f"Decision {decision_id}"
    return f"Decision {first_line(scenario.decision(decision_id).prompt, 90)!r}"


def _inject_title(scenario: Scenario, inject_id: str) -> str:
    return scenario.inject(inject_id).title if scenario.has_inject(inject_id) else inject_id


def _statement_title(scenario: Scenario, statement_id: str) -> str:
    found = next((s for s in scenario.statements if s.id == statement_id), None)
    return found.title if found is not None else statement_id


def _expectation_title(scenario: Scenario, expectation_id: str) -> str:
    try:
        return scenario.expectation(expectation_id).title
    except KeyError:
        return expectation_id


def timeline(scenario: Scenario, events: list[Event]) -> list[Entry]:
    """The log told line by line, with this drill's {{variables}} filled in (party and
    role names may hold them)."""
    values: dict[str, str] = events[0].data.get("variables", {}) if events else {}
    return [
        replace(entry, text=fill(entry.text, values))
        for e in events
        if (entry := describe(scenario, e)) is not None
    ]
