"""Scores that explain themselves: a pure fold of a drill's log into points.

Every point comes from one `ScoreItem` that names the events that earned or lost it
(`seqs`), so the console, the API, the report and every export show the same numbers and
a reviewer can trace each of them. Dimensions: decisions (points per objective from the
option chosen, a timeout counting as the default), communication timing (expectations:
on time, late with linearly falling credit, missed, sent to the wrong party) and the
facilitator's adjustments, each with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.engine.core import apply
from app.engine.events import Event, EventType
from app.engine.scenario import (
    Decision,
    Expectation,
    PartyKind,
    Phase,
    Scenario,
    fill,
    option_of,
)
from app.engine.state import DrillState


class Dimension(StrEnum):
    decisions = "decisions"
    communication = "communication"
    adjustments = "adjustments"


class CommStatus(StrEnum):
    on_time = "on_time"
    late = "late"
    missed = "missed"
    wrong_party = "wrong_party"
    not_due = "not_due"
    """The drill ended before the deadline: not counted either way."""
    pending = "pending"
    """Still running: the deadline (plus grace) has not passed."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Total(_Model):
    points: float
    max_points: float
    percent: float | None = Field(
        description="points / max_points as a percentage, 0 to 100; null with nothing at stake."
    )


class ScoreItem(_Model):
    """One traceable source of points for one objective."""

    dimension: Dimension
    ref: str = Field(description="The decision, expectation or adjustment (by seq) it is for.")
    title: str
    objective: str | None
    role: str | None = Field(description="The role it is credited to, if one.")
    points: float
    max_points: float
    status: str
    detail: str = Field(description="Why, in words: the option chosen, the delay, the reason.")
    seqs: list[int] = Field(description="The events that earned or lost these points.")


class AnswerResult(_Model):
    role: str = Field(description="The role the answer counts for.")
    answered_by_role: str | None = Field(description="Who answered: the role or its backup.")
    participant: str | None = Field(description="Display name of who answered; null if none.")
    option_id: str
    option_label: str
    timed_out: bool = Field(description="Nobody answered in time: the default was taken.")
    latency: float = Field(description="Scenario seconds from the decision opening to this.")
    rationale: str = ""
    seq: int
    points: dict[str, float]


class DecisionResult(_Model):
    decision_id: str
    prompt: str
    roles: list[str]
    opened_at: float
    time_limit: float
    answers: list[AnswerResult]
    alternatives: list[str] = Field(description="Labels of the options nobody chose.")
    closed: bool


class CommunicationResult(_Model):
    expectation_id: str
    title: str
    to: str
    to_name: str
    from_roles: list[str] | None
    objective: str | None
    armed_at: float = Field(description="Scenario time the countdown started.")
    deadline: float
    closes: float = Field(description="Deadline plus grace: after it a message earns nothing.")
    sent_at: float | None
    delta: float | None = Field(description="sent_at - deadline: negative is early.")
    message_seq: int | None
    sent_by_role: str | None
    status: CommStatus
    points: float
    max_points: float


class FirstUpdate(_Model):
    audience: str
    label: str
    at: float | None
    after_trigger: float | None = Field(description="Scenario seconds after the first alert.")
    message_seq: int | None
    from_role: str | None


class Metric(_Model):
    key: str
    label: str
    at: float | None = Field(description="Scenario time it happened; null if it never did.")
    after_trigger: float | None = Field(description="Scenario seconds after the first alert.")
    seq: int | None


class Scorecard(_Model):
    items: list[ScoreItem]
    decisions: list[DecisionResult]
    communications: list[CommunicationResult]
    first_updates: list[FirstUpdate]
    metrics: list[Metric]
    objectives: dict[str, Total]
    roles: dict[str, Total]
    dimensions: dict[str, Total]
    overall: Total


def total(items: Iterable[ScoreItem]) -> Total:
    points = max_points = 0.0
    for item in items:
        points += item.points
        max_points += item.max_points
    points, max_points = round(points, 2), round(max_points, 2)
    percent = None
    if max_points > 0:
        percent = round(min(100.0, max(0.0, 100 * points / max_points)), 1)
    return Total(points=points, max_points=max_points, percent=percent)


# --------------------------------------------------------------------------- decisions


def _best(decision: Decision, objective: str) -> float:
    return max(0.0, *(o.score.get(objective, 0.0) for o in decision.options))


def _objectives_of(decision: Decision) -> list[str]:
    return list(dict.fromkeys(k for o in decision.options for k in o.score))


class _Log:
    """The log indexed once for the folds below."""

    def __init__(self, events: Sequence[Event]) -> None:
        self.events = events
        self.opened: dict[str, Event] = {}
        self.answers: dict[str, list[Event]] = {}
        self.closed: dict[str, list[Event]] = {}
        self.names: dict[str, str] = {}
        self.end: Event | None = None
        self.now = events[-1].scenario_time if events else 0.0
        for e in events:
            if e.type is EventType.decision_opened:
                self.opened.setdefault(e.data["decision_id"], e)
            elif e.type in (EventType.decision_answered, EventType.decision_timed_out):
                self.answers.setdefault(e.data["decision_id"], []).append(e)
            elif e.type is EventType.decision_closed:
                self.closed.setdefault(e.data["decision_id"], []).append(e)
            elif e.type is EventType.participant_joined:
                self.names[e.data["participant_id"]] = e.data["name"]
            elif e.type is EventType.drill_ended and self.end is None:
                self.end = e


def _decision_results(
    scenario: Scenario, log: _Log
) -> tuple[list[DecisionResult], list[ScoreItem]]:
    results: list[DecisionResult] = []
    items: list[ScoreItem] = []
    for decision_id, opened in log.opened.items():
        spec = scenario.decision(decision_id)
        roles = list(opened.data["roles"])
        answers: list[AnswerResult] = []
        for e in log.answers.get(decision_id, []):
            timed_out = e.type is EventType.decision_timed_out
            option = option_of(spec, e.data["option_id"])
            credited = roles if timed_out else [e.data["role"]]
            answers.append(
                AnswerResult(
                    role=e.data.get("role") or ", ".join(roles),
                    answered_by_role=None if timed_out else e.data.get("answered_by_role"),
                    participant=None if timed_out else log.names.get(e.actor),
                    option_id=option.id,
                    option_label=option.label,
                    timed_out=timed_out,
                    latency=e.scenario_time - opened.scenario_time,
                    rationale=e.data.get("rationale", ""),
                    seq=e.seq,
                    points=dict(option.score),
                )
            )
            items.extend(_decision_items(spec, option.id, credited, e, opened, timed_out))
        if spec.per_role and answers and not answers[0].timed_out:
            closed = next((e for e in log.closed.get(decision_id, [])), None)
            if closed is not None:
                answered = {a.role for a in answers}
                silent = [r for r in roles if r not in answered]
                items.extend(_unanswered_items(spec, silent, opened, closed))
        chosen = {a.option_id for a in answers}
        results.append(
            DecisionResult(
                decision_id=decision_id,
                prompt=opened.data.get("prompt", spec.prompt),
                roles=roles,
                opened_at=opened.scenario_time,
                time_limit=spec.time_limit,
                answers=answers,
                alternatives=[o.label for o in spec.options if o.id not in chosen],
                # A per-role decision closes at its deadline even if some roles stayed silent.
                closed=decision_id in log.closed
                or (bool(answers) and (not spec.per_role or answers[0].timed_out)),
            )
        )
    return results, items


def _decision_items(
    spec: Decision,
    option_id: str,
    credited: list[str],
    answer: Event,
    opened: Event,
    timed_out: bool,
) -> list[ScoreItem]:
    """Points per objective for one answer; a timeout's are shared by the roles asked."""
    option = option_of(spec, option_id)
    share = 1 / len(credited)
    latency = answer.scenario_time - opened.scenario_time
    how = (
        f"no answer within {_minutes(spec.time_limit)}: default '{option.label}'"
        if timed_out
        else f"chose '{option.label}' after {_minutes(latency)} of {_minutes(spec.time_limit)}"
    )
    items = []
    for objective in _objectives_of(spec):
        for role in credited:
            items.append(
                ScoreItem(
                    dimension=Dimension.decisions,
                    ref=spec.id,
                    title=_first_line(spec.prompt),
                    objective=objective,
                    role=role,
                    points=round(option.score.get(objective, 0.0) * share, 2),
                    max_points=round(_best(spec, objective) * share, 2),
                    status="timed_out" if timed_out else "answered",
                    detail=how,
                    seqs=[opened.seq, answer.seq],
                )
            )
    return items


def _unanswered_items(
    spec: Decision, silent: list[str], opened: Event, closed: Event
) -> list[ScoreItem]:
    """Each role asked for its own answer that gave none: nothing earned, the best at stake."""
    return [
        ScoreItem(
            dimension=Dimension.decisions,
            ref=spec.id,
            title=_first_line(spec.prompt),
            objective=objective,
            role=role,
            points=0.0,
            max_points=_best(spec, objective),
            status="unanswered",
            detail=f"{role} gave no answer within {_minutes(spec.time_limit)}",
            seqs=[opened.seq, closed.seq],
        )
        for objective in _objectives_of(spec)
        for role in silent
    ]


# --------------------------------------------------------------------------- communication


def _communication_results(
    scenario: Scenario, events: Sequence[Event], log: _Log
) -> tuple[list[CommunicationResult], list[ScoreItem]]:
    armed = _armed_expectations(scenario, events)
    settled = {
        e.data["expectation_id"]: e
        for e in events
        if e.type in (EventType.expectation_met, EventType.expectation_missed)
    }
    messages = {e.seq: e for e in events if e.type is EventType.message_sent}
    ended_at = log.end.scenario_time if log.end is not None else None
    results: list[CommunicationResult] = []
    items: list[ScoreItem] = []
    for expectation_id, (armed_at, deadline, closes) in armed.items():
        spec = scenario.expectation(expectation_id)
        outcome = settled.get(expectation_id)
        message = None
        if outcome is not None and outcome.type is EventType.expectation_met:
            message = messages.get(int(outcome.data["message_seq"]))
            status = CommStatus(outcome.data["status"])
            points = float(outcome.data["points"])
        else:
            wrong = _wrong_party(scenario, spec, messages.values(), armed_at, closes)
            if outcome is not None or (ended_at is not None and ended_at >= deadline):
                status = CommStatus.missed if wrong is None else CommStatus.wrong_party
                message = wrong
            elif ended_at is not None:
                status = CommStatus.not_due
            else:
                status = CommStatus.pending
            points = 0.0
        max_points = 0.0 if status in (CommStatus.not_due, CommStatus.pending) else spec.points
        sent_at = message.scenario_time if message is not None else None
        sender = message.data["from_role"] if message is not None else None
        results.append(
            CommunicationResult(
                expectation_id=spec.id,
                title=spec.title,
                to=spec.to,
                to_name=scenario.recipient_name(spec.to),
                from_roles=spec.from_,
                objective=spec.objective,
                armed_at=armed_at,
                deadline=deadline,
                closes=closes,
                sent_at=sent_at,
                delta=None if sent_at is None else sent_at - deadline,
                message_seq=message.seq if message is not None else None,
                sent_by_role=sender,
                status=status,
                points=points,
                max_points=max_points,
            )
        )
        if status in (CommStatus.not_due, CommStatus.pending):
            continue
        # Missed because the drill ended (no missed event): the end is what settled it.
        settled_by = outcome if outcome is not None else log.end
        seqs = [s for s in (_seq(settled_by), message.seq if message else None) if s is not None]
        credited = [sender] if status in (CommStatus.on_time, CommStatus.late) else spec.from_
        for role in credited or [None]:
            share = 1 / len(credited or [None])
            items.append(
                ScoreItem(
                    dimension=Dimension.communication,
                    ref=spec.id,
                    title=spec.title,
                    objective=spec.objective,
                    role=role,
                    points=round(points * share, 2),
                    max_points=round(spec.points * share, 2),
                    status=str(status),
                    detail=_comm_detail(status, deadline, sent_at, scenario, spec, message),
                    seqs=sorted(seqs),
                )
            )
    return results, items


def _seq(event: Event | None) -> int | None:
    return None if event is None else event.seq


def _armed_expectations(
    scenario: Scenario, events: Sequence[Event]
) -> dict[str, tuple[float, float, float]]:
    """Each expectation whose countdown started: (armed_at, deadline, closes). The engine
    arms them inside `apply`; the log records the outcome, so re-derive the start from the
    replayed state as the log is folded."""
    state = DrillState()
    armed: dict[str, tuple[float, float, float]] = {}
    for event in events:
        apply(scenario, state, event)
        if len(state.expectations) != len(armed):
            for expectation_id, pending in state.expectations.items():
                if expectation_id not in armed:
                    armed[expectation_id] = (pending.armed_at, pending.deadline, pending.closes)
    return armed


def _wrong_party(
    scenario: Scenario,
    spec: Expectation,
    messages: Iterable[Event],
    armed_at: float,
    closes: float,
) -> Event | None:
    """A message from an eligible sender, in the window, to another outside party instead of
    the one expected (a regulator notice sent to the police): the first such, if any."""
    if spec.to not in scenario.parties:
        return None
    for message in messages:
        if not armed_at <= message.scenario_time <= closes:
            continue
        if spec.from_ is not None and message.data["from_role"] not in spec.from_:
            continue
        sent_to = message.data["to"]
        if spec.to not in sent_to and any(t in scenario.parties for t in sent_to):
            return message
    return None


def _comm_detail(
    status: CommStatus,
    deadline: float,
    sent_at: float | None,
    scenario: Scenario,
    spec: Expectation,
    message: Event | None,
) -> str:
    if status is CommStatus.wrong_party and message is not None:
        names = ", ".join(scenario.recipient_name(t) for t in message.data["to"])
        return f"sent to {names} instead of {scenario.recipient_name(spec.to)}"
    if sent_at is None:
        return f"nothing reached {scenario.recipient_name(spec.to)}"
    delta = sent_at - deadline
    if delta <= 0:
        return f"sent {_minutes(-delta)} before the deadline"
    return f"sent {_minutes(delta)} after the deadline"


# --------------------------------------------------------------------------- adjustments


def _adjustment_items(scenario: Scenario, events: Sequence[Event]) -> list[ScoreItem]:
    return [
        ScoreItem(
            dimension=Dimension.adjustments,
            ref=f"adjustment-{e.seq}",
            title=f"Adjusted by the facilitator: {e.data['reason']}",
            objective=e.data["objective_id"],
            role=e.data.get("role"),
            points=float(e.data["points"]),
            max_points=0.0,
            status="adjusted",
            detail=e.data["reason"],
            seqs=[e.seq],
        )
        for e in events
        if e.type is EventType.score_adjusted
    ]


# --------------------------------------------------------------------------- metrics

_ALERT_CHANNELS = {"siem", "edr"}
_INVESTIGATORS = {"lead_investigator", "soc_analyst"}
AUDIENCES: dict[str, tuple[str, set[PartyKind], set[str]]] = {
    "executives": ("First update to executives", {PartyKind.board}, {"executive"}),
    "staff": ("First update to staff", {PartyKind.staff}, set()),
    "customers": ("First update to customers", {PartyKind.customers}, set()),
    "regulator": ("First notice to the regulator", {PartyKind.regulator}, set()),
}


def first_alert(events: Sequence[Event]) -> Event | None:
    """The incident's trigger: the first technical alert (SIEM or EDR, or anything high or
    critical), else the first inject at all."""
    delivered = [e for e in events if e.type is EventType.inject_delivered]
    for e in delivered:
        if e.data.get("channel") in _ALERT_CHANNELS or e.data.get("severity") in (
            "high",
            "critical",
        ):
            return e
    return delivered[0] if delivered else None


def audience_of(scenario: Scenario, recipient: str) -> str | None:
    for key, (_, kinds, roles) in AUDIENCES.items():
        party = scenario.parties.get(recipient)
        if (party is not None and party.kind in kinds) or recipient in roles:
            return key
    return None


def _first_updates(
    scenario: Scenario, events: Sequence[Event], trigger: Event | None
) -> list[FirstUpdate]:
    found: dict[str, Event] = {}
    for e in events:
        if e.type is not EventType.message_sent:
            continue
        for recipient in e.data["to"]:
            audience = audience_of(scenario, recipient)
            if audience is not None:
                found.setdefault(audience, e)
    updates = []
    for key, (label, _, _) in AUDIENCES.items():
        first = found.get(key)
        updates.append(
            FirstUpdate(
                audience=key,
                label=label,
                at=first.scenario_time if first else None,
                after_trigger=_after(first, trigger),
                message_seq=first.seq if first else None,
                from_role=first.data["from_role"] if first else None,
            )
        )
    return updates


def _after(event: Event | None, trigger: Event | None) -> float | None:
    if event is None:
        return None
    return event.scenario_time - (trigger.scenario_time if trigger else 0.0)


def _containment_decisions(scenario: Scenario) -> set[str]:
    containment = {k for k, o in scenario.objectives.items() if o.phase is Phase.containment}
    return {d.id for d in scenario.decisions if set(_objectives_of(d)) & containment}


def _metrics(
    scenario: Scenario, events: Sequence[Event], trigger: Event | None, updates: list[FirstUpdate]
) -> list[Metric]:
    after = trigger.seq if trigger else 0
    investigator = next(
        (
            e
            for e in events
            if e.seq > after
            and (
                (e.type is EventType.message_sent and e.data["from_role"] in _INVESTIGATORS)
                or (
                    e.type is EventType.decision_answered
                    and e.data.get("answered_by_role") in _INVESTIGATORS
                )
            )
        ),
        None,
    )
    containment_ids = _containment_decisions(scenario)
    containment = next(
        (
            e
            for e in events
            if e.type in (EventType.decision_answered, EventType.decision_timed_out)
            and e.data["decision_id"] in containment_ids
        ),
        None,
    )
    by_audience = {u.audience: u for u in updates}
    metrics = [
        Metric(
            key="first_alert",
            label="First alert",
            at=trigger.scenario_time if trigger else None,
            after_trigger=0.0 if trigger else None,
            seq=trigger.seq if trigger else None,
        ),
        _metric("first_investigator_action", "First investigator action", investigator, trigger),
        _metric("containment_decision", "Containment decision", containment, trigger),
    ]
    notified = (("executive_notified", "executives"), ("regulator_notified", "regulator"))
    for key, audience in notified:
        update = by_audience[audience]
        metrics.append(
            Metric(
                key=key,
                label=update.label,
                at=update.at,
                after_trigger=update.after_trigger,
                seq=update.message_seq,
            )
        )
    return metrics


def _metric(key: str, label: str, event: Event | None, trigger: Event | None) -> Metric:
    return Metric(
        key=key,
        label=label,
        at=event.scenario_time if event else None,
        after_trigger=_after(event, trigger),
        seq=event.seq if event else None,
    )


# --------------------------------------------------------------------------- the scorecard


def scorecard(scenario: Scenario, events: Sequence[Event]) -> Scorecard:
    """Fold a drill's log into its scores. Pure: same log, same numbers, everywhere."""
    log = _Log(events)
    decisions, decision_items = _decision_results(scenario, log)
    communications, comm_items = _communication_results(scenario, events, log)
    # Titles come from the scenario; fill in this drill's {{variables}} as participants saw.
    values: dict[str, str] = events[0].data.get("variables", {}) if events else {}
    items = [
        i.model_copy(update={"title": fill(i.title, values), "detail": fill(i.detail, values)})
        for i in decision_items + comm_items + _adjustment_items(scenario, events)
    ]
    communications = [
        r.model_copy(update={"title": fill(r.title, values), "to_name": fill(r.to_name, values)})
        for r in communications
    ]
    trigger = first_alert(events)
    updates = _first_updates(scenario, events, trigger)
    roles = list(events[0].data["roles"]) if events else list(scenario.roles)
    return Scorecard(
        items=items,
        decisions=decisions,
        communications=communications,
        first_updates=updates,
        metrics=_metrics(scenario, events, trigger, updates),
        objectives={k: total(i for i in items if i.objective == k) for k in scenario.objectives},
        roles={r: total(i for i in items if i.role == r) for r in roles},
        dimensions={d.value: total(i for i in items if i.dimension is d) for d in Dimension},
        overall=total(items),
    )


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 120 else line[:117] + "..."
