"""decide / apply / due / replay: the pure rules of a drill.

- `decide(scenario, state, command, now)` checks a command against the state and returns
  the events it causes, or raises DomainError. It never changes `state`.
- `apply(scenario, state, event)` folds one event into the state, in place, in O(1) of the
  log's length (the caller owns the state; `replay` builds a fresh one).
- `due(scenario, state, now)` returns the events whose scenario time has come: injects,
  decision timeouts, missed expectations, the scenario's end. Each carries the scenario
  time it fell due at, so a server that was down catches up in order.
Time is an argument (`now`, wall-clock Unix seconds), never read from a clock here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from app.engine import commands as c
from app.engine import payloads as p
from app.engine.blanks import blanks_in
from app.engine.errors import Code, DomainError
from app.engine.events import SYSTEM, Event, EventType
from app.engine.index import expand_roles, index_of
from app.engine.notices import notice_text
from app.engine.scenario import (
    EVERYONE,
    MAX_SPEED,
    Condition,
    Decision,
    Expectation,
    Inject,
    MessageMatch,
    Party,
    RegimeUse,
    Scenario,
    fill,
    option_of,
)
from app.engine.state import (
    DecisionState,
    DrillState,
    ExpectationState,
    NoticeDraft,
    Participant,
    ReplyThread,
    Status,
    Timer,
    TimerKind,
    notice_key,
    standing_in,
)
from app.regimes.library import regime as shipped_regime
from app.regimes.model import Duty

MAX_CATCH_UP_EVENTS = 100_000


# --------------------------------------------------------------------------- conditions


def holds(condition: Condition | None, state: DrillState) -> bool:
    """Evaluate a scenario condition against the story so far."""
    if condition is None:
        return True
    if condition.flag is not None:
        return state.flags.get(condition.flag, False)
    if condition.chosen is not None:
        return condition.chosen in state.chosen
    if condition.answered is not None:
        decision = state.decisions.get(condition.answered)
        return decision is not None and decision.closed
    if condition.open is not None:
        decision = state.decisions.get(condition.open)
        return decision is not None and not decision.closed
    if condition.delivered is not None:
        return condition.delivered in state.delivered
    if condition.sent is not None:
        return _was_sent(condition.sent, state)
    if condition.all is not None:
        return all(holds(part, state) for part in condition.all)
    if condition.any is not None:
        return any(holds(part, state) for part in condition.any)
    return not holds(condition.not_, state)


def _was_sent(match: MessageMatch, state: DrillState) -> bool:
    if match.by is None:
        return any(_pair_matches(match, sender, to) for sender, to in state.sent_pairs)
    # "Sent by T": the first message of a matching pair went at or before T.
    return any(
        at <= match.by and _pair_matches(match, sender, to)
        for (sender, to), at in state.first_sent.items()
    )


def _pair_matches(match: MessageMatch, sender: str, recipient: str) -> bool:
    return match.accepts(sender, recipient)


# --------------------------------------------------------------------------- decide


def decide(
    scenario: Scenario,
    state: DrillState,
    command: c.Command,
    now: float,
    actor: c.Actor = c.FACILITATOR_ACTOR,
) -> list[Event]:
    """The events `command` causes, or DomainError. `state` is not changed."""
    if isinstance(command, c.CreateDrill):
        return _create(scenario, state, command, now, actor)
    if state.status is Status.new:
        raise DomainError(Code.drill_not_created, "this drill does not exist yet")
    emit = _Emitter(state, now, actor.name)
    if isinstance(command, c.Join):
        _join(scenario, state, command, emit)
    elif isinstance(command, c.Leave):
        _leave(state, command, actor, emit)
    elif isinstance(command, c.AddNote):
        _note(scenario, state, command, actor, emit)
    elif isinstance(command, c.ReleaseScores):  # usually at the hot wash, after the end
        _require_facilitator(actor)
        _facilitate(scenario, state, command, emit)
    elif isinstance(command, c.AdjustScore):  # during the drill or at the review after it
        _require_facilitator(actor)
        _adjust(scenario, state, command, emit)
    elif isinstance(command, c.GiveFeedback):
        _feedback(state, command, actor, emit)
    elif isinstance(command, c.RateNoticeField):  # during the drill or at the review
        _require_facilitator(actor)
        _rate_notice(scenario, state, command, emit)
    else:
        _refuse_after_end(state)
        if isinstance(command, c.Answer):
            _answer(scenario, state, command, actor, emit)
        elif isinstance(command, c.SendMessage):
            _send(scenario, state, command, actor, emit)
        elif isinstance(command, c.DraftNotice | c.SignOffNotice | c.FileNotice):
            _notice(scenario, state, command, actor, emit)
        elif isinstance(command, c.ReplyAsParty):
            _reply_as_party(scenario, state, command, actor, emit)
        elif isinstance(command, c.PostToFeed):
            _post_to_feed(state, command, actor, emit)
        else:
            _require_facilitator(actor)
            _facilitate(scenario, state, command, emit)
    return emit.events


class _Emitter:
    """Numbers events contiguously after the state's last seq."""

    def __init__(self, state: DrillState, now: float, actor: str) -> None:
        self.state = state
        self.now = now
        self.actor = actor
        self.scenario_time = state.scenario_now(now)
        self.events: list[Event] = []

    def __call__(
        self,
        kind: EventType,
        data: p.Payload | None = None,
        scenario_time: float | None = None,
        actor: str | None = None,
    ) -> Event:
        event = Event(
            seq=self.state.seq + len(self.events) + 1,
            type=kind,
            at=self.now,
            scenario_time=self.scenario_time if scenario_time is None else scenario_time,
            actor=self.actor if actor is None else actor,
            data=p.stored(data or {}),
        )
        self.events.append(event)
        return event


def _has_control(text: str) -> bool:
    """NUL, escape and the other C0/C1 controls: invisible on screen, and PostgreSQL's
    text cannot even store a NUL. (Emoji joiners and other format characters are fine.)"""
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def _create(
    scenario: Scenario, state: DrillState, cmd: c.CreateDrill, now: float, actor: c.Actor
) -> list[Event]:
    _require_facilitator(actor)
    if state.status is not Status.new:
        raise DomainError(Code.drill_exists, "this drill has already been created")
    roles = list(scenario.roles) if cmd.roles is None else list(dict.fromkeys(cmd.roles))
    for role in roles:
        if role not in scenario.roles:
            raise DomainError(
                Code.unknown_role,
                f"{role!r} is not a role of this scenario; choose from {', '.join(scenario.roles)}",
            )
    if not roles:
        raise DomainError(Code.invalid_input, "a drill needs at least one role in play")
    backups = {r: spec.backup for r, spec in scenario.roles.items() if spec.backup}
    for role, backup in cmd.backups.items():
        if role not in scenario.roles or backup not in roles or role == backup:
            raise DomainError(
                Code.unknown_role,
                f"cannot make {backup!r} the backup of "
                f"{role!r}: both must be roles of this drill, and different",
            )
        backups[role] = backup
    unknown = sorted(set(cmd.variables) - set(scenario.variables))
    if unknown:
        raise DomainError(
            Code.invalid_input,
            f"unknown variable(s) {', '.join(unknown)}; "
            f"this scenario has {', '.join(scenario.variables) or 'none'}",
        )
    speed = scenario.clock.speed if cmd.speed is None else cmd.speed
    _check_speed(speed)
    name = cmd.name.strip()
    if not name or len(name) > c.MAX_NAME_CHARS or _has_control(name):
        raise DomainError(
            Code.invalid_input,
            f"give the drill a name of 1 to {c.MAX_NAME_CHARS} characters, "
            "without control characters",
        )
    variables = {k: v.default for k, v in scenario.variables.items()} | cmd.variables
    away = _away_from_start(scenario, roles, backups)
    data: p.DrillCreatedData = {
        "drill_id": cmd.drill_id,
        "name": name,
        "scenario_id": scenario.id,
        "scenario_version": scenario.version,
        "speed": speed,
        "roles": roles,
        "backups": backups,
        "variables": variables,
    }
    created = [Event(1, EventType.drill_created, now, 0.0, actor.name, p.stored(data))]
    # In the log from the first moment, before anyone joins: the lobby, the first injects
    # and decisions all go to the backup, and a replay rebuilds the same state.
    for offset, role in enumerate(away, start=2):
        unavailable: p.RoleUnavailableData = {
            "role": role,
            "backup": backups.get(role),
            "from_start": True,
        }
        created.append(
            Event(offset, EventType.role_unavailable, now, 0.0, SYSTEM, p.stored(unavailable))
        )
    return created


def _away_from_start(scenario: Scenario, roles: list[str], backups: dict[str, str]) -> list[str]:
    """Roles in play that are unavailable from the start (`unavailable: true`); each needs
    someone in play to act for it."""
    away = [r for r in roles if scenario.roles[r].unavailable]
    for role in away:
        seen, current = {role}, backups.get(role)
        while (
            current is not None
            and current not in seen
            and (current not in roles or scenario.roles[current].unavailable)
        ):
            seen.add(current)
            current = backups.get(current)
        if current is None or current in seen:
            raise DomainError(
                Code.unknown_role,
                f"{role!r} is unavailable from the start and nobody in this drill acts for "
                f"it: put its backup ({backups.get(role) or 'none set'}) in play, or set one",
            )
    return away


def _check_speed(speed: float) -> None:
    if not 0 < speed <= MAX_SPEED:
        raise DomainError(
            Code.invalid_speed,
            f"speed must be above 0 and at most {MAX_SPEED:g} scenario minutes per real minute",
        )


def _refuse_after_end(state: DrillState) -> None:
    if state.status is Status.ended:
        raise DomainError(Code.drill_ended, "the drill has ended")


def _require_facilitator(actor: c.Actor) -> None:
    if not actor.is_facilitator:
        raise DomainError(Code.not_permitted, "only the facilitator can do that")


def _join(scenario: Scenario, state: DrillState, cmd: c.Join, emit: _Emitter) -> None:
    _refuse_after_end(state)
    if cmd.participant_id in state.participants:
        raise DomainError(Code.participant_exists, "this participant has already joined")
    name = " ".join(cmd.name.split())
    if not name or len(name) > c.MAX_NAME_CHARS or _has_control(name):
        raise DomainError(
            Code.invalid_input,
            f"give a display name of 1 to {c.MAX_NAME_CHARS} characters, "
            "without control characters",
        )
    if cmd.role is not None and cmd.role not in state.roles:
        raise DomainError(
            Code.unknown_role,
            f"{cmd.role!r} is not in play in this drill; choose from {', '.join(state.roles)}",
        )
    unknown = [party for party in cmd.parties if party not in scenario.parties]
    if unknown or (cmd.parties and cmd.role is not None):
        raise DomainError(
            Code.unknown_recipient,
            "a white-cell player plays outside parties, not a role; this scenario's parties "
            f"are {', '.join(scenario.parties) or 'none'}",
        )
    joined: p.ParticipantJoinedData = {
        "participant_id": cmd.participant_id,
        "name": name,
        "role": cmd.role,
    }
    if cmd.parties:
        joined["parties"] = list(dict.fromkeys(cmd.parties))
    emit(EventType.participant_joined, joined, actor=cmd.participant_id)


def _leave(state: DrillState, cmd: c.Leave, actor: c.Actor, emit: _Emitter) -> None:
    if not actor.is_facilitator and actor.participant_id != cmd.participant_id:
        raise DomainError(Code.not_permitted, "you can only leave for yourself")
    participant = state.participants.get(cmd.participant_id)
    if participant is None or not participant.present:
        raise DomainError(Code.unknown_participant, "no such participant in this drill")
    emit(EventType.participant_left, {"participant_id": cmd.participant_id})


def _note(
    scenario: Scenario, state: DrillState, cmd: c.AddNote, actor: c.Actor, emit: _Emitter
) -> None:
    if not actor.is_facilitator:
        participant = _participant(state, actor)
        if not participant.observer:
            raise DomainError(
                Code.not_permitted, "only the facilitator and observers write observer notes"
            )
    text = cmd.text.strip()
    if not text or len(text) > c.MAX_NOTE_CHARS:
        raise DomainError(Code.invalid_input, f"a note is 1 to {c.MAX_NOTE_CHARS} characters")
    if cmd.objective_id is not None and cmd.objective_id not in scenario.objectives:
        raise DomainError(
            Code.unknown_objective,
            f"{cmd.objective_id!r} is not an objective "
            f"of this scenario; choose from {', '.join(scenario.objectives)}",
        )
    emit(EventType.note_added, {"text": text, "objective_id": cmd.objective_id})


def _adjust(scenario: Scenario, state: DrillState, cmd: c.AdjustScore, emit: _Emitter) -> None:
    if cmd.objective_id not in scenario.objectives:
        raise DomainError(
            Code.unknown_objective,
            f"{cmd.objective_id!r} is not an objective "
            f"of this scenario; choose from {', '.join(scenario.objectives)}",
        )
    points = round(float(cmd.points), 2)  # what the log keeps: 0.004 would record 0
    if not (points == points and abs(points) <= c.MAX_ADJUSTMENT) or not points:
        raise DomainError(
            Code.invalid_input,
            f"adjust by a non-zero number of points between -{c.MAX_ADJUSTMENT:g} "
            f"and {c.MAX_ADJUSTMENT:g}",
        )
    reason = " ".join(cmd.reason.split())
    if not reason or len(reason) > c.MAX_NOTE_CHARS:
        raise DomainError(
            Code.invalid_input,
            f"say why the score changes (1 to {c.MAX_NOTE_CHARS} characters); "
            "the report shows the reason",
        )
    if cmd.role is not None and cmd.role not in state.roles:
        raise DomainError(
            Code.unknown_role,
            f"{cmd.role!r} is not a role in play; choose from {', '.join(state.roles)}",
        )
    emit(
        EventType.score_adjusted,
        {
            "objective_id": cmd.objective_id,
            "points": points,
            "reason": reason,
            "role": cmd.role,
        },
    )


def _feedback(state: DrillState, cmd: c.GiveFeedback, actor: c.Actor, emit: _Emitter) -> None:
    if actor.is_facilitator:
        raise DomainError(Code.not_permitted, "the hot-wash form is for participants")
    participant = state.participants.get(actor.participant_id or "")
    if participant is None:
        raise DomainError(Code.unknown_participant, "join the drill first")
    if state.status is not Status.ended:
        raise DomainError(
            Code.drill_not_ended, "the hot-wash form opens when the facilitator ends the drill"
        )
    if participant.id in state.feedback_from:
        raise DomainError(Code.feedback_given, "you have already sent your hot-wash answers")
    if not 1 <= cmd.confidence <= 5:
        raise DomainError(Code.invalid_input, "rate your confidence from 1 (low) to 5 (high)")
    went_well, improve = cmd.went_well.strip(), cmd.improve.strip()
    if len(went_well) > c.MAX_FEEDBACK_CHARS or len(improve) > c.MAX_FEEDBACK_CHARS:
        raise DomainError(
            Code.invalid_input, f"keep each answer to {c.MAX_FEEDBACK_CHARS:,} characters"
        )
    emit(
        EventType.feedback_given,
        {
            "participant_id": participant.id,
            "role": participant.role,
            "went_well": went_well,
            "improve": improve,
            "confidence": cmd.confidence,
        },
    )


def _participant(state: DrillState, actor: c.Actor) -> Participant:
    participant = state.participants.get(actor.participant_id or "")
    if participant is None or not participant.present:
        raise DomainError(Code.unknown_participant, "join the drill first")
    return participant


def _speaking_role(scenario: Scenario, state: DrillState, actor: c.Actor, named: str | None) -> str:
    """The role a command speaks for: a participant's own; the facilitator names one."""
    if actor.is_facilitator:
        if named is None or named not in state.roles:
            raise DomainError(
                Code.unknown_role,
                f"say which role in play this is for: one of {', '.join(state.roles)}",
            )
        return named
    participant = _participant(state, actor)
    if participant.role is None:
        raise DomainError(Code.not_permitted, "observers watch and take notes; they do not play")
    if named is not None and named != participant.role:
        raise DomainError(Code.wrong_role, f"you play {participant.role}, not {named}")
    if participant.role in state.unavailable:
        backup = scenario.role_title(state.acting_role(participant.role))
        raise DomainError(
            Code.role_unavailable,
            f"in the story you cannot be reached right now: {backup} acts for you",
        )
    return participant.role


def _require_running(state: DrillState) -> None:
    if state.status is Status.paused:
        raise DomainError(
            Code.drill_not_running, "the drill is paused; wait for the facilitator to resume it"
        )
    if state.status is not Status.running:
        raise DomainError(Code.drill_not_running, "the drill has not started yet")


def _answer(
    scenario: Scenario, state: DrillState, cmd: c.Answer, actor: c.Actor, emit: _Emitter
) -> None:
    _require_running(state)
    if not scenario.has_decision(cmd.decision_id):
        raise DomainError(Code.unknown_decision, f"there is no decision {cmd.decision_id!r}")
    spec = scenario.decision(cmd.decision_id)
    decision = state.decisions.get(cmd.decision_id)
    if decision is None:
        raise DomainError(Code.decision_not_open, "this decision has not been put to anyone yet")
    if decision.closed or emit.scenario_time > decision.deadline:
        raise DomainError(Code.decision_closed, "this decision is closed")
    role = _speaking_role(scenario, state, actor, cmd.role)
    answering_for = [r for r in decision.roles if r in state.stands_in_for(role)]
    if not answering_for:
        raise DomainError(
            Code.wrong_role, f"this decision is for {', '.join(decision.roles)}, not {role}"
        )
    if spec.per_role and all(decision.answered_by(r) for r in answering_for):
        raise DomainError(Code.already_answered, f"{role} has already answered this decision")
    if cmd.option_id not in {o.id for o in spec.options}:
        raise DomainError(
            Code.unknown_option,
            f"{cmd.option_id!r} is not an option here; "
            f"choose from {', '.join(o.id for o in spec.options)}",
        )
    if len(cmd.rationale) > c.MAX_MESSAGE_CHARS:
        raise DomainError(Code.invalid_input, "the rationale is too long")
    answered_role = next(r for r in answering_for if not decision.answered_by(r))
    answered = emit(
        EventType.decision_answered,
        {
            "decision_id": cmd.decision_id,
            "option_id": cmd.option_id,
            "roles": list(decision.roles),
            "role": answered_role,
            "answered_by_role": role,
            "rationale": cmd.rationale.strip(),
            "latency": emit.scenario_time - decision.opened_at,
        },
    )
    _send_by_option(scenario, state, spec, cmd.option_id, role, answered, emit)
    remaining = [r for r in decision.roles if not decision.answered_by(r) and r != answered_role]
    if not spec.per_role or not remaining:
        if spec.per_role:
            emit(
                EventType.decision_closed,
                {"decision_id": cmd.decision_id, "roles": list(decision.roles)},
            )
        # Per role, the drill ends if any role chose an ending: not on who answered last.
        chosen = [option for _, option in decision.answers] + [cmd.option_id]
        _end_if_chosen(spec, chosen, emit)


def _send_by_option(
    scenario: Scenario,
    state: DrillState,
    spec: Decision,
    option_id: str,
    role: str,
    answered: Event,
    emit: _Emitter,
) -> None:
    """An option with `sends:` is also a message from the role that answered: it follows
    the answer in the log and meets expectations as a typed message would. Only an answer
    sends; a default taken on a timeout does not (not deciding is not notifying)."""
    option = option_of(spec, option_id)
    if option.sends is None:
        return
    recipients = [r for r in option.sends.to if r in state.roles or r in scenario.parties]
    if not recipients:
        return  # every addressee is a role left out of this drill
    # The answer may arm the very expectation this message meets (`after: {option: ...}`):
    # look at the story as it stands once the answer is applied, on a copy.
    after_answer = apply(scenario, state.copy(), answered)
    subject = fill(option.sends.subject or option.label, state.variables)
    default_body = "\n\n".join(t for t in (option.label, option.description) if t)
    body = fill(option.sends.body or default_body, state.variables)
    message = _emit_message(
        emit,
        after_answer,
        _Message(role, recipients, subject, body),
        via_option=f"{spec.id}.{option.id}",
    )
    _meet_expectations(scenario, after_answer, message, role, recipients, emit)


@dataclass(frozen=True, slots=True)
class _Message:
    role: str
    recipients: list[str]
    subject: str
    body: str
    statement_id: str | None = None
    statement_body: str | None = None
    """The drawer statement it started from, filled: its placeholders are blanks too."""


def _emit_message(
    emit: _Emitter,
    state: DrillState,
    m: _Message,
    via_option: str | None = None,
    notice: p.NoticeFiled | None = None,
) -> Event:
    data: p.MessageSentData = {
        "from_role": m.role,
        "to": m.recipients,
        "subject": m.subject,
        "body": m.body,
        "statement_id": m.statement_id,
        # Gaps of a template still in it: such a message meets no expectation.
        "blanks": blanks_in(f"{m.subject}\n{m.body}", m.statement_body),
        # Who reads it: addressed roles, or whoever acts for them now.
        "recipients": _recipients(state, [r for r in m.recipients if r in state.roles]),
    }
    if via_option is not None:
        data["via_option"] = via_option
    if notice is not None:
        data["notice"] = notice
    return emit(EventType.message_sent, data)


def _end_if_chosen(spec: Decision, chosen: list[str], emit: _Emitter, suffix: str = "") -> None:
    ending = next((o for o in chosen if option_of(spec, o).ends_drill), None)
    if ending is not None:
        label = fill(option_of(spec, ending).label, emit.state.variables)
        how = "was taken when time ran out" if suffix else "was chosen"
        emit(
            EventType.drill_ended,
            {
                "reason": f"option {spec.id}.{ending}{suffix}",
                "why": f"\u201c{label}\u201d {how}, which ends the story",
            },
        )


def _send(
    scenario: Scenario, state: DrillState, cmd: c.SendMessage, actor: c.Actor, emit: _Emitter
) -> None:
    _require_running(state)
    role = _speaking_role(scenario, state, actor, cmd.from_role)
    recipients = list(dict.fromkeys(cmd.to))
    if not recipients:
        raise DomainError(
            Code.unknown_recipient, "address the message to at least one role or external party"
        )
    for recipient in recipients:
        if recipient not in state.roles and recipient not in scenario.parties:
            raise DomainError(
                Code.unknown_recipient,
                f"{recipient!r} is neither a role in play nor an external party of this scenario",
            )
    body = cmd.body.strip()
    if not body:
        raise DomainError(Code.invalid_input, "the message is empty")
    if len(body) > c.MAX_MESSAGE_CHARS or len(cmd.subject) > c.MAX_SUBJECT_CHARS:
        raise DomainError(
            Code.invalid_input,
            f"a message is at most {c.MAX_MESSAGE_CHARS:,} "
            f"characters and its subject at most {c.MAX_SUBJECT_CHARS}",
        )
    statement_body: str | None = None
    if cmd.statement_id is not None:
        statement = next((s for s in scenario.statements if s.id == cmd.statement_id), None)
        if statement is None:
            raise DomainError(
                Code.unknown_statement, f"there is no drawer statement {cmd.statement_id!r}"
            )
        if statement.roles and not state.stands_in_for(role) & set(statement.roles):
            raise DomainError(
                Code.statement_not_allowed,
                f"{role} may not send the drawer statement {statement.id!r}",
            )
        statement_body = fill(statement.body, state.variables)
    written = _Message(
        role, recipients, cmd.subject.strip(), body, cmd.statement_id, statement_body
    )
    message = _emit_message(emit, state, written)
    _publish(scenario, state, message, recipients, emit)
    _meet_expectations(scenario, state, message, role, recipients, emit)


def _publish(
    scenario: Scenario, state: DrillState, message: Event, recipients: list[str], emit: _Emitter
) -> None:
    """A message to a public party (the website, the company's accounts) is published:
    it appears in the public feed under that party's name."""
    for recipient in recipients:
        party = scenario.parties.get(recipient)
        if party is None or not party.public:
            continue
        data = p.message_sent(message)
        text = "\n\n".join(part for part in (data["subject"], data["body"]) if part)
        emit(
            EventType.feed_posted,
            {
                "outlet": fill(party.name, state.variables),
                "handle": None,
                "text": text,
                "tone": "neutral",
                "likes": 0,
                "shares": 0,
                "replies": 0,
                "by": "team",
                "message_seq": message.seq,
            },
        )


def _white_cell(state: DrillState, actor: c.Actor, party: str | None = None) -> None:
    """Only the facilitator or a white-cell player (of `party`, when one is named)
    speaks for the outside world."""
    if actor.is_facilitator:
        return
    participant = _participant(state, actor)
    if not participant.white_cell:
        raise DomainError(
            Code.not_permitted, "only the white cell and the facilitator speak for outside parties"
        )
    if party is not None and party not in participant.parties:
        raise DomainError(
            Code.not_permitted, f"you play {', '.join(participant.parties)}, not {party}"
        )


def _reply_as_party(
    scenario: Scenario, state: DrillState, cmd: c.ReplyAsParty, actor: c.Actor, emit: _Emitter
) -> None:
    _require_running(state)
    if cmd.party not in scenario.parties:
        raise DomainError(
            Code.unknown_recipient,
            f"{cmd.party!r} is not an outside party of this scenario; its parties are "
            f"{', '.join(scenario.parties) or 'none'}",
        )
    _white_cell(state, actor, cmd.party)
    if cmd.to not in state.roles:
        raise DomainError(
            Code.unknown_role,
            f"{cmd.to!r} is not a role in play; answer one of {', '.join(state.roles)}",
        )
    body = cmd.body.strip()
    if not body or len(body) > c.MAX_MESSAGE_CHARS or len(cmd.subject) > c.MAX_SUBJECT_CHARS:
        raise DomainError(
            Code.invalid_input,
            f"write the answer (at most {c.MAX_MESSAGE_CHARS:,} characters, the subject at "
            f"most {c.MAX_SUBJECT_CHARS})",
        )
    if cmd.reply_id is not None and f"{cmd.party}.{cmd.reply_id}" not in state.suggested:
        raise DomainError(
            Code.invalid_input,
            f"{cmd.reply_id!r} is not a suggested reply of {cmd.party} waiting to be sent",
        )
    replied: p.PartyRepliedData = {
        "party": cmd.party,
        "to": [cmd.to],
        "recipients": _recipients(state, [cmd.to]),
        "subject": cmd.subject.strip(),
        "body": body,
        "reply_to_seq": state.last_to_party.get((cmd.to, cmd.party)),
        "reply_id": cmd.reply_id,
        "by": "white_cell",
    }
    emit(EventType.party_replied, replied)


TONES: dict[str, Literal["negative", "neutral", "positive"]] = {
    "negative": "negative",
    "neutral": "neutral",
    "positive": "positive",
}


def _post_to_feed(state: DrillState, cmd: c.PostToFeed, actor: c.Actor, emit: _Emitter) -> None:
    _require_running(state)
    _white_cell(state, actor)
    outlet, text = cmd.outlet.strip(), cmd.text.strip()
    if not outlet or not text or len(outlet) > 300 or len(text) > c.MAX_MESSAGE_CHARS:
        raise DomainError(
            Code.invalid_input,
            f"a post needs an outlet (at most 300 characters) and a text (at most "
            f"{c.MAX_MESSAGE_CHARS:,})",
        )
    tone = TONES.get(cmd.tone)
    if tone is None:
        raise DomainError(Code.invalid_input, f"tone is one of {', '.join(TONES)}")
    figures = (cmd.likes, cmd.shares, cmd.replies)
    if any(n < 0 or n > c.MAX_ENGAGEMENT for n in figures):
        raise DomainError(
            Code.invalid_input, f"likes, shares and replies are 0 to {c.MAX_ENGAGEMENT:,}"
        )
    handle = (cmd.handle or "").strip()[:300] or None
    emit(
        EventType.feed_posted,
        {
            "outlet": outlet,
            "handle": handle,
            "text": text,
            "tone": tone,
            "likes": cmd.likes,
            "shares": cmd.shares,
            "replies": cmd.replies,
            "by": "white_cell",
            "message_seq": None,
        },
    )


NoticeCommand = c.DraftNotice | c.SignOffNotice | c.FileNotice


def _notice(
    scenario: Scenario, state: DrillState, cmd: NoticeCommand, actor: c.Actor, emit: _Emitter
) -> None:
    """Drafting, signing off and filing a duty's notice form: the roles the scenario names
    for the regime (or whoever stands in for them) write it; filing sends it, with the
    form, to the party the duty is owed to."""
    _require_running(state)
    use, duty = _notice_duty(scenario, cmd.regime, cmd.duty)
    role = _speaking_role(scenario, state, actor, cmd.role)
    # The roles the scenario names for the regime draft its notices; none named: anyone.
    drafters = use.drafters() or list(state.roles)
    if not state.stands_in_for(role) & set(drafters):
        raise DomainError(
            Code.unknown_notice,
            f"{role} does not draft {cmd.regime} notices; {', '.join(drafters)} does",
        )
    key = notice_key(cmd.regime, cmd.duty)
    draft = state.notices.get(key)
    if draft is not None and draft.filed_seq is not None:
        raise DomainError(Code.notice_filed, "this notice has been filed already")
    if isinstance(cmd, c.DraftNotice):
        _draft_notice(cmd, duty, role, drafters, draft, emit)
        return
    if draft is None or not any(v.strip() for v in draft.fields.values()):
        raise DomainError(Code.invalid_input, "the notice is empty: fill in its form first")
    if isinstance(cmd, c.SignOffNotice):
        if use.sign_off is None or use.sign_off not in state.stands_in_for(role):
            who = f"only {use.sign_off} signs them off" if use.sign_off else "none is needed"
            raise DomainError(
                Code.not_permitted, f"{role} cannot sign off {cmd.regime} notices: {who}"
            )
        signed: p.NoticeSignedOffData = {
            "regime": cmd.regime,
            "duty": cmd.duty,
            "role": role,
            "draft_seq": draft.draft_seq,
            "roles": drafters,
        }
        emit(EventType.notice_signed_off, signed)
        return
    if use.sign_off is not None and not draft.signed_off:
        raise DomainError(
            Code.notice_not_signed_off,
            f"{scenario.role_title(use.sign_off)} must sign off the notice as it stands "
            "before it is filed",
        )
    _file_notice(scenario, state, use, duty, role, drafters, draft, emit)


def _notice_duty(scenario: Scenario, regime_id: str, duty_id: str) -> tuple[RegimeUse, Duty]:
    use = next((u for u in scenario.regimes if u.regime == regime_id), None)
    if use is None:
        played = ", ".join(u.regime for u in scenario.regimes) or "none"
        raise DomainError(
            Code.unknown_notice, f"this scenario plays no regime {regime_id!r}; it plays {played}"
        )
    found = shipped_regime(regime_id)
    try:
        return use, found.duty(duty_id)
    except KeyError:
        duties = ", ".join(d.id for d in found.duties)
        raise DomainError(
            Code.unknown_notice, f"{found.name} has no duty {duty_id!r}; its duties are {duties}"
        ) from None


def _draft_notice(
    cmd: c.DraftNotice,
    duty: Duty,
    role: str,
    drafters: list[str],
    draft: NoticeDraft | None,
    emit: _Emitter,
) -> None:
    known = {f.id for f in duty.fields}
    unknown = sorted(set(cmd.fields) - known)
    if unknown:
        raise DomainError(
            Code.unknown_notice,
            f"the {duty.title.lower()} form has no field {', '.join(unknown)}; "
            f"its fields are {', '.join(f.id for f in duty.fields)}",
        )
    fields = {k: v.strip() for k, v in cmd.fields.items()}
    for field_id, text in fields.items():
        if len(text) > c.MAX_FIELD_CHARS or _has_control(text.replace("\n", "").replace("\t", "")):
            raise DomainError(
                Code.invalid_input,
                f"{field_id}: a field is plain text of at most {c.MAX_FIELD_CHARS:,} characters",
            )
    before = {} if draft is None else draft.fields
    changed = {k: v for k, v in fields.items() if before.get(k, "") != v}
    follow_up = (draft is not None and draft.follow_up) if cmd.follow_up is None else cmd.follow_up
    if not changed and draft is not None and follow_up == draft.follow_up:
        return  # nothing new: the log does not need an empty edit
    drafted: p.NoticeDraftedData = {
        "regime": cmd.regime,
        "duty": cmd.duty,
        "role": role,
        "fields": changed,
        "follow_up": follow_up,
        "roles": drafters,
    }
    emit(EventType.notice_drafted, drafted)


def _file_notice(
    scenario: Scenario,
    state: DrillState,
    use: RegimeUse,
    duty: Duty,
    role: str,
    drafters: list[str],
    draft: NoticeDraft,
    emit: _Emitter,
) -> None:
    party = use.party_for(duty.recipient)
    if party is None:
        raise DomainError(
            Code.unknown_recipient,
            f"this scenario names no party for {duty.recipient_name}, so the notice has "
            "nowhere to go",
        )
    found = shipped_regime(use.regime)
    fields = {k: v for k, v in draft.fields.items() if v}
    message = _emit_message(
        emit,
        state,
        _Message(
            role,
            [party],
            f"{found.name}: {duty.title}"[: c.MAX_SUBJECT_CHARS],
            notice_text(duty, fields, draft.follow_up),
        ),
        notice={
            "regime": use.regime,
            "duty": duty.id,
            "fields": fields,
            "edited_by": {k: v for k, v in draft.edited_by.items() if k in fields},
            "follow_up": draft.follow_up,
            "signed_off_by": draft.signed_off_by if draft.signed_off else None,
            "roles": drafters,
        },
    )
    _meet_expectations(scenario, state, message, role, [party], emit)


def _rate_notice(
    scenario: Scenario, state: DrillState, cmd: c.RateNoticeField, emit: _Emitter
) -> None:
    _, duty = _notice_duty(scenario, cmd.regime, cmd.duty)
    if cmd.field not in {f.id for f in duty.fields}:
        raise DomainError(
            Code.unknown_notice,
            f"the {duty.title.lower()} form has no field {cmd.field!r}; "
            f"its fields are {', '.join(f.id for f in duty.fields)}",
        )
    reason = cmd.reason.strip()
    if not reason or len(reason) > c.MAX_NOTE_CHARS:
        raise DomainError(
            Code.invalid_input,
            f"give the reason for the rating (at most {c.MAX_NOTE_CHARS:,} characters): "
            "the report shows it",
        )
    rated: p.NoticeFieldRatedData = {
        "regime": cmd.regime,
        "duty": cmd.duty,
        "field": cmd.field,
        "complete": cmd.complete,
        "reason": reason,
    }
    emit(EventType.notice_field_rated, rated)


def _message_reach(
    state: DrillState, sender: str, recipients: list[str], covered: set[str] | None = None
) -> tuple[set[str], set[str]]:
    """Whom a message speaks for and whom it reaches: a backup acting for an unavailable
    role speaks (and is written to) on that role's behalf. `covered`: the state's
    `covered_roles()`, when the caller has them already."""
    reached = set(recipients)
    covered = state.covered_roles() if covered is None else covered
    if not covered:  # nobody acts for anyone: the usual case, and cheap
        return {sender}, reached
    # Who acts for each covered role, found once per message, not once per role asked about.
    acting = state.acting_for(covered)
    for recipient in recipients:
        if recipient in state.roles:
            reached |= standing_in(recipient, acting)
    return standing_in(sender, acting), reached


def message_pairs(state: DrillState, sender: str, recipients: list[str]) -> set[tuple[str, str]]:
    """Every (from, to) a message counts as, for triggers, conditions and expectations."""
    covered = state.covered_roles()
    if not covered:  # applied for every message of a log: keep the usual case short
        return {(sender, recipient) for recipient in recipients}
    speaks_for, reached = _message_reach(state, sender, recipients, covered)
    return {(f, t) for f in speaks_for for t in reached}


def _meet_expectations(
    scenario: Scenario,
    state: DrillState,
    message: Event,
    role: str,
    recipients: list[str],
    emit: _Emitter,
) -> None:
    blanks: list[str] | None = p.message_sent(message).get("blanks")
    if blanks:
        return  # not ready to go: scoring reports it as sent with blanks
    speaks_for, reached = _message_reach(state, role, recipients)
    for pending in state.expectations.values():
        if pending.status != "pending":
            continue
        spec = scenario.expectation(pending.id)
        if spec.from_ is not None and not speaks_for & set(spec.from_):
            continue
        if spec.to not in reached or message.scenario_time > pending.closes:
            continue
        on_time = message.scenario_time <= pending.deadline
        points = spec.points if on_time else _late_points(spec, pending, message.scenario_time)
        emit(
            EventType.expectation_met,
            {
                "expectation_id": pending.id,
                "message_seq": message.seq,
                "from_role": role,
                "status": "on_time" if on_time else "late",
                "points": points,
                "deadline": pending.deadline,
            },
        )


def _late_points(spec: Expectation, pending: ExpectationState, at: float) -> float:
    grace = pending.closes - pending.deadline
    if grace <= 0:
        return 0.0
    fraction = max(0.0, 1 - (at - pending.deadline) / grace)
    return round(spec.points * fraction, 2)


def _facilitate(scenario: Scenario, state: DrillState, cmd: c.Command, emit: _Emitter) -> None:
    if isinstance(cmd, c.StartClock):
        if state.started:
            raise DomainError(Code.drill_already_started, "the drill is already under way")
        unfilled = unfilled_required_roles(scenario, state)
        if unfilled and not cmd.confirm_unfilled:
            names = ", ".join(scenario.role_title(r) for r in unfilled)
            raise DomainError(
                Code.required_roles_unfilled,
                f"nobody plays {names}, which this scenario needs: have someone join as "
                "it, or start anyway (confirm_unfilled)",
            )
        data: p.ClockStartedData = {"speed": state.speed}
        if unfilled:
            data["unfilled_required"] = unfilled  # the facilitator chose to start without
        emit(EventType.clock_started, data)
    elif isinstance(cmd, c.FireInject | c.SkipInject):
        _fire_or_skip(scenario, state, cmd, emit)
    elif isinstance(cmd, c.PauseClock):
        _require_running(state)
        emit(EventType.clock_paused)
    elif isinstance(cmd, c.ResumeClock):
        if state.status is not Status.paused:
            raise DomainError(Code.drill_not_running, "the drill is not paused")
        emit(EventType.clock_resumed)
    elif isinstance(cmd, c.SetSpeed):
        _check_speed(cmd.speed)
        emit(EventType.clock_speed_changed, {"speed": cmd.speed, "previous": state.speed})
    elif isinstance(cmd, c.JumpToNextInject):
        _jump(state, emit)
    elif isinstance(cmd, c.ReleaseScores):
        if state.scores_released:
            raise DomainError(Code.invalid_input, "the scores are already released")
        released: p.ScoresReleasedData = {}
        if cmd.scorecard is not None:
            released["scorecard"] = cmd.scorecard
        emit(EventType.scores_released, released)
    elif isinstance(cmd, c.EndDrill):
        emit(EventType.drill_ended, {"reason": cmd.reason.strip()[:300] or "ended"})
    elif isinstance(cmd, c.ManualInject):
        _manual_inject(scenario, state, cmd, emit)
    else:  # pragma: no cover - every command type is handled above
        raise DomainError(Code.invalid_input, f"unknown command {type(cmd).__name__}")


def unfilled_required_roles(scenario: Scenario, state: DrillState) -> list[str]:
    """Roles in play the scenario marks `required` that no present participant plays."""
    played = {who.role for who in state.participants.values() if who.present and who.role}
    return [r for r in state.roles if scenario.roles[r].required and r not in played]


def _fire_or_skip(
    scenario: Scenario, state: DrillState, cmd: c.FireInject | c.SkipInject, emit: _Emitter
) -> None:
    """The facilitator fires a scheduled inject now, or skips it for good."""
    _require_running(state)
    if not scenario.has_inject(cmd.inject_id):
        raise DomainError(Code.unknown_inject, f"there is no inject {cmd.inject_id!r}")
    inject = scenario.inject(cmd.inject_id)
    if f"inject:{inject.id}" not in state.timers:
        done = (
            "has already been delivered"
            if inject.id in state.delivered
            else "was skipped"
            if inject.id in state.skipped
            else "is not scheduled yet: what it follows has not happened"
        )
        raise DomainError(Code.inject_not_scheduled, f"{inject.title!r} {done}")
    if isinstance(cmd, c.SkipInject):
        emit(EventType.inject_skipped, {"inject_id": inject.id, "reason": "facilitator"})
    else:
        _fire_inject(scenario, state, inject, emit, by_facilitator=True)


def _jump(state: DrillState, emit: _Emitter) -> None:
    if not state.started:
        raise DomainError(Code.drill_not_started, "start the drill first")
    upcoming = [t for t in state.timers.values() if t.kind is TimerKind.inject]
    if not upcoming:
        raise DomainError(Code.nothing_to_jump_to, "no inject is scheduled")
    target = min(t.due for t in upcoming)
    if target <= emit.scenario_time:
        raise DomainError(Code.nothing_to_jump_to, "the next inject is already due")
    emit(EventType.clock_jumped, {"from": emit.scenario_time, "to": target})


def _manual_inject(
    scenario: Scenario, state: DrillState, cmd: c.ManualInject, emit: _Emitter
) -> None:
    if not state.started:
        raise DomainError(Code.drill_not_started, "start the drill before sending injects")
    title, body = cmd.title.strip(), cmd.body.strip()
    if not title or len(title) > c.MAX_SUBJECT_CHARS or not body or len(body) > c.MAX_MESSAGE_CHARS:
        raise DomainError(
            Code.invalid_input,
            f"an inject needs a title (at most "
            f"{c.MAX_SUBJECT_CHARS}) and a body (at most {c.MAX_MESSAGE_CHARS:,})",
        )
    if not cmd.to:
        raise DomainError(Code.unknown_role, "send the inject to at least one role, or to all")
    for role in cmd.to:
        if role != EVERYONE and role not in state.roles:
            raise DomainError(Code.unknown_role, f"{role!r} is not a role in play")
    addressed = expand_roles(cmd.to, state.roles)
    emit(
        EventType.inject_delivered,
        {
            "inject_id": None,
            "manual": True,
            "title": title,
            "body": body,
            "channel": str(cmd.channel),
            "severity": str(cmd.severity),
            "sender": (cmd.sender or "").strip()[:300] or None,
            "to": addressed,
            "recipients": _recipients(state, addressed),
            "attack": [],
            "facts": [],
        },
    )


def _recipients(
    state: DrillState, roles: Iterable[str], unavailable: set[str] | None = None
) -> list[str]:
    """Roles that actually receive: each addressed role, or whoever acts for it."""
    return list(dict.fromkeys(state.acting_role(r, unavailable) for r in roles))


# --------------------------------------------------------------------------- due


def due(scenario: Scenario, state: DrillState, now: float) -> list[Event]:
    """Events whose scenario time has come by `now`, in order. `state` is not changed."""
    if state.status is not Status.running:
        return []
    if state.next_timer(limit=state.scenario_now(now)) is None:
        return []
    return advance(scenario, state.copy(), now)


def advance(scenario: Scenario, state: DrillState, now: float) -> list[Event]:
    """Like `due`, but applies the events to `state` as it goes (for simulations that own
    their state and need not copy it)."""
    if state.status is not Status.running:
        return []
    target = state.scenario_now(now)
    events: list[Event] = []
    while len(events) < MAX_CATCH_UP_EVENTS:
        timer = state.next_timer(limit=target)
        if timer is None or state.status is not Status.running:
            break
        for event in fire(scenario, state, timer, now):
            apply(scenario, state, event)
            events.append(event)
    return events


def next_due(state: DrillState) -> float | None:
    """Scenario time of the next thing that will happen by itself, if any."""
    timer = state.next_timer()
    return None if timer is None else timer.due


def fire(scenario: Scenario, state: DrillState, timer: Timer, now: float) -> list[Event]:
    """The events one timer causes when it falls due."""
    emit = _Emitter(state, now, SYSTEM)
    emit.scenario_time = max(timer.due, state.last_scenario_time)
    if timer.kind is TimerKind.inject:
        _fire_inject(scenario, state, scenario.inject(timer.ref), emit)
    elif timer.kind is TimerKind.decision:
        decision = state.decisions[timer.ref]
        spec = scenario.decision(timer.ref)
        if decision.answers:
            emit(EventType.decision_closed, {"decision_id": spec.id, "roles": list(decision.roles)})
            _end_if_chosen(spec, [option for _, option in decision.answers], emit)
        else:
            emit(
                EventType.decision_timed_out,
                {"decision_id": spec.id, "option_id": spec.default, "roles": list(decision.roles)},
            )
            _end_if_chosen(spec, [spec.default], emit, " (time ran out)")
    elif timer.kind is TimerKind.reply:
        _fire_reply(scenario, state, timer.ref, emit)
    elif timer.kind is TimerKind.expectation:
        pending = state.expectations[timer.ref]
        emit(
            EventType.expectation_missed,
            {"expectation_id": timer.ref, "deadline": pending.deadline},
        )
    else:
        emit(EventType.drill_ended, {"reason": "the scenario's time is up"})
    return emit.events


def _fire_inject(
    scenario: Scenario,
    state: DrillState,
    inject: Inject,
    emit: _Emitter,
    by_facilitator: bool = False,
) -> None:
    """Deliver an inject that fell due, or skip it if an option suppressed it or its
    condition is false. Fired by the facilitator ahead of time, it is delivered as asked."""
    if not by_facilitator and inject.id in state.suppressed:
        emit(EventType.inject_skipped, {"inject_id": inject.id, "reason": "suppressed"})
        return
    if not by_facilitator and not holds(inject.when, state):
        emit(EventType.inject_skipped, {"inject_id": inject.id, "reason": "condition"})
        return
    addressed = expand_roles(inject.to, state.roles)
    # Availability changes with the inject itself: "you are back" reaches the returning role.
    unavailable = (state.unavailable | set(inject.unavailable)) - set(inject.available)
    delivered: p.InjectDeliveredData = {
        "inject_id": inject.id,
        "manual": False,
        "title": fill(inject.title, state.variables),
        "body": fill(inject.body, state.variables),
        "sender": fill(inject.sender, state.variables) if inject.sender else None,
        "channel": str(inject.channel),
        "severity": str(inject.severity),
        "to": addressed,
        "recipients": _recipients(state, addressed, unavailable),
        "attack": list(inject.attack),
        "facts": list(inject.facts),
    }
    if by_facilitator:
        delivered["fired_by_facilitator"] = True
    if inject.attachments:
        delivered["attachments"] = [
            {
                "file": a.file,
                "title": fill(a.title, state.variables) if a.title else a.file.rsplit("/", 1)[-1],
            }
            for a in inject.attachments
        ]
    if inject.post is not None:
        post = inject.post
        delivered["post"] = {
            "outlet": fill(post.outlet, state.variables),
            "handle": fill(post.handle, state.variables) if post.handle else None,
            "likes": post.likes,
            "shares": post.shares,
            "replies": post.replies,
            "tone": TONES[post.tone.value],
        }
    emit(EventType.inject_delivered, delivered)
    for role in inject.unavailable:
        if role in state.roles and role not in state.unavailable:
            emit(EventType.role_unavailable, {"role": role, "backup": state.backups.get(role)})
    for role in inject.available:
        if role in state.unavailable:
            emit(EventType.role_available, {"role": role})
    if inject.opens is not None and inject.opens not in state.decisions:
        spec = scenario.decision(inject.opens)
        addressed_roles = expand_roles(spec.to, state.roles)
        prompt = fill(spec.prompt, state.variables)
        emit(
            EventType.decision_opened,
            {
                "decision_id": spec.id,
                "to": addressed_roles,
                "roles": _recipients(state, addressed_roles, unavailable),
                "deadline": emit.scenario_time + spec.time_limit,
                "prompt": prompt,
                "title": spec.heading(state.variables),
            },
        )
    if inject.ends_drill:
        title = fill(inject.title, state.variables)
        emit(
            EventType.drill_ended,
            {"reason": f"inject {inject.id}", "why": f"the story ends with \u201c{title}\u201d"},
        )


# --------------------------------------------------------------------------- apply


def apply(scenario: Scenario, state: DrillState, event: Event) -> DrillState:
    """Fold one event into `state` (in place) and return it."""
    if event.seq != state.seq + 1:
        raise ValueError(f"event seq {event.seq} does not follow {state.seq}")
    handler = _APPLY[event.type]
    state.seq = event.seq
    if event.scenario_time > state.last_scenario_time:  # max(), without a call per event
        state.last_scenario_time = event.scenario_time
    handler(scenario, state, event)
    return state


def replay(scenario: Scenario, events: Iterable[Event]) -> DrillState:
    state = DrillState()
    for event in events:
        apply(scenario, state, event)
    return state


def _on_created(scenario: Scenario, state: DrillState, e: Event) -> None:
    d = p.drill_created(e)
    state.drill_id, state.name = d["drill_id"], d["name"]
    state.speed = float(d["speed"])
    state.roles = list(d["roles"])
    state.backups = dict(d["backups"])
    state.variables = dict(d["variables"])
    state.status = Status.lobby
    state.anchor_wall = e.at


def _on_joined(scenario: Scenario, state: DrillState, e: Event) -> None:
    d = p.participant_joined(e)
    state.participants[d["participant_id"]] = Participant(
        d["participant_id"], d["name"], d["role"], e.seq, parties=tuple(d.get("parties", ()))
    )


def _on_left(scenario: Scenario, state: DrillState, e: Event) -> None:
    pid = p.participant_left(e)["participant_id"]
    old = state.participants[pid]
    state.participants[pid] = replace(old, present=False)


def _reanchor(state: DrillState, e: Event) -> None:
    state.anchor_scenario = e.scenario_time
    state.anchor_wall = e.at


def _on_started(scenario: Scenario, state: DrillState, e: Event) -> None:
    _reanchor(state, e)
    state.status = Status.running
    state.started = True
    index = index_of(scenario)
    for inject in index.at_start.injects:
        _arm_inject(scenario, state, inject, (inject.at or 0.0) + e.scenario_time)
    for expectation in index.at_start.expectations:
        _arm_expectation(state, expectation, e.scenario_time)
    if scenario.clock.end is not None:
        state.timers["end"] = Timer(scenario.clock.end, TimerKind.end, "end", 0)


def _on_paused(scenario: Scenario, state: DrillState, e: Event) -> None:
    _reanchor(state, e)
    state.status = Status.paused


def _on_resumed(scenario: Scenario, state: DrillState, e: Event) -> None:
    _reanchor(state, e)
    state.status = Status.running


def _on_speed(scenario: Scenario, state: DrillState, e: Event) -> None:
    _reanchor(state, e)
    state.speed = float(p.clock_speed_changed(e)["speed"])


def _on_jumped(scenario: Scenario, state: DrillState, e: Event) -> None:
    state.anchor_scenario = float(p.clock_jumped(e)["to"])
    state.anchor_wall = e.at


def _arm_replies(
    state: DrillState, party_id: str, party: Party, data: p.MessageSentData, e: Event
) -> None:
    """The first message to a party (from a role a reply waits for) arms that reply: it
    falls due `delay` later, in the sender's thread. Each reply is armed once."""
    for order, reply in enumerate(party.replies):
        ref = f"{party_id}.{reply.id}"
        if ref in state.reply_threads or (reply.from_ and data["from_role"] not in reply.from_):
            continue
        subject = data["subject"] or party.name
        state.reply_threads[ref] = ReplyThread(data["from_role"], e.seq, f"Re: {subject}")
        state.timers[f"reply:{ref}"] = Timer(
            e.scenario_time + reply.delay, TimerKind.reply, ref, order
        )


def _fire_reply(scenario: Scenario, state: DrillState, ref: str, emit: _Emitter) -> None:
    """An authored reply falls due: skipped if its condition is false; offered to the
    white cell if someone plays the party; else sent, in the thread it answers."""
    party_id, _, reply_id = ref.partition(".")
    party = scenario.parties[party_id]
    reply = next(r for r in party.replies if r.id == reply_id)
    thread = state.reply_threads[ref]
    if not holds(reply.when, state):
        emit(
            EventType.reply_skipped,
            {"party": party_id, "reply_id": reply_id, "reason": "condition"},
        )
        return
    subject = fill(reply.subject, state.variables) if reply.subject else thread.subject
    body = fill(reply.body, state.variables)
    if state.plays(party_id):
        emit(
            EventType.reply_suggested,
            {
                "party": party_id,
                "reply_id": reply_id,
                "to": [thread.role],
                "subject": subject,
                "body": body,
                "reply_to_seq": thread.message_seq,
            },
        )
        return
    replied: p.PartyRepliedData = {
        "party": party_id,
        "to": [thread.role],
        "recipients": _recipients(state, [thread.role]),
        "subject": subject,
        "body": body,
        "reply_to_seq": state.last_to_party.get((thread.role, party_id)),
        "reply_id": reply_id,
        "by": "author",
    }
    emit(EventType.party_replied, replied)


def _on_reply_event(scenario: Scenario, state: DrillState, e: Event) -> None:
    """An authored reply fell due (sent, suggested or skipped): its timer is done; a
    suggestion waits for the white cell, and a sent one is no longer waiting."""
    reply_id = e.data.get("reply_id")
    if reply_id is None:
        return
    ref = f"{e.data['party']}.{reply_id}"
    state.timers.pop(f"reply:{ref}", None)
    if e.type is EventType.reply_suggested:
        state.suggested.add(ref)
    else:
        state.suggested.discard(ref)


def _on_feed_posted(scenario: Scenario, state: DrillState, e: Event) -> None:
    """A post changes nothing the engine decides on."""


def _arm_inject(scenario: Scenario, state: DrillState, inject: Inject, at: float) -> None:
    if inject.id in state.armed:
        return
    state.armed.add(inject.id)
    order = index_of(scenario).order[f"inject:{inject.id}"]
    state.timers[f"inject:{inject.id}"] = Timer(at, TimerKind.inject, inject.id, order)


def _arm_expectation(state: DrillState, spec: Expectation, at: float) -> None:
    if spec.id in state.expectations or not holds(spec.when, state):
        return
    deadline = at + spec.within
    closes = deadline + (spec.within if spec.grace is None else spec.grace)
    state.expectations[spec.id] = ExpectationState(spec.id, at, deadline, closes)
    state.timers[f"expectation:{spec.id}"] = Timer(closes, TimerKind.expectation, spec.id, 0)


def _arm_followers(
    scenario: Scenario,
    state: DrillState,
    injects: Iterable[Inject],
    expectations: Iterable[Expectation],
    at: float,
) -> None:
    for inject in injects:
        _arm_inject(scenario, state, inject, at + inject.delay)
    for expectation in expectations:
        _arm_expectation(state, expectation, at)


def _on_delivered(scenario: Scenario, state: DrillState, e: Event) -> None:
    inject_id = p.inject_delivered(e)["inject_id"]
    if inject_id is None:  # a manual inject changes nothing in the story's machinery
        return
    state.timers.pop(f"inject:{inject_id}", None)
    state.delivered[inject_id] = e.seq
    followers = index_of(scenario).after_inject.get(inject_id)
    if followers is not None:
        _arm_followers(scenario, state, followers.injects, followers.expectations, e.scenario_time)


def _on_skipped(scenario: Scenario, state: DrillState, e: Event) -> None:
    d = p.inject_skipped(e)
    inject_id = d["inject_id"]
    state.timers.pop(f"inject:{inject_id}", None)
    state.skipped[inject_id] = d["reason"]


def _on_unavailable(scenario: Scenario, state: DrillState, e: Event) -> None:
    state.unavailable.add(p.role_unavailable(e)["role"])


def _on_available(scenario: Scenario, state: DrillState, e: Event) -> None:
    state.unavailable.discard(p.role_available(e)["role"])


def _on_opened(scenario: Scenario, state: DrillState, e: Event) -> None:
    d = p.decision_opened(e)
    decision_id = d["decision_id"]
    deadline = float(d["deadline"])
    state.decisions[decision_id] = DecisionState(
        decision_id, e.scenario_time, deadline, tuple(d["roles"]), e.seq
    )
    order = index_of(scenario).order[f"decision:{decision_id}"]
    state.timers[f"decision:{decision_id}"] = Timer(
        deadline, TimerKind.decision, decision_id, order
    )


def _take_option(
    scenario: Scenario,
    state: DrillState,
    decision_id: str,
    option_id: str,
    at: float,
    timed_out: bool = False,
) -> None:
    """What choosing an option does to the story: flags, points, branches. A default taken
    by a timeout drives the story all the same, but earns no positive points: nobody chose
    it (app/engine/scoring.py scores it the same way)."""
    option = option_of(scenario.decision(decision_id), option_id)
    state.chosen.add(f"{decision_id}.{option_id}")
    state.flags.update(option.set)
    for objective, points in option.score.items():
        earned = min(0.0, points) if timed_out else points
        state.points[objective] = state.points.get(objective, 0.0) + earned
    state.suppressed.update(option.suppresses)
    for inject_id in option.triggers:
        inject = scenario.inject(inject_id)
        _arm_inject(scenario, state, inject, at + inject.delay)
    followers = index_of(scenario).after_option.get(f"{decision_id}.{option_id}")
    if followers is not None:
        _arm_followers(scenario, state, followers.injects, followers.expectations, at)


def _close_decision(
    scenario: Scenario, state: DrillState, decision_id: str, at: float, timed_out: bool = False
) -> None:
    state.decisions[decision_id] = replace(
        state.decisions[decision_id], closed=True, timed_out=timed_out
    )
    state.timers.pop(f"decision:{decision_id}", None)
    followers = index_of(scenario).after_decision.get(decision_id)
    if followers is not None:
        _arm_followers(scenario, state, followers.injects, followers.expectations, at)


def _on_answered(scenario: Scenario, state: DrillState, e: Event) -> None:
    d = p.decision_answered(e)
    decision_id, option_id = d["decision_id"], d["option_id"]
    decision = state.decisions[decision_id]
    state.decisions[decision_id] = replace(
        decision, answers=(*decision.answers, (d["role"], option_id))
    )
    _take_option(scenario, state, decision_id, option_id, e.scenario_time)
    if not scenario.decision(decision_id).per_role:
        _close_decision(scenario, state, decision_id, e.scenario_time)


def _on_timed_out(scenario: Scenario, state: DrillState, e: Event) -> None:
    d = p.decision_timed_out(e)
    decision_id, option_id = d["decision_id"], d["option_id"]
    _take_option(scenario, state, decision_id, option_id, e.scenario_time, timed_out=True)
    _close_decision(scenario, state, decision_id, e.scenario_time, timed_out=True)


def _on_closed(scenario: Scenario, state: DrillState, e: Event) -> None:
    _close_decision(scenario, state, p.decision_closed(e)["decision_id"], e.scenario_time)


def _on_message(scenario: Scenario, state: DrillState, e: Event) -> None:
    data = p.message_sent(e)
    parties = scenario.parties
    for recipient in data["to"]:
        party = parties.get(recipient)
        if party is None:
            continue
        state.last_to_party[(data["from_role"], recipient)] = e.seq
        _arm_replies(state, recipient, party, data, e)
    notice = data.get("notice")
    if notice is not None:
        key = notice_key(notice["regime"], notice["duty"])
        draft = state.notices.get(key) or NoticeDraft(notice["fields"], {}, False, e.seq)
        state.notices[key] = replace(draft, filed_seq=e.seq)
    pairs = message_pairs(state, data["from_role"], data["to"])
    state.sent_pairs |= pairs
    first_sent, at = state.first_sent, e.scenario_time
    for pair in pairs:
        first_sent.setdefault(pair, at)
    index = index_of(scenario)
    # Soon every item waiting on a message is armed (and stays so): then no message can
    # change anything for them, and two subset checks stand for the loop below.
    if index.message_injects <= state.armed and index.message_expectations <= (
        state.expectations.keys()
    ):
        return
    for match, item in index.after_message:
        # Each is armed at most once: after that no message changes anything for it.
        if item.id in (state.armed if isinstance(item, Inject) else state.expectations):
            continue
        if any(_pair_matches(match, sender, to) for sender, to in pairs):
            if isinstance(item, Inject):
                _arm_inject(scenario, state, item, e.scenario_time + item.delay)
            else:
                _arm_expectation(state, item, e.scenario_time)


def _settle_expectation(
    scenario: Scenario, state: DrillState, e: Event, status: str, points: float
) -> None:
    expectation_id = p.expectation_settled(e)["expectation_id"]
    state.expectations[expectation_id] = replace(
        state.expectations[expectation_id], met_seq=e.seq, status=status, points=points
    )
    state.timers.pop(f"expectation:{expectation_id}", None)
    objective = scenario.expectation(expectation_id).objective
    if objective is not None and points:
        state.points[objective] = state.points.get(objective, 0.0) + points


def _on_met(scenario: Scenario, state: DrillState, e: Event) -> None:
    d = p.expectation_met(e)
    _settle_expectation(scenario, state, e, d["status"], float(d["points"]))


def _on_missed(scenario: Scenario, state: DrillState, e: Event) -> None:
    _settle_expectation(scenario, state, e, "missed", 0.0)


def _on_note(scenario: Scenario, state: DrillState, e: Event) -> None:
    return


def _on_scores_released(scenario: Scenario, state: DrillState, e: Event) -> None:
    state.scores_released = True


def _on_adjusted(scenario: Scenario, state: DrillState, e: Event) -> None:
    d = p.score_adjusted(e)
    objective = d["objective_id"]
    state.points[objective] = state.points.get(objective, 0.0) + float(d["points"])


def _on_feedback(scenario: Scenario, state: DrillState, e: Event) -> None:
    state.feedback_from.add(p.feedback_given(e)["participant_id"])


def _on_ended(scenario: Scenario, state: DrillState, e: Event) -> None:
    _reanchor(state, e)
    state.status = Status.ended
    state.end_reason = p.drill_ended(e)["reason"]
    state.timers.clear()


def _on_notice_drafted(scenario: Scenario, state: DrillState, e: Event) -> None:
    d = p.notice_drafted(e)
    key = notice_key(d["regime"], d["duty"])
    old = state.notices.get(key) or NoticeDraft({}, {}, False, e.seq)
    state.notices[key] = replace(
        old,
        fields={**old.fields, **d["fields"]},
        edited_by={**old.edited_by, **dict.fromkeys(d["fields"], d["role"])},
        follow_up=d["follow_up"],
        draft_seq=e.seq,
    )


def _on_notice_signed_off(scenario: Scenario, state: DrillState, e: Event) -> None:
    d = p.notice_signed_off(e)
    key = notice_key(d["regime"], d["duty"])
    state.notices[key] = replace(
        state.notices[key], signed_off_by=d["role"], signed_seq=d["draft_seq"]
    )


def _on_notice_field_rated(scenario: Scenario, state: DrillState, e: Event) -> None:
    """Ratings are read from the log by the regulatory module; the state needs none."""


_APPLY = {
    EventType.drill_created: _on_created,
    EventType.participant_joined: _on_joined,
    EventType.participant_left: _on_left,
    EventType.clock_started: _on_started,
    EventType.clock_paused: _on_paused,
    EventType.clock_resumed: _on_resumed,
    EventType.clock_speed_changed: _on_speed,
    EventType.clock_jumped: _on_jumped,
    EventType.inject_delivered: _on_delivered,
    EventType.inject_skipped: _on_skipped,
    EventType.decision_opened: _on_opened,
    EventType.decision_answered: _on_answered,
    EventType.decision_timed_out: _on_timed_out,
    EventType.decision_closed: _on_closed,
    EventType.role_unavailable: _on_unavailable,
    EventType.role_available: _on_available,
    EventType.message_sent: _on_message,
    EventType.expectation_met: _on_met,
    EventType.expectation_missed: _on_missed,
    EventType.note_added: _on_note,
    EventType.scores_released: _on_scores_released,
    EventType.score_adjusted: _on_adjusted,
    EventType.feedback_given: _on_feedback,
    EventType.drill_ended: _on_ended,
    EventType.notice_drafted: _on_notice_drafted,
    EventType.notice_signed_off: _on_notice_signed_off,
    EventType.notice_field_rated: _on_notice_field_rated,
    EventType.party_replied: _on_reply_event,
    EventType.reply_suggested: _on_reply_event,
    EventType.reply_skipped: _on_reply_event,
    EventType.feed_posted: _on_feed_posted,
}
