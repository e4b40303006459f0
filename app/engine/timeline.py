"""Events told as a timeline in scenario time: for dry-runs, live views and reports."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TypeVar

from app.engine import payloads as p
from app.engine.durations import format_clock, format_duration
from app.engine.events import Event, EventType
from app.engine.headlines import headline
from app.engine.index import index_of
from app.engine.scenario import Scenario, fill, story_datetime
from app.engine.scoring import not_answered
from app.regimes.library import RegimeError
from app.regimes.library import regime as shipped_regime


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


def _names(scenario: Scenario, ids: list[str]) -> str:
    told = index_of(scenario).names
    key = tuple(ids)
    found = told.get(key)
    if found is None:
        found = told[key] = ", ".join(scenario.recipient_name(i) for i in ids)
    return found


def describe(scenario: Scenario, event: Event) -> Entry | None:
    """One line for an event a person would want in a timeline; None for bookkeeping."""
    text = describe_text(scenario, event)
    if text is None:
        return None
    when = story_datetime(scenario, event.scenario_time)
    return Entry(
        event.seq,
        format_clock(event.scenario_time),
        when.strftime(STORY_TIME),
        event.type.value,
        text,
    )


STORY_TIME = "%a %d %b %H:%M"
"""How a line gives the story's date and time (in the scenario's time zone)."""


def describe_text(scenario: Scenario, event: Event) -> str | None:
    """The words of `describe`'s line, without its times."""
    text = _story_text(scenario, event)
    return _drill_text(scenario, event) if text is None else text


def _drill_text(scenario: Scenario, event: Event) -> str | None:
    """The drill's own events: people, the clock, notes, scores and the end."""
    match event.type:
        case EventType.drill_created:
            created = p.drill_created(event)
            return f"Drill {created['name']!r} created ({len(created['roles'])} roles in play)"
        case EventType.participant_joined:
            joined = p.participant_joined(event)
            role = scenario.role_title(joined["role"]) if joined["role"] else "observer"
            return f"{joined['name']} joined as {role}"
        case EventType.participant_left:
            return "A participant left"
        case EventType.clock_started:
            started = p.clock_started(event)
            unfilled = started.get("unfilled_required")
            without = f", without {_names(scenario, unfilled)}" if unfilled else ""
            return f"Clock started at {started['speed']:g}x{without}"
        case EventType.clock_paused:
            return "Clock paused"
        case EventType.clock_resumed:
            return "Clock resumed"
        case EventType.clock_speed_changed:
            changed = p.clock_speed_changed(event)
            return f"Speed changed from {changed['previous']:g}x to {changed['speed']:g}x"
        case EventType.clock_jumped:
            return f"Clock jumped to {format_clock(p.clock_jumped(event)['to'])}"
        case EventType.note_added:
            return f"Note: {p.note_added(event)['text']}"
        case EventType.scores_released:
            return "Scores released to participants"
        case EventType.drill_ended:
            ended = p.drill_ended(event)
            why: str | None = ended.get("why")
            return f"Drill ended: {why or end_reason(scenario, ended['reason'])}"
        case EventType.score_adjusted:
            return _adjusted_text(scenario, p.score_adjusted(event))
        case EventType.notice_field_rated:
            rated = p.notice_field_rated(event)
            verdict = {True: "complete", False: "incomplete", None: "back to the rules"}
            return (
                f"Notice {_notice_name(rated['regime'], rated['duty'])}, field "
                f"{rated['field']!r} rated {verdict[rated['complete']]}: {rated['reason']}"
            )
    return None  # feedback_given: hot-wash answers belong to the report's own section


def _story_text(scenario: Scenario, event: Event) -> str | None:
    """What happened in the story: injects, decisions, availability, messages."""
    match event.type:
        # Cases are tried in order: messages first, nine lines in ten of a long log.
        case EventType.message_sent:
            return _message_text(scenario, p.message_sent(event))
        case EventType.inject_delivered:
            return _delivered_text(scenario, p.inject_delivered(event))
        case EventType.inject_skipped:
            return _skipped_text(scenario, p.inject_skipped(event))
        case EventType.decision_opened:
            opened = p.decision_opened(event)
            return (
                f"{_prompt(scenario, opened['decision_id'])} put to "
                f"{_names(scenario, opened['roles'])}, due {format_clock(opened['deadline'])}"
            )
        case EventType.decision_answered:
            answered = p.decision_answered(event)
            return (
                f"{_prompt(scenario, answered['decision_id'])}: "
                f"{scenario.role_title(answered['answered_by_role'])} chose "
                f"{_option_label(scenario, answered['decision_id'], answered['option_id'])} "
                f"in {format_duration(answered['latency'])}"
            )
        case EventType.decision_timed_out:
            timed_out = p.decision_timed_out(event)
            label = _option_label(scenario, timed_out["decision_id"], timed_out["option_id"])
            return f"{_prompt(scenario, timed_out['decision_id'])}: {not_answered(label)}"
        case EventType.decision_closed:
            return f"{_prompt(scenario, p.decision_closed(event)['decision_id'])} closed"
        case EventType.role_unavailable:
            away = p.role_unavailable(event)
            backup = f"; {scenario.role_title(away['backup'])} acts" if away["backup"] else ""
            return f"{scenario.role_title(away['role'])} is unavailable{backup}"
        case EventType.role_available:
            return f"{scenario.role_title(p.role_available(event)['role'])} is available again"
        case EventType.expectation_met:
            return _met_text(scenario, p.expectation_met(event))
        case EventType.expectation_missed:
            missed = p.expectation_missed(event)
            return f"{_expectation_title(scenario, missed['expectation_id'])}: missed"
        case EventType.notice_drafted:
            drafted = p.notice_drafted(event)
            edited = ", ".join(f.replace("_", " ") for f in drafted["fields"]) or "the follow-up"
            return (
                f"{scenario.role_title(drafted['role'])} edited the notice "
                f"{_notice_name(drafted['regime'], drafted['duty'])}: {edited}"
            )
        case EventType.party_replied:
            replied = p.party_replied(event)
            by = " (white cell)" if replied["by"] == "white_cell" else ""
            subject = f": {replied['subject']}" if replied["subject"] else ""
            return (
                f"{scenario.recipient_name(replied['party'])} replied to "
                f"{_names(scenario, replied['to'])}{by}{subject}"
            )
        case EventType.reply_suggested:
            suggested = p.reply_suggested(event)
            return (
                f"Reply {suggested['reply_id']!r} of {scenario.recipient_name(suggested['party'])} "
                f"suggested to the white cell, for {_names(scenario, suggested['to'])}"
            )
        case EventType.reply_skipped:
            skipped = p.reply_skipped(event)
            return (
                f"Reply {skipped['reply_id']!r} of {scenario.recipient_name(skipped['party'])} "
                "not sent: its condition was false"
            )
        case EventType.feed_posted:
            posted = p.feed_posted(event)
            who = f"{posted['outlet']} {posted['handle']}" if posted["handle"] else posted["outlet"]
            how = " (the team's statement)" if posted["by"] == "team" else " (white cell)"
            return f"Public feed, {who}{how}: {headline(posted['text'])}"
        case EventType.notice_signed_off:
            signed = p.notice_signed_off(event)
            return (
                f"{scenario.role_title(signed['role'])} signed off the notice "
                f"{_notice_name(signed['regime'], signed['duty'])}"
            )
    return None


def _notice_name(regime_id: str, duty_id: str) -> str:
    """ "GDPR: Notify the supervisory authority", or the ids for a regime no longer shipped."""
    try:
        found = shipped_regime(regime_id)
        return repr(f"{found.name}: {found.duty(duty_id).title}")
    except (RegimeError, KeyError):
        return f"{regime_id}.{duty_id}"


def _delivered_text(scenario: Scenario, d: p.InjectDeliveredData) -> str:
    via = f" via {d['channel']}, severity {d['severity']}"
    manual = " (manual)" if d["manual"] else ""
    if d.get("fired_by_facilitator"):
        manual = " (fired now by the facilitator)"
    stand_in = ""
    if d["recipients"] != d["to"]:
        stand_in = f" (received by {_names(scenario, d['recipients'])})"
    return f"{d['title']}{manual} -> {_names(scenario, d['to'])}{stand_in}{via}"


def _skipped_text(scenario: Scenario, d: p.InjectSkippedData) -> str:
    why = (
        "suppressed by an earlier choice"
        if d["reason"] == "suppressed"
        else "its condition was false"
    )
    if d["reason"] == "facilitator":
        why = "skipped by the facilitator"
    return f"{_inject_title(scenario, d['inject_id'])} skipped: {why}"


def _message_text(scenario: Scenario, d: p.MessageSentData) -> str:
    what = "message"
    if d["statement_id"]:
        what = f"drawer statement {_statement_title(scenario, d['statement_id'])!r}"
    if d.get("notice"):
        what = "the notice form"
    subject = f": {d['subject']}" if d["subject"] else ""
    blanks = d.get("blanks")
    left_in = f" (blanks left in: {', '.join(blanks)})" if blanks else ""
    return (
        f"{scenario.role_title(d['from_role'])} sent {what} to "
        f"{_names(scenario, d['to'])}{subject}{left_in}"
    )


def _met_text(scenario: Scenario, d: p.ExpectationMetData) -> str:
    label = "on time" if d["status"] == "on_time" else "late"
    return (
        f"{_expectation_title(scenario, d['expectation_id'])}: met {label} by "
        f"{scenario.role_title(d['from_role'])} ({d['points']:g} pts)"
    )


def _adjusted_text(scenario: Scenario, d: p.ScoreAdjustedData) -> str:
    objective = scenario.objectives.get(d["objective_id"])
    title = objective.title if objective else d["objective_id"]
    role = f"; role: {scenario.role_title(d['role'])}" if d["role"] else ""
    return f"Score for {title!r} adjusted {d['points']:+g}: {d['reason']}{role}"


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
    return f"Decision {scenario.decision(decision_id).heading()!r}"


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


def describe_filled(scenario: Scenario, event: Event, values: dict[str, str]) -> Entry | None:
    """describe, with a drill's {{variables}} filled in (party and role names may hold
    them): the timeline's lines, and the console's live feed."""
    entry = describe(scenario, event)
    if entry is None:
        return None
    text = fill(entry.text, values)
    return entry if text is entry.text else replace(entry, text=text)


def timeline(scenario: Scenario, events: Sequence[Event]) -> list[Entry]:
    """The log told line by line, with this drill's {{variables}} filled in."""
    return told(scenario, events, _entry)


def _entry(event: Event, offset: str, story_time: str, text: str) -> Entry:
    return Entry(event.seq, offset, story_time, event.type.value, text)


Line = TypeVar("Line")


def told(
    scenario: Scenario,
    events: Sequence[Event],
    line: Callable[[Event, str, str, str], Line],
) -> list[Line]:
    """`timeline`, each line made by `line(event, offset, story_time, text)`: the report
    makes its own lines of 10,000 events without an Entry in between."""
    values: dict[str, str] = p.drill_created(events[0]).get("variables", {}) if events else {}
    stamps = _Stamps(scenario)
    offset, story_time = stamps.offset, stamps.story_time  # looked up once, not per line
    lines = []
    for e in events:
        text = describe_text(scenario, e)
        if text is not None:
            t = e.scenario_time
            lines.append(line(e, offset(t), story_time(t), fill(text, values)))
    return lines


class _Stamps:
    """`describe`'s two times for each line of a whole log. Both read to the minute, and a
    long drill logs many events a minute (10,000 in a day's drill): each minute is
    formatted once."""

    def __init__(self, scenario: Scenario) -> None:
        self.start = story_datetime(scenario, 0.0)
        self.start_epoch = self.start.timestamp()
        self.offsets: dict[int, str] = {}
        self.story_times: dict[int, str] = {}

    def offset(self, scenario_time: float) -> str:
        total = round(scenario_time)
        if total < 0:  # before the start (a clock set back): rare, not kept
            return format_clock(scenario_time)
        minute = total // 60
        found = self.offsets.get(minute)
        if found is None:
            found = self.offsets[minute] = format_clock(scenario_time)
        return found

    def story_time(self, scenario_time: float) -> str:
        # Keyed by the minute since the epoch: a zone's offset from UTC is whole minutes,
        # so one UTC minute is one minute on the story's wall clock too.
        minute = math.floor((self.start_epoch + scenario_time) / 60)
        found = self.story_times.get(minute)
        if found is None:
            when = self.start + timedelta(seconds=scenario_time)
            found = self.story_times[minute] = when.strftime(STORY_TIME)
        return found
