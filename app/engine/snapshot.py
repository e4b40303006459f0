"""A drill's state as plain data and back: what a snapshot of the fold keeps.

A restarted server folds a drill's whole log to know its state: 10,000 events in a long
drill. A snapshot is that state as of one seq, so the fold can start there and apply only
what came after. `restore(snapshot(state))` equals `state`, field for field; the tests
hold every field to it, on logs that touch every field.

Plain data means what JSON carries: sets become sorted lists, tuples lists, records lists
of their fields in declaration order, and maps with pair keys lists of triples. Floats
stay floats (JSON keeps a float's exact value; the standard library's json reads and
writes the infinities too).
"""

from __future__ import annotations

from typing import Any

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
)

FORMAT = 1
"""Bumped when the shape changes; a snapshot of another format is not used."""


def snapshot(state: DrillState) -> dict[str, Any]:
    """`state` as JSON-able data."""
    return {
        "format": FORMAT,
        "drill_id": state.drill_id,
        "name": state.name,
        "seq": state.seq,
        "status": state.status.value,
        "speed": state.speed,
        "anchor_wall": state.anchor_wall,
        "anchor_scenario": state.anchor_scenario,
        "last_scenario_time": state.last_scenario_time,
        "started": state.started,
        "variables": state.variables,
        "roles": state.roles,
        "backups": state.backups,
        "unavailable": sorted(state.unavailable),
        "participants": [_participant(p) for p in state.participants.values()],
        "timers": [[key, t.due, t.kind.value, t.ref, t.order] for key, t in state.timers.items()],
        "armed": sorted(state.armed),
        "delivered": state.delivered,
        "skipped": state.skipped,
        "suppressed": sorted(state.suppressed),
        "decisions": [_decision(d) for d in state.decisions.values()],
        "chosen": sorted(state.chosen),
        "flags": state.flags,
        "sent_pairs": sorted([a, b] for a, b in state.sent_pairs),
        "first_sent": [[a, b, at] for (a, b), at in state.first_sent.items()],
        "expectations": [_expectation(e) for e in state.expectations.values()],
        "points": state.points,
        "end_reason": state.end_reason,
        "scores_released": state.scores_released,
        "feedback_from": sorted(state.feedback_from),
        "notices": {key: _notice(n) for key, n in state.notices.items()},
        "reply_threads": {
            key: [t.role, t.message_seq, t.subject] for key, t in state.reply_threads.items()
        },
        "suggested": sorted(state.suggested),
        "last_to_party": [[a, b, seq] for (a, b), seq in state.last_to_party.items()],
    }


def restore(data: dict[str, Any]) -> DrillState:
    """The state `snapshot` made `data` of. ValueError for data of another format."""
    if data.get("format") != FORMAT:
        raise ValueError(f"a snapshot of format {data.get('format')!r}, not {FORMAT}")
    return DrillState(
        drill_id=data["drill_id"],
        name=data["name"],
        seq=data["seq"],
        status=Status(data["status"]),
        speed=data["speed"],
        anchor_wall=data["anchor_wall"],
        anchor_scenario=data["anchor_scenario"],
        last_scenario_time=data["last_scenario_time"],
        started=data["started"],
        variables=dict(data["variables"]),
        roles=list(data["roles"]),
        backups=dict(data["backups"]),
        unavailable=set(data["unavailable"]),
        participants={p[0]: _participant_of(p) for p in data["participants"]},
        timers={
            key: Timer(due, TimerKind(kind), ref, order)
            for key, due, kind, ref, order in data["timers"]
        },
        armed=set(data["armed"]),
        delivered=dict(data["delivered"]),
        skipped=dict(data["skipped"]),
        suppressed=set(data["suppressed"]),
        decisions={d[0]: _decision_of(d) for d in data["decisions"]},
        chosen=set(data["chosen"]),
        flags=dict(data["flags"]),
        sent_pairs={(a, b) for a, b in data["sent_pairs"]},
        first_sent={(a, b): at for a, b, at in data["first_sent"]},
        expectations={e[0]: ExpectationState(*e) for e in data["expectations"]},
        points=dict(data["points"]),
        end_reason=data["end_reason"],
        scores_released=data["scores_released"],
        feedback_from=set(data["feedback_from"]),
        notices={key: _notice_of(n) for key, n in data["notices"].items()},
        reply_threads={key: ReplyThread(*t) for key, t in data["reply_threads"].items()},
        suggested=set(data["suggested"]),
        last_to_party={(a, b): seq for a, b, seq in data["last_to_party"]},
    )


def _participant(p: Participant) -> list[Any]:
    return [p.id, p.name, p.role, p.joined_seq, p.present, list(p.parties)]


def _participant_of(fields: list[Any]) -> Participant:
    id_, name, role, joined_seq, present, parties = fields
    return Participant(id_, name, role, joined_seq, present, tuple(parties))


def _decision(d: DecisionState) -> list[Any]:
    return [
        d.id,
        d.opened_at,
        d.deadline,
        list(d.roles),
        d.opened_seq,
        [list(answer) for answer in d.answers],
        d.closed,
        d.timed_out,
    ]


def _decision_of(fields: list[Any]) -> DecisionState:
    id_, opened_at, deadline, roles, opened_seq, answers, closed, timed_out = fields
    return DecisionState(
        id_,
        opened_at,
        deadline,
        tuple(roles),
        opened_seq,
        tuple((role, option) for role, option in answers),
        closed,
        timed_out,
    )


def _expectation(e: ExpectationState) -> list[Any]:
    return [e.id, e.armed_at, e.deadline, e.closes, e.met_seq, e.status, e.points]


def _notice(n: NoticeDraft) -> list[Any]:
    return [
        n.fields,
        n.edited_by,
        n.follow_up,
        n.draft_seq,
        n.signed_off_by,
        n.signed_seq,
        n.filed_seq,
    ]


def _notice_of(fields: list[Any]) -> NoticeDraft:
    values, edited_by, follow_up, draft_seq, signed_off_by, signed_seq, filed_seq = fields
    return NoticeDraft(
        dict(values), dict(edited_by), follow_up, draft_seq, signed_off_by, signed_seq, filed_seq
    )
