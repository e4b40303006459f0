"""Who may see what. The one filter every path uses: websocket, pages, JSON API, exports.

A participant sees the injects that reached their role, the decisions put to it, the
messages it sent or received, the notice drafts of the regimes it drafts for, the clock
and their own joining; never another role's items,
facilitator notes, skipped injects or, until the facilitator releases them, scores.
Observers (evaluators) and the facilitator see everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.authoring.markdown import render_markdown
from app.engine import payloads as p
from app.engine.events import FACILITATOR, Event, EventType, is_facilitator_actor
from app.engine.scenario import Scenario, fill
from app.engine.state import DrillState


@dataclass(frozen=True, slots=True)
class Viewer:
    kind: str
    """"facilitator", "observer", "participant" or "white_cell"."""
    role: str | None = None
    participant_id: str | None = None
    user: str | None = None
    """The facilitator's account: their commands' events name it (the audit trail)."""
    parties: tuple[str, ...] = ()
    """A white-cell player's outside parties."""

    @property
    def sees_everything(self) -> bool:
        return self.kind in ("facilitator", "observer")


FACILITATOR_VIEW = Viewer("facilitator")

_EVERYONE = {
    EventType.drill_created,
    EventType.clock_started,
    EventType.clock_paused,
    EventType.clock_resumed,
    EventType.clock_speed_changed,
    EventType.clock_jumped,
    EventType.role_unavailable,
    EventType.role_available,
    EventType.scores_released,
    EventType.drill_ended,
    EventType.feed_posted,  # the public feed: public
}
_DECISION = {
    EventType.decision_opened,
    EventType.decision_answered,
    EventType.decision_timed_out,
    EventType.decision_closed,
}
# Comings and goings: a participant sees only their own. In a 1,000-person drill every join
# sent to everyone is a million messages nobody's screen shows; the facilitator and
# observers see them all, and presence tells them who is connected.
_ROSTER = {EventType.participant_joined, EventType.participant_left}
_SCORING = {
    EventType.expectation_met,
    EventType.expectation_missed,
    EventType.score_adjusted,
    EventType.notice_field_rated,
}
# A regime's notice drafts: the roles that draft and sign them (the event names them).
_NOTICE = {EventType.notice_drafted, EventType.notice_signed_off}
_PRIVATE_INJECT_KEYS = ("facts", "fired_by_facilitator")


def visible(event: Event, viewer: Viewer, scores_released: bool) -> dict[str, Any] | None:
    """The event as this viewer may see it, or None."""
    if viewer.sees_everything:
        return _presented(event.to_dict())
    shown = _participant_view(event, viewer, scores_released)
    if shown is not None and is_facilitator_actor(shown["actor"]):
        # Participants see "the facilitator", not which account: account names are
        # sign-in names, and the room knows who is facilitating anyway.
        shown["actor"] = FACILITATOR
    return shown


def _participant_view(event: Event, viewer: Viewer, scores_released: bool) -> dict[str, Any] | None:
    role = viewer.role
    kind = event.type
    data = event.data
    if kind in _EVERYONE:
        shown = dict(data)
        if kind is EventType.drill_created:
            shown.pop("variables", None)
        return _with(event, shown)
    if kind in _ROSTER:
        return event.to_dict() if _roster_id(event) == viewer.participant_id else None
    if viewer.kind == "white_cell":
        return _white_cell_view(event, viewer)
    if role is None:
        return None
    if kind is EventType.inject_delivered and role in p.inject_delivered(event)["recipients"]:
        shown = _with(event, {k: v for k, v in data.items() if k not in _PRIVATE_INJECT_KEYS})
        return _presented(shown)
    if kind in _DECISION and role in p.decision_event(event).get("roles", ()):
        return event.to_dict()
    if kind is EventType.message_sent and _to_or_from(p.message_sent(event), role):
        return event.to_dict()
    if kind in _NOTICE and role in data.get("roles", ()):
        return event.to_dict()
    if kind is EventType.party_replied and role in p.party_replied(event)["recipients"]:
        return event.to_dict()
    if kind is EventType.feedback_given:  # hot-wash answers: the author and the facilitator
        mine = p.feedback_given(event)["participant_id"] == viewer.participant_id
        return event.to_dict() if mine else None
    if kind in _SCORING and scores_released:
        return event.to_dict()
    return None


_THREAD = {EventType.party_replied, EventType.reply_suggested, EventType.reply_skipped}


def _white_cell_view(event: Event, viewer: Viewer) -> dict[str, Any] | None:
    """A white-cell player sees the outside world they play: the messages to their
    parties, the answers and suggested answers, and the public posts; nothing else of the
    team's (no injects, decisions or messages between roles)."""
    kind = event.type
    if kind is EventType.inject_delivered and "post" in event.data:
        return _public_post(event)
    if kind is EventType.message_sent:
        addressed = p.message_sent(event)["to"]
        return event.to_dict() if set(addressed) & set(viewer.parties) else None
    if kind in _THREAD and event.data["party"] in viewer.parties:
        return event.to_dict()
    return None


def _public_post(event: Event) -> dict[str, Any]:
    """A post (addressed to every role) as a participant sees it."""
    shown = {k: v for k, v in event.data.items() if k not in _PRIVATE_INJECT_KEYS}
    return _presented(_with(event, shown))


def _roster_id(event: Event) -> str:
    """Who joined or left."""
    if event.type is EventType.participant_joined:
        return p.participant_joined(event)["participant_id"]
    return p.participant_left(event)["participant_id"]


def _to_or_from(message: p.MessageSentData, role: str) -> bool:
    """The role sent the message, or receives it: `recipients` is the engine's answer
    (an addressed role, or the backup acting for it while it is away: like its injects,
    the message is not the absent role's to read). A log written before `recipients`
    existed names only `to`. A filed notice is its drafting roles' too."""
    notice = message.get("notice")
    if notice is not None and role in notice["roles"]:
        return True
    return role == message["from_role"] or role in message.get("recipients", message["to"])


def _presented(shown: dict[str, Any]) -> dict[str, Any]:
    """Inject bodies are Markdown: send them rendered and sanitised as well (body_html);
    participants' own messages stay plain text and are shown as text."""
    if shown["type"] == EventType.inject_delivered:
        shown["data"] = {**shown["data"], "body_html": str(render_markdown(shown["data"]["body"]))}
    return shown


def _with(event: Event, data: dict[str, Any]) -> dict[str, Any]:
    shown = event.to_dict()
    shown["data"] = data
    return shown


def visible_log(events: list[Event], viewer: Viewer, scores_released: bool) -> list[dict[str, Any]]:
    return [v for e in events if (v := visible(e, viewer, scores_released)) is not None]


def decision_options(scenario: Scenario, state: DrillState, role: str | None) -> dict[str, Any]:
    """Options of the decisions this role may be asked (decision events carry only prompts):
    a role sees a decision's options if it is addressed, or backs up a role that is."""
    if role is None:
        return {}
    out: dict[str, Any] = {}
    for d in scenario.decisions:
        addressed = set(state.roles) if "all" in d.to else set(d.to)
        backs_up = {r for r, b in state.backups.items() if b == role}
        if role in addressed or addressed & backs_up:
            out[d.id] = [{"id": o.id, "label": fill(o.label, state.variables)} for o in d.options]
    return out
