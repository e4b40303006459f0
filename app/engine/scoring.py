"""Scores that explain themselves: a pure fold of a drill's log into points.

Every point comes from one `ScoreItem` that names the events that earned or lost it
(`seqs`), so the console, the API, the report and every export show the same numbers and
a reviewer can trace each of them. Dimensions: decisions (points per objective from the
option chosen; a decision nobody answered earns nothing, though its default's negative
points still count: not deciding is a decision), communication timing (expectations: on
time, late with linearly falling credit, missed, sent with template blanks still in, sent
to the party the scenario says it is confused with) and the facilitator's adjustments,
each with its reason. What a role owes while it is unavailable is charged to the backup
acting for it; a role nobody played is "not played" and has no percentage of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.engine import payloads as p
from app.engine.core import apply, message_pairs
from app.engine.events import Event, EventType
from app.engine.filled import drill_values, filled_scenario
from app.engine.notices import Completeness
from app.engine.regulatory import Filing, RegimeInPlay, regimes_in_play
from app.engine.scenario import (
    Decision,
    Expectation,
    Option,
    PartyKind,
    Phase,
    Scenario,
    option_of,
)
from app.engine.state import DrillState
from app.regimes.clocks import ClockState, DutyClock


class Dimension(StrEnum):
    decisions = "decisions"
    communication = "communication"
    regulatory = "regulatory"
    adjustments = "adjustments"


class CommStatus(StrEnum):
    on_time = "on_time"
    late = "late"
    missed = "missed"
    wrong_party = "wrong_party"
    """Sent to a party the scenario names as the one it is confused with, instead."""
    sent_with_blanks = "sent_with_blanks"
    """Sent to the right party, but with template blanks ("[date]") still in."""
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


class RoleTotal(Total):
    played: bool = Field(
        description="Someone played this role (joined as it, or answered or wrote as it). "
        "A role nobody played has no percentage; the team's totals still count what it owed."
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
    title: str = Field(
        description="What is decided: the scenario's title, else the prompt's first sentences."
    )
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
    owed_by: list[str] | None = Field(
        default=None,
        description="The roles charged when it was not met: the roles that could send it, "
        "or the backups acting for them then; null: anyone.",
    )
    blanks: list[str] = Field(
        default_factory=list, description="Template blanks left in the message, if any."
    )
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
    roles: dict[str, RoleTotal]
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


def split(amount: float, parts: int) -> list[float]:
    """`amount` shared by `parts` roles to the cent, the shares adding up to it exactly
    (10 over 3: 3.34, 3.33, 3.33), so no total reads 9.99 of 10."""
    cents = round(amount * 100)
    base, extra = divmod(abs(cents), parts)
    sign = -1 if cents < 0 else 1
    return [sign * (base + (1 if i < extra else 0)) / 100 for i in range(parts)]


def stakes(decision: Decision, chosen: Option | None = None) -> dict[str, float]:
    """What a decision puts at stake on each objective: what its best answer (the option
    with the most points in all) earns there, so that the best answer always scores 100 %.
    Options trade objectives off (watching longer learns scope but delays containment);
    an answer that earns more on an objective than the best one did has that much at stake
    there, so no item ever earns more than it could have."""
    top = max(sum(o.score.values()) for o in decision.options)
    best = next(o for o in decision.options if sum(o.score.values()) == top)
    if chosen is not None and sum(chosen.score.values()) == top:
        best = chosen  # an answer as good as the best is the best
    return {
        objective: max(
            0.0,
            best.score.get(objective, 0.0),
            chosen.score.get(objective, 0.0) if chosen is not None else 0.0,
        )
        for objective in _objectives_of(decision)
    }


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
                self.opened.setdefault(p.decision_opened(e)["decision_id"], e)
            elif e.type in (EventType.decision_answered, EventType.decision_timed_out):
                self.answers.setdefault(p.option_taken(e)["decision_id"], []).append(e)
            elif e.type is EventType.decision_closed:
                self.closed.setdefault(p.decision_closed(e)["decision_id"], []).append(e)
            elif e.type is EventType.participant_joined:
                joined = p.participant_joined(e)
                self.names[joined["participant_id"]] = joined["name"]
            elif e.type is EventType.drill_ended and self.end is None:
                self.end = e


def _decision_results(
    scenario: Scenario, log: _Log
) -> tuple[list[DecisionResult], list[ScoreItem]]:
    results: list[DecisionResult] = []
    items: list[ScoreItem] = []
    for decision_id, opened in log.opened.items():
        spec = scenario.decision(decision_id)
        opened_data = p.decision_opened(opened)
        roles = list(opened_data["roles"])
        answers: list[AnswerResult] = []
        for e in log.answers.get(decision_id, []):
            answer = _answer_result(spec, roles, e, opened, log)
            timed_out = answer.timed_out
            credited = roles if timed_out else [p.decision_answered(e)["role"]]
            answers.append(answer)
            items.extend(_decision_items(spec, answer.option_id, credited, e, opened, timed_out))
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
                prompt=opened_data["prompt"],
                title=spec.heading(),
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


def _answer_result(
    spec: Decision, roles: list[str], e: Event, opened: Event, log: _Log
) -> AnswerResult:
    """One answer to a decision, or its default taken when time ran out (shared by the
    roles that were asked)."""
    option = option_of(spec, p.option_taken(e)["option_id"])
    answered = None if e.type is EventType.decision_timed_out else p.decision_answered(e)
    return AnswerResult(
        role=(answered["role"] if answered else "") or ", ".join(roles),
        answered_by_role=answered["answered_by_role"] if answered else None,
        participant=log.names.get(e.actor) if answered else None,
        option_id=option.id,
        option_label=option.label,
        timed_out=answered is None,
        latency=e.scenario_time - opened.scenario_time,
        rationale=answered["rationale"] if answered else "",
        seq=e.seq,
        points=dict(option.score),
    )


def _decision_items(
    spec: Decision,
    option_id: str,
    credited: list[str],
    answer: Event,
    opened: Event,
    timed_out: bool,
) -> list[ScoreItem]:
    """Points per objective for one answer. A timeout's are shared by the roles asked and
    are never positive: the default drives the story, but nobody chose it, so it earns
    nothing while its negative points still count."""
    option = option_of(spec, option_id)
    latency = answer.scenario_time - opened.scenario_time
    how = (
        f"{not_answered(option.label)} when its {_minutes(spec.time_limit)} ran out"
        if timed_out
        else f"chose '{option.label}' after {_minutes(latency)} of {_minutes(spec.time_limit)}"
    )
    items = []
    # Nobody chose a default that time took: it earns nothing, and puts no more at stake.
    at_stake = stakes(spec, None if timed_out else option)
    for objective in _objectives_of(spec):
        earned = option.score.get(objective, 0.0)
        if timed_out:
            earned = min(0.0, earned)
        shares = zip(
            credited,
            split(earned, len(credited)),
            split(at_stake[objective], len(credited)),
            strict=True,
        )
        for role, points, max_points in shares:
            items.append(
                ScoreItem(
                    dimension=Dimension.decisions,
                    ref=spec.id,
                    title=spec.heading(),
                    objective=objective,
                    role=role,
                    points=points,
                    max_points=max_points,
                    status="timed_out" if timed_out else "answered",
                    detail=how,
                    seqs=[opened.seq, answer.seq],
                )
            )
    return items


def not_answered(option_label: str) -> str:
    """How a timed-out decision reads everywhere: the console, the report, every export."""
    return f"Not answered: default applied ({option_label})"


def _unanswered_items(
    spec: Decision, silent: list[str], opened: Event, closed: Event
) -> list[ScoreItem]:
    """Each role asked for its own answer that gave none: nothing earned, the best at stake."""
    at_stake = stakes(spec)
    return [
        ScoreItem(
            dimension=Dimension.decisions,
            ref=spec.id,
            title=spec.heading(),
            objective=objective,
            role=role,
            points=0.0,
            max_points=at_stake[objective],
            status="unanswered",
            detail=f"{role} gave no answer within {_minutes(spec.time_limit)}",
            seqs=[opened.seq, closed.seq],
        )
        for objective in _objectives_of(spec)
        for role in silent
    ]


# --------------------------------------------------------------------------- communication


@dataclass(slots=True)
class _Armed:
    """An expectation whose countdown started, and who owed it when it was settled."""

    armed_at: float
    deadline: float
    closes: float
    owed_by: list[str] | None
    """The roles that could send it, or the backups acting for them then; None: anyone."""


@dataclass(frozen=True, slots=True)
class _Sent:
    """A message as the expectations see it: whom it spoke for and whom it reached."""

    event: Event
    pairs: frozenset[tuple[str, str]]
    blanks: tuple[str, ...]


def _owed_by(spec: Expectation, state: DrillState) -> list[str] | None:
    if spec.from_ is None:
        return None
    return list(dict.fromkeys(state.acting_role(role) for role in spec.from_))


def _trace(scenario: Scenario, events: Sequence[Event]) -> tuple[dict[str, _Armed], list[_Sent]]:
    """Replay the log once: each expectation's countdown (the engine arms them inside
    `apply`), who owed it when it was missed (a backup acting for an unavailable role owes
    what that role owed), and every message with the roles it spoke for and reached."""
    state = DrillState()
    armed: dict[str, _Armed] = {}
    sent: list[_Sent] = []
    for event in events:
        if event.type is EventType.message_sent:
            message = p.message_sent(event)
            pairs = message_pairs(state, message["from_role"], list(message["to"]))
            sent.append(_Sent(event, frozenset(pairs), tuple(message.get("blanks", ()))))
        apply(scenario, state, event)
        if len(state.expectations) != len(armed):
            for expectation_id, pending in state.expectations.items():
                if expectation_id not in armed:
                    spec = scenario.expectation(expectation_id)
                    armed[expectation_id] = _Armed(
                        pending.armed_at, pending.deadline, pending.closes, _owed_by(spec, state)
                    )
        if event.type is EventType.expectation_missed:
            missed = p.expectation_missed(event)["expectation_id"]
            armed[missed].owed_by = _owed_by(scenario.expectation(missed), state)
    for expectation_id, entry in armed.items():
        if state.expectations[expectation_id].status == "pending":
            entry.owed_by = _owed_by(scenario.expectation(expectation_id), state)
    return armed, sent


def _eligible(spec: Expectation, message: _Sent, armed: _Armed, to: set[str]) -> bool:
    """Sent in the expectation's window, by someone who may send it, to one of `to`."""
    if not armed.armed_at <= message.event.scenario_time <= armed.closes:
        return False
    return any(
        recipient in to and (spec.from_ is None or sender in spec.from_)
        for sender, recipient in message.pairs
    )


def _not_met(
    spec: Expectation, armed: _Armed, sent: list[_Sent], charged: set[int]
) -> tuple[CommStatus, _Sent | None]:
    """Why an expectation whose deadline passed was not met, and the message that shows it:
    sent to the right party with blanks still in; sent instead to the party the scenario
    says it is confused with (a message is charged to one expectation at most); or missed."""
    for message in sent:
        if message.blanks and _eligible(spec, message, armed, {spec.to}):
            return CommStatus.sent_with_blanks, message
    confused = set(spec.confused_with) - {spec.to}
    for message in sent:
        if message.event.seq in charged or not confused:
            continue
        if _eligible(spec, message, armed, confused) and not _eligible(
            spec, message, armed, {spec.to}
        ):
            charged.add(message.event.seq)
            return CommStatus.wrong_party, message
    return CommStatus.missed, None


def _communication_results(
    scenario: Scenario, events: Sequence[Event], log: _Log
) -> tuple[list[CommunicationResult], list[ScoreItem]]:
    armed, sent = _trace(scenario, events)
    settled = {
        p.expectation_settled(e)["expectation_id"]: e
        for e in events
        if e.type in (EventType.expectation_met, EventType.expectation_missed)
    }
    by_seq = {m.event.seq: m for m in sent}
    ended_at = log.end.scenario_time if log.end is not None else None
    charged: set[int] = set()
    results: list[CommunicationResult] = []
    items: list[ScoreItem] = []
    for expectation_id, entry in armed.items():
        spec = scenario.expectation(expectation_id)
        outcome = settled.get(expectation_id)
        message: _Sent | None = None
        points = 0.0
        if outcome is not None and outcome.type is EventType.expectation_met:
            met_by = p.expectation_met(outcome)
            message = by_seq.get(int(met_by["message_seq"]))
            status = CommStatus(met_by["status"])
            points = float(met_by["points"])
        elif outcome is not None or (ended_at is not None and ended_at >= entry.deadline):
            status, message = _not_met(spec, entry, sent, charged)
        elif ended_at is not None:
            status = CommStatus.not_due
        else:
            status = CommStatus.pending
        counted = status not in (CommStatus.not_due, CommStatus.pending)
        result = _communication_result(
            scenario, spec, entry, status, message, points, spec.points if counted else 0.0
        )
        results.append(result)
        if not counted:
            continue
        # Missed because the drill ended (no missed event): the end is what settled it.
        settled_by = outcome if outcome is not None else log.end
        seqs = [
            s for s in (_seq(settled_by), message.event.seq if message else None) if s is not None
        ]
        met = status in (CommStatus.on_time, CommStatus.late)
        credited: list[str | None] = [result.sent_by_role] if met else [*(entry.owed_by or [])]
        roles = credited or [None]
        shares = zip(roles, split(points, len(roles)), split(spec.points, len(roles)), strict=True)
        for role, earned, at_stake in shares:
            items.append(
                ScoreItem(
                    dimension=Dimension.communication,
                    ref=spec.id,
                    title=spec.title,
                    objective=spec.objective,
                    role=role,
                    points=earned,
                    max_points=at_stake,
                    status=str(status),
                    detail=_comm_detail(scenario, spec, result, message),
                    seqs=sorted(seqs),
                )
            )
    return results, items


def _communication_result(
    scenario: Scenario,
    spec: Expectation,
    entry: _Armed,
    status: CommStatus,
    message: _Sent | None,
    points: float,
    max_points: float,
) -> CommunicationResult:
    sent_at = message.event.scenario_time if message is not None else None
    return CommunicationResult(
        expectation_id=spec.id,
        title=spec.title,
        to=spec.to,
        to_name=scenario.recipient_name(spec.to),
        from_roles=spec.from_,
        objective=spec.objective,
        armed_at=entry.armed_at,
        deadline=entry.deadline,
        closes=entry.closes,
        sent_at=sent_at,
        delta=None if sent_at is None else sent_at - entry.deadline,
        message_seq=message.event.seq if message is not None else None,
        sent_by_role=p.message_sent(message.event)["from_role"] if message is not None else None,
        owed_by=entry.owed_by,
        blanks=list(message.blanks) if message is not None else [],
        status=status,
        points=points,
        max_points=max_points,
    )


def _seq(event: Event | None) -> int | None:
    return None if event is None else event.seq


def _comm_detail(
    scenario: Scenario, spec: Expectation, result: CommunicationResult, message: _Sent | None
) -> str:
    if result.status is CommStatus.wrong_party and message is not None:
        to = p.message_sent(message.event)["to"]
        names = ", ".join(scenario.recipient_name(t) for t in to)
        return f"sent to {names} instead of {scenario.recipient_name(spec.to)}"
    if result.status is CommStatus.sent_with_blanks:
        return f"sent with blanks still in ({', '.join(result.blanks)}): not ready to go"
    if result.sent_at is None or result.delta is None:
        return f"nothing reached {scenario.recipient_name(spec.to)}"
    if result.delta <= 0:
        return f"sent {_minutes(-result.delta)} before the deadline"
    return f"sent {_minutes(result.delta)} after the deadline"


# --------------------------------------------------------------------------- adjustments


SCORED = {
    ClockState.filed: 1.0,
    ClockState.late: 0.5,
    ClockState.missed: 0.0,
}
"""The share of a duty's points each settled state earns; open, unstarted and
not-required duties are not counted."""


def _regulatory_items(
    scenario: Scenario, events: Sequence[Event], now: float | None
) -> list[ScoreItem]:
    """One item per notification duty settled by the log's last event: filed on time
    (all its points), late (half) or missed (none), credited to the role that filed it."""
    if not scenario.regimes or not events:
        return []
    last = max(e.scenario_time for e in events)
    at = last if now is None or any(e.type is EventType.drill_ended for e in events) else now
    items: list[ScoreItem] = []
    for use in regimes_in_play(scenario, events, max(at, last)):
        for clock in use.clocks:
            share = SCORED.get(clock.state)
            if share is None:
                continue
            score = use.use.duty_score(clock.duty.id)
            filing = use.filing(clock.duty.id)
            written = use.written_instead(scenario, clock)
            wrong = None if written is None else use.misdirected[clock.duty.id]
            complete = use.completeness.get(clock.duty.id)
            if complete is not None:
                share *= complete.share
            items.append(
                ScoreItem(
                    dimension=Dimension.regulatory,
                    ref=f"{clock.regime.id}.{clock.duty.id}",
                    title=f"{clock.regime.name}: {clock.duty.title}",
                    objective=score.objective,
                    role=None if filing is None else filing.from_role,
                    points=round(score.points * share, 2),
                    max_points=score.points,
                    status=CommStatus.wrong_party.value if wrong else str(clock.state),
                    detail=_wrong_party(scenario, use, written)
                    if written is not None
                    else _duty_detail(clock, filing, complete),
                    seqs=[f.seq for f in (filing, wrong) if f is not None],
                )
            )
    return items


def _wrong_party(scenario: Scenario, use: RegimeInPlay, written: list[str]) -> str:
    confused = ", ".join(written)
    authority = scenario.recipient_name(use.use.authority) if use.use.authority else "them"
    return f"written to {confused} instead of {authority}; never filed"


def _duty_detail(clock: DutyClock, filing: Filing | None, complete: Completeness | None) -> str:
    if filing is None or clock.filed_at is None:
        return f"not filed by its deadline ({clock.duty.source})"
    how = "" if complete is None else f"; {_completeness_words(filing, complete)}"
    if clock.due_at is None:
        return f"filed{how} ({clock.duty.source})"
    margin = (clock.due_at - clock.filed_at).total_seconds()
    if margin >= 0:
        return f"filed {_minutes(margin)} before its deadline{how} ({clock.duty.source})"
    return f"filed {_minutes(-margin)} late: half the points{how} ({clock.duty.source})"


def _completeness_words(filing: Filing, complete: Completeness) -> str:
    if filing.notice is None and not any(c.rating for c in complete.checks):
        return f"a free-text message, not the form: 0 of {complete.required} required fields"
    return str(complete)


def _adjustment_items(scenario: Scenario, events: Sequence[Event]) -> list[ScoreItem]:
    return [
        _adjustment_item(e.seq, p.score_adjusted(e))
        for e in events
        if e.type is EventType.score_adjusted
    ]


def _adjustment_item(seq: int, d: p.ScoreAdjustedData) -> ScoreItem:
    return ScoreItem(
        dimension=Dimension.adjustments,
        ref=f"adjustment-{seq}",
        title=f"Adjusted by the facilitator: {d['reason']}",
        objective=d["objective_id"],
        role=d["role"],
        points=float(d["points"]),
        max_points=0.0,
        status="adjusted",
        detail=d["reason"],
        seqs=[seq],
    )


# --------------------------------------------------------------------------- metrics

_ALERT_CHANNELS = {"siem", "edr"}
_INVESTIGATORS = {"lead_investigator", "soc_analyst"}
EXECUTIVES = "executives"
"""The audience of the executive role and of every board party, taken together."""


def first_alert(events: Sequence[Event]) -> Event | None:
    """The incident's trigger: the first technical alert (SIEM or EDR, or anything high or
    critical), else the first inject at all."""
    delivered = [e for e in events if e.type is EventType.inject_delivered]
    for e in delivered:
        inject = p.inject_delivered(e)
        if inject["channel"] in _ALERT_CHANNELS or inject["severity"] in ("high", "critical"):
            return e
    return delivered[0] if delivered else None


def audiences(scenario: Scenario) -> dict[str, str]:
    """Audience key -> its line's label: the executives, then every party the scenario
    names, in its order (a regulator's is a notice, the others' an update)."""
    lines = {EXECUTIVES: "First update to executives"}
    for party_id, party in scenario.parties.items():
        if party.kind is PartyKind.board:
            continue
        verb = "notice to" if party.kind is PartyKind.regulator else "update to"
        lines[party_id] = f"First {verb} {party.name}"
    return lines


def audience_of(scenario: Scenario, recipient: str) -> str | None:
    party = scenario.parties.get(recipient)
    if recipient == "executive" or (party is not None and party.kind is PartyKind.board):
        return EXECUTIVES
    return recipient if party is not None else None


def _first_updates(
    scenario: Scenario, events: Sequence[Event], trigger: Event | None
) -> list[FirstUpdate]:
    found: dict[str, Event] = {}
    for e in events:
        if e.type is not EventType.message_sent:
            continue
        for recipient in p.message_sent(e)["to"]:
            audience = audience_of(scenario, recipient)
            if audience is not None:
                found.setdefault(audience, e)
    updates = []
    for key, label in audiences(scenario).items():
        first = found.get(key)
        updates.append(
            FirstUpdate(
                audience=key,
                label=label,
                at=first.scenario_time if first else None,
                after_trigger=_after(first, trigger),
                message_seq=first.seq if first else None,
                from_role=p.message_sent(first)["from_role"] if first else None,
            )
        )
    return updates


def _after(event: Event | None, trigger: Event | None) -> float | None:
    if event is None:
        return None
    return event.scenario_time - (trigger.scenario_time if trigger else 0.0)


def _contains(scenario: Scenario, decision_id: str, option_id: str) -> bool:
    """The option moves a containment objective forward: choosing it is containing."""
    containment = {k for k, o in scenario.objectives.items() if o.phase is Phase.containment}
    if not scenario.has_decision(decision_id):
        return False
    option = option_of(scenario.decision(decision_id), option_id)
    return any(option.score.get(objective, 0.0) > 0 for objective in containment)


def _by_investigator(e: Event) -> bool:
    """A message or an answer from an investigating role."""
    if e.type is EventType.message_sent:
        return p.message_sent(e)["from_role"] in _INVESTIGATORS
    if e.type is EventType.decision_answered:
        return p.decision_answered(e)["answered_by_role"] in _INVESTIGATORS
    return False


def _chose_to_contain(scenario: Scenario, e: Event) -> bool:
    if e.type is not EventType.decision_answered:
        return False
    answered = p.decision_answered(e)
    return _contains(scenario, answered["decision_id"], answered["option_id"])


def _metrics(
    scenario: Scenario, events: Sequence[Event], trigger: Event | None, updates: list[FirstUpdate]
) -> list[Metric]:
    after = trigger.seq if trigger else 0
    investigator = next((e for e in events if e.seq > after and _by_investigator(e)), None)
    # Only a choice to contain counts: a team that chose to watch, or let the clock choose
    # for it, has made no containment decision.
    containment = next((e for e in events if _chose_to_contain(scenario, e)), None)
    by_audience = {u.audience: u for u in updates}
    regulators = [
        by_audience[party_id]
        for party_id, party in scenario.parties.items()
        if party.kind is PartyKind.regulator and by_audience[party_id].at is not None
    ]
    regulator = min(regulators, key=lambda u: u.at or 0.0, default=None)
    executives = by_audience[EXECUTIVES]
    metrics = [
        Metric(
            key="first_alert",
            label="First alert",
            at=trigger.scenario_time if trigger else None,
            after_trigger=0.0 if trigger else None,
            seq=trigger.seq if trigger else None,
        ),
        _metric("first_investigator_action", "First investigator action", investigator, trigger),
        _metric("containment_decision", "Decision to contain", containment, trigger),
        Metric(
            key="executive_notified",
            label=executives.label,
            at=executives.at,
            after_trigger=executives.after_trigger,
            seq=executives.message_seq,
        ),
    ]
    if any(party.kind is PartyKind.regulator for party in scenario.parties.values()):
        metrics.append(
            Metric(
                key="regulator_notified",
                label="First notice to a regulator",
                at=regulator.at if regulator else None,
                after_trigger=regulator.after_trigger if regulator else None,
                seq=regulator.message_seq if regulator else None,
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


def scorecard(scenario: Scenario, events: Sequence[Event], now: float | None = None) -> Scorecard:
    """Fold a drill's log into its scores. Pure: same log, same numbers, everywhere.
    `now` (scenario time) settles the notification duties whose deadline passed after the
    last event (they have no event of their own); default: the last event's time."""
    if events:
        # Every text a scorecard copies from the scenario (titles, option labels, party
        # names) reads as the drill's participants saw it, {{variables}} filled, whether
        # the caller holds the stored scenario or one filled already: a stored copy of
        # the scores serves the report and the programme alike.
        scenario = filled_scenario(scenario, drill_values(scenario, events[0].data))
    log = _Log(events)
    decisions, decision_items = _decision_results(scenario, log)
    communications, comm_items = _communication_results(scenario, events, log)
    items = [
        *decision_items,
        *comm_items,
        *_regulatory_items(scenario, events, now),
        *_adjustment_items(scenario, events),
    ]
    trigger = first_alert(events)
    updates = _first_updates(scenario, events, trigger)
    roles = list(p.drill_created(events[0])["roles"]) if events else list(scenario.roles)
    played = played_roles(events)
    return Scorecard(
        items=items,
        decisions=decisions,
        communications=communications,
        first_updates=updates,
        metrics=_metrics(scenario, events, trigger, updates),
        objectives={k: total(i for i in items if i.objective == k) for k in scenario.objectives},
        roles={r: _role_total(items, r, r in played) for r in roles},
        dimensions={d.value: total(i for i in items if i.dimension is d) for d in Dimension},
        overall=total(items),
    )


def played_roles(events: Sequence[Event]) -> set[str]:
    """Roles somebody played: a participant joined as it, or someone (the facilitator
    too) answered or wrote as it."""
    played: set[str] = set()
    for e in events:
        if e.type is EventType.participant_joined:
            role = p.participant_joined(e)["role"]
            if role:
                played.add(role)
        elif e.type is EventType.decision_answered:
            answered = p.decision_answered(e)
            played.add(answered["answered_by_role"] or answered["role"])
        elif e.type is EventType.message_sent:
            message = p.message_sent(e)
            via_option: str | None = message.get("via_option")
            if not via_option:
                played.add(message["from_role"])
    return played


def _role_total(items: list[ScoreItem], role: str, played: bool) -> RoleTotal:
    """A role's points; a role nobody played is left out of the percentages (its points
    still count in the team's totals)."""
    figures = total(i for i in items if i.role == role)
    return RoleTotal(
        points=figures.points,
        max_points=figures.max_points,
        percent=figures.percent if played else None,
        played=played,
    )


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"
