"""The scenario's notification regimes in play: when each regime's events happened (the
triggers the scenario binds them to), which messages filed which duty, and every duty's
clock at a moment of the story. Pure: the log and the time are arguments.

A notice filed from its form files its own duty; a free-text message to the party bound
to a recipient (the authority, the people affected, the media) files the most urgent duty
owed to that recipient that is running or overdue, with none of the form's fields. A
follow-up's clock starts when the duty it follows is filed. How complete each filed
notice was is judged against what the team knew when it filed (app/engine/notices)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.engine import payloads as p
from app.engine.core import apply, message_pairs
from app.engine.events import Event, EventType
from app.engine.notices import Completeness, Known, Rating, check_notice
from app.engine.scenario import RegimeUse, Scenario, Trigger, story_datetime
from app.engine.state import DrillState, NoticeDraft
from app.regimes.clocks import ClockState, DutyClock, Situation, regime_clocks
from app.regimes.library import regime as shipped_regime
from app.regimes.model import Duty, Regime

OPEN = (ClockState.running, ClockState.missed)


@dataclass(frozen=True, slots=True)
class Filing:
    """A message that filed a duty."""

    regime: str
    duty: str
    seq: int
    scenario_time: float
    from_role: str
    to: tuple[str, ...] = ()
    """Whom the message was addressed to."""
    notice: p.NoticeFiled | None = None
    """The form it was filed from; None: a free-text message."""
    body: str = ""


@dataclass(frozen=True, slots=True)
class RegimeInPlay:
    use: RegimeUse
    regime: Regime
    clocks: list[DutyClock]
    filings: list[Filing]
    misdirected: dict[str, Filing]
    """Duty id -> the first message that went to a party it is confused with (the police
    instead of the authority) while the duty was open and before it was filed."""
    completeness: dict[str, Completeness]
    """Duty id -> how complete the notice that filed it was."""

    def filing(self, duty_id: str) -> Filing | None:
        """The message that filed the duty, if one did."""
        return next((f for f in self.filings if f.duty == duty_id), None)

    def written_instead(self, scenario: Scenario, clock: DutyClock) -> list[str] | None:
        """For a missed duty whose notice went to a party it is confused with: those
        parties' names (the police, not the authority); else None."""
        wrong = self.misdirected.get(clock.duty.id)
        if clock.state is not ClockState.missed or wrong is None:
            return None
        confused = [t for t in wrong.to if t in self.use.confused_with] or self.use.confused_with
        return [scenario.recipient_name(t) for t in confused]


def recipient_party(use: RegimeUse, duty: Duty) -> str | None:
    """The party the scenario binds to the duty's recipient, if it binds one."""
    return use.party_for(duty.recipient)


class Replay:
    """The log replayed: when each trigger first fired, and every message with the
    parties it reached, in order. `extend` takes the events written since, so a player
    that asks at every step (the dry run's diligent team) replays each event once, not
    the whole log every time."""

    def __init__(self, scenario: Scenario, events: Sequence[Event] = ()) -> None:
        self.scenario = scenario
        self.delivered: dict[str, float] = {}
        self.closed: dict[str, float] = {}
        self.chosen: dict[str, float] = {}
        self.messages: list[tuple[Event, set[str]]] = []
        self.revealed: dict[str, float] = {}
        """Scenario fact id -> when an inject first revealed it."""
        self.ratings: dict[tuple[str, str], dict[str, Rating]] = {}
        """(regime, duty) -> field id -> the facilitator's last rating of it."""
        self.seen = 0
        """How many of the log's events are replayed."""
        self._state = DrillState()
        self.extend(events)

    @property
    def first_sent(self) -> dict[tuple[str, str], float]:
        return self._state.first_sent

    def extend(self, events: Sequence[Event]) -> None:
        """Replay the events that follow those replayed so far."""
        for event in events:
            self._note(self.scenario, self._state, event)
            apply(self.scenario, self._state, event)
        self.seen += len(events)

    def copy(self) -> Replay:
        """An independent replay of the same log, to extend along another branch."""
        twin = Replay(self.scenario)
        twin.delivered = dict(self.delivered)
        twin.closed = dict(self.closed)
        twin.chosen = dict(self.chosen)
        twin.messages = list(self.messages)
        twin.revealed = dict(self.revealed)
        twin.ratings = {duty: dict(fields) for duty, fields in self.ratings.items()}
        twin.seen = self.seen
        twin._state = self._state.copy()
        return twin

    def _note(self, scenario: Scenario, state: DrillState, event: Event) -> None:
        at = event.scenario_time
        if event.type is EventType.inject_delivered:
            delivered = p.inject_delivered(event)
            if delivered["inject_id"] is not None:
                self.delivered.setdefault(delivered["inject_id"], at)
            for fact in delivered.get("facts", ()):
                self.revealed.setdefault(fact, at)
        elif event.type in (EventType.decision_answered, EventType.decision_timed_out):
            data = p.decision_answered(event)  # the keys read here are the same in both
            self.chosen.setdefault(f"{data['decision_id']}.{data['option_id']}", at)
            per_role = scenario.decision(data["decision_id"]).per_role
            if event.type is EventType.decision_timed_out or not per_role:
                self.closed.setdefault(data["decision_id"], at)
        elif event.type is EventType.decision_closed:
            self.closed.setdefault(p.decision_closed(event)["decision_id"], at)
        elif event.type is EventType.message_sent:
            message = p.message_sent(event)
            pairs = message_pairs(state, message["from_role"], list(message["to"]))
            self.messages.append((event, {to for _, to in pairs}))
        elif event.type is EventType.notice_field_rated:
            rated = p.notice_field_rated(event)
            ratings = self.ratings.setdefault((rated["regime"], rated["duty"]), {})
            if rated["complete"] is None:
                ratings.pop(rated["field"], None)
            else:
                ratings[rated["field"]] = Rating(rated["complete"], rated["reason"])

    def known(self, use: RegimeUse, at: float) -> dict[str, Known]:
        """The regime's figures as the team knew them at scenario time `at`."""
        found: dict[str, Known] = {}
        for name in use.facts:
            figure = use.figure(name)
            assert figure is not None
            fact = figure.revealed_by
            learned = fact is None or self.revealed.get(fact, float("inf")) <= at
            found[name] = Known(figure.value if learned else None, figure.tolerance)
        return found

    def fired(self, trigger: Trigger) -> float | None:
        if trigger.inject is not None:
            return self.delivered.get(trigger.inject)
        if trigger.decision is not None:
            return self.closed.get(trigger.decision)
        if trigger.option is not None:
            return self.chosen.get(trigger.option)
        match = trigger.message
        assert match is not None
        times = [t for (f, to), t in self.first_sent.items() if match.accepts(f, to)]
        return min(times, default=None)


def regimes_in_play(
    scenario: Scenario, events: Sequence[Event], scenario_time: float
) -> list[RegimeInPlay]:
    """Every regime the scenario plays, with its duties' clocks at `scenario_time`."""
    if not scenario.regimes:
        return []
    return regimes_replayed(Replay(scenario, events), scenario_time)


def regimes_replayed(replay: Replay, scenario_time: float) -> list[RegimeInPlay]:
    """regimes_in_play of the log `replay` has replayed."""
    scenario = replay.scenario
    now = story_datetime(scenario, scenario_time)
    return [_in_play(scenario, use, replay, now) for use in scenario.regimes]


def _in_play(scenario: Scenario, use: RegimeUse, replay: Replay, now: datetime) -> RegimeInPlay:
    found = shipped_regime(use.regime)
    started = {
        event: story_datetime(scenario, at)
        for event, trigger in use.starts.items()
        if (at := replay.fired(trigger)) is not None
    }
    situation = Situation(
        events=started,
        filed={},
        facts=use.figures(),
        zone=ZoneInfo(scenario.clock.timezone),
        calendar=use.jurisdiction,
        undue_delay=None if use.undue_delay is None else timedelta(seconds=use.undue_delay),
    )
    filings: list[Filing] = []
    misdirected: dict[str, Filing] = {}
    filed: dict[str, datetime] = {}
    for message, reached in replay.messages:
        sent_at = story_datetime(scenario, message.scenario_time)
        if sent_at > now:
            break
        data = p.message_sent(message)
        notice = data.get("notice")
        if notice is not None:
            if notice["regime"] == found.id and notice["duty"] not in filed:
                filed[notice["duty"]] = sent_at
                filings.append(_filing(found.id, notice["duty"], message))
            continue  # a form files its own duty, never another regime's
        so_far = regime_clocks(found, replace(situation, filed=dict(filed)), sent_at)
        duty = _duty_filed_by(use, so_far, reached)
        if duty is not None:
            filed[duty.id] = sent_at
            filings.append(_filing(found.id, duty.id, message))
        elif reached & set(use.confused_with):
            wrong = _duty_filed_by(use, so_far, {use.authority} if use.authority else set())
            if wrong is not None:
                misdirected.setdefault(wrong.id, _filing(found.id, wrong.id, message))
    final = replace(situation, filed=filed)
    completeness = {f.duty: _completeness(use, found.duty(f.duty), f, replay) for f in filings}
    return RegimeInPlay(
        use, found, regime_clocks(found, final, now), filings, misdirected, completeness
    )


def _filing(regime_id: str, duty_id: str, message: Event) -> Filing:
    data = p.message_sent(message)
    return Filing(
        regime_id,
        duty_id,
        message.seq,
        message.scenario_time,
        data["from_role"],
        tuple(data["to"]),
        data.get("notice"),
        data["body"],
    )


def _completeness(use: RegimeUse, duty: Duty, filing: Filing, replay: Replay) -> Completeness:
    """A form as filed, checked against what the team knew then; a free-text message
    filled in none of the form's fields (the facilitator may rate them)."""
    notice = filing.notice
    return check_notice(
        duty,
        {} if notice is None else notice["fields"],
        notice is not None and notice["follow_up"],
        replay.known(use, filing.scenario_time),
        replay.ratings.get((filing.regime, duty.id), {}),
    )


def _duty_filed_by(use: RegimeUse, clocks: list[DutyClock], reached: set[str]) -> Duty | None:
    """The most urgent open duty owed to a party this message reached (the earliest
    deadline; one without a deadline last, then the regime's order)."""
    candidates = [
        clock
        for clock in clocks
        if clock.state in OPEN and recipient_party(use, clock.duty) in reached
    ]
    if not candidates:
        return None
    # min() is stable: among equals the regime's order decides.
    best = min(candidates, key=lambda c: (c.due_at is None, c.due_at or datetime.min))
    return best.duty


def story_seconds(scenario: Scenario, at: datetime | None) -> float | None:
    """Seconds on the scenario's clock (since its start) of a moment of the story."""
    if at is None:
        return None
    return (at - story_datetime(scenario, 0.0)).total_seconds()


def visible_to(use: RegimeUse, role: str | None) -> bool:
    """A participant sees a regime's clocks (and drafts its notices) when the scenario
    names their role for it, to draft or to sign off."""
    return role is not None and role in use.drafters()


def notice_summary(
    scenario: Scenario,
    in_play: RegimeInPlay,
    duty: Duty,
    draft: NoticeDraft | None,
    judged: bool = True,
) -> dict[str, Any]:
    """A duty's notice for the panel: the form's fields as drafted (or as filed), who
    last wrote each, the sign-off, and once filed how complete it was (unless not
    `judged`: completeness is scoring, which participants see once it is released)."""
    filing = in_play.filing(duty.id)
    filed = None if filing is None else filing.notice
    values = filed["fields"] if filed else ({} if draft is None else draft.fields)
    editors = filed["edited_by"] if filed else ({} if draft is None else draft.edited_by)
    complete = in_play.completeness.get(duty.id) if judged else None
    checks = {} if complete is None else {x.field.id: x for x in complete.checks}
    rows = []
    for form_field in duty.fields:
        check = checks.get(form_field.id)
        rows.append(
            {
                "id": form_field.id,
                "label": form_field.label,
                "kind": str(form_field.kind),
                "required": form_field.required,
                "source": form_field.source,
                "value": values.get(form_field.id, ""),
                "edited_by": _role_title(scenario, editors.get(form_field.id)),
                "status": None if check is None else str(check.status),
                "detail": None if check is None else check.detail,
                "counts": None if check is None else check.counts,
                "rating": None
                if check is None or check.rating is None
                else {"complete": check.rating.complete, "reason": check.rating.reason},
            }
        )
    sign_off = in_play.use.sign_off
    return {
        "fields": rows,
        "follow_up": bool(filed["follow_up"]) if filed else draft is not None and draft.follow_up,
        "sign_off": sign_off,
        "sign_off_title": _role_title(scenario, sign_off),
        "signed_off": draft is not None and draft.signed_off,
        "signed_off_by": _role_title(scenario, draft.signed_off_by if draft else None),
        "filed": filing is not None,
        "filed_by": None if filing is None else _role_title(scenario, filing.from_role),
        "filed_as": None if filing is None else ("form" if filed else "message"),
        "filed_text": None if filing is None else filing.body,
        "complete": None if complete is None else complete.complete,
        "required": sum(1 for f in duty.fields if f.required),
    }


def _role_title(scenario: Scenario, role: str | None) -> str | None:
    return None if role is None else scenario.role_title(role)


def owed_to(scenario: Scenario, use: RegimeUse, duty: Duty) -> str:
    """Whom the duty is owed to as this story names them (its party), else the regime's
    words for the recipient."""
    party = recipient_party(use, duty)
    return duty.recipient_name if party is None else scenario.recipient_name(party)


def clock_summary(scenario: Scenario, use: RegimeUse, clock: DutyClock) -> dict[str, str | None]:
    """One duty's clock for people and JSON: times in the story's own zone."""

    def shown(at: datetime | None) -> str | None:
        return None if at is None else at.isoformat(timespec="minutes")

    return {
        "regime": clock.regime.id,
        "duty": clock.duty.id,
        "title": f"{clock.regime.name}: {clock.duty.title}",
        "owed_to": owed_to(scenario, use, clock.duty),
        "state": str(clock.state),
        "started": shown(clock.started_at),
        "due": shown(clock.due_at),
        "filed": shown(clock.filed_at),
        "source": clock.duty.source,
    }
