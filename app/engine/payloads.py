"""What each event's `data` holds: one TypedDict per EventType, and typed ways to read it.

`Event.data` stays a plain dict (it is what the log stores, as JSON); these types only tell
mypy which keys each kind of event carries. A key is `NotRequired` when some path leaves it
out or logs written by earlier versions lack it; readers take those with `.get`. Required
keys are in every log the engine ever wrote; readers take them with `[...]`, so that mypy
checks the key: it lets `.get` name any key at all, and only the type of what it returns
can give a wrong name away.

The engine builds each payload as its TypedDict, so mypy checks what it writes too, and
`stored` hands it to `Event` as it is. The readers (`drill_created(event)` and so on) are
casts: a function call, nothing copied. The caller vouches for the event's type, usually by
testing `event.type` first.
tests/engine/test_payloads.py plays every shipped scenario and checks these types against
the events the engine really writes.
"""

# No `from __future__ import annotations` here: on Python 3.11 a TypedDict only sees
# `NotRequired` in annotations that are evaluated, and the tests read `__optional_keys__`.
from collections.abc import Mapping
from typing import Any, Literal, NotRequired, Protocol, TypedDict, cast

from app.engine.events import Event, EventType

# --------------------------------------------------------------------------- the drill


class DryRunData(TypedDict):
    seconds: float
    """How long the headless run really took."""


class DrillCreatedData(TypedDict):
    drill_id: str
    name: str
    scenario_id: str
    scenario_version: str
    speed: float
    roles: list[str]
    """The roles in play, in the scenario's order."""
    backups: dict[str, str]
    variables: dict[str, str]
    dry_run: NotRequired[DryRunData]
    """Only on a saved dry run (`tabletop dry-run --save` adds it)."""


class ParticipantJoinedData(TypedDict):
    participant_id: str
    name: str
    role: str | None
    """None: an observer, or a white-cell player (with `parties`)."""
    parties: NotRequired[list[str]]
    """The outside parties a white-cell player plays."""


class ParticipantLeftData(TypedDict):
    participant_id: str


class ClockStartedData(TypedDict):
    speed: float
    unfilled_required: NotRequired[list[str]]
    """Required roles nobody played: the facilitator chose to start without them."""


class ClockPausedData(TypedDict):
    pass


class ClockResumedData(TypedDict):
    pass


class ClockSpeedChangedData(TypedDict):
    speed: float
    previous: float


ClockJumpedData = TypedDict("ClockJumpedData", {"from": float, "to": float})
"""Scenario times; `from` is a Python keyword, hence the functional form."""


class ScoresReleasedData(TypedDict):
    scorecard: NotRequired[dict[str, Any]]
    """The scorecard as released (`scoring.Scorecard` as JSON), so that a client that
    reconnects with `since` after the release has the scores earned before it, whose
    events it never received. Logs written before it was carried lack it."""


class DrillEndedData(TypedDict):
    reason: str
    """"inject ID", "option D.O", "option D.O (time ran out)", the scenario's time being up,
    or the facilitator's words."""
    why: NotRequired[str]
    """In words, when the story ended itself (an inject or an option); older logs lack it."""


# --------------------------------------------------------------------------- injects


class AttachmentData(TypedDict):
    file: str
    title: str


class PostData(TypedDict):
    outlet: str
    handle: str | None
    likes: int
    shares: int
    replies: int
    tone: Literal["negative", "neutral", "positive"]


class InjectDeliveredData(TypedDict):
    inject_id: str | None
    """None: a manual inject the facilitator wrote."""
    manual: bool
    title: str
    body: str
    sender: str | None
    channel: str
    severity: str
    to: list[str]
    """The roles addressed."""
    recipients: list[str]
    """The roles that received it: each addressed role, or whoever acted for it."""
    attack: list[str]
    facts: list[str]
    fired_by_facilitator: NotRequired[bool]
    """Only when the facilitator fired it ahead of its time."""
    post: NotRequired[PostData]
    """A public post: its outlet and reach (the scenario's `post:`)."""
    attachments: NotRequired[list[AttachmentData]]
    """Files of the scenario's bundle it carries, fetched at
    /api/drills/{id}/attachments/{seq}/{index}."""


class InjectSkippedData(TypedDict):
    inject_id: str
    reason: Literal["suppressed", "condition", "facilitator"]


class RoleUnavailableData(TypedDict):
    role: str
    backup: str | None
    from_start: NotRequired[bool]
    """Only when the scenario has the role away from the drill's start."""


class RoleAvailableData(TypedDict):
    role: str


# --------------------------------------------------------------------------- decisions


class DecisionOpenedData(TypedDict):
    decision_id: str
    to: list[str]
    """The roles addressed."""
    roles: list[str]
    """The roles asked: each addressed role, or whoever acted for it."""
    deadline: float
    prompt: str
    title: NotRequired[str]
    """The prompt as a one-line title (`headline`); logs from before it lack it."""


class DecisionTimedOutData(TypedDict):
    decision_id: str
    option_id: str
    """The decision's default."""
    roles: NotRequired[list[str]]
    """The roles that were asked; the earliest logs lack it."""


class DecisionAnsweredData(TypedDict):
    decision_id: str
    option_id: str
    roles: NotRequired[list[str]]
    """The roles that were asked; the earliest logs lack it."""
    role: str
    """The role the answer counts for."""
    answered_by_role: str
    """The role that answered: `role`, or the backup acting for it."""
    rationale: str
    latency: float
    """Scenario seconds since the decision opened."""


class DecisionClosedData(TypedDict):
    decision_id: str
    roles: NotRequired[list[str]]
    """The roles that were asked; the earliest logs lack it."""


# --------------------------------------------------------------------------- messages


class NoticeFiled(TypedDict):
    regime: str
    duty: str
    fields: dict[str, str]
    """Every field's text as filed (blank ones left out)."""
    edited_by: dict[str, str]
    """Field id -> the role that last wrote it."""
    follow_up: bool
    """The notice promises to send what is not yet known."""
    signed_off_by: str | None
    roles: list[str]
    """The roles that drafted it with the filer (the regime's): they see the filing too."""


class MessageSentData(TypedDict):
    from_role: str
    to: list[str]
    """Roles and external parties, as addressed."""
    subject: str
    body: str
    statement_id: str | None
    blanks: NotRequired[list[str]]
    """Template blanks left in; older logs lack it."""
    recipients: NotRequired[list[str]]
    """The roles that read it (an addressed role, or its backup); older logs lack it."""
    via_option: NotRequired[str]
    """"DECISION.OPTION" when an answer sent it, not a person."""
    notice: NotRequired[NoticeFiled]
    """The notice form it files, when it was filed from one."""


class NoticeDraftedData(TypedDict):
    regime: str
    duty: str
    role: str
    fields: dict[str, str]
    """The fields this edit changed, with their new text ("" clears one)."""
    follow_up: bool
    roles: list[str]
    """The roles that see the regime's notices (the drafters and the sign-off role)."""


class NoticeSignedOffData(TypedDict):
    regime: str
    duty: str
    role: str
    draft_seq: int
    """The seq of the draft edit it approves: a later edit needs a new sign-off."""
    roles: list[str]


class PartyRepliedData(TypedDict):
    party: str
    to: list[str]
    """The role whose thread with the party it answers."""
    recipients: list[str]
    """Who reads it: that role, or whoever acts for it now."""
    subject: str
    body: str
    reply_to_seq: int | None
    """The role's last message to the party, which it answers (None: it writes first)."""
    reply_id: str | None
    """The authored reply it is (sent by itself, or by the white cell from a suggestion)."""
    by: Literal["author", "white_cell"]


class ReplySuggestedData(TypedDict):
    party: str
    reply_id: str
    to: list[str]
    subject: str
    body: str
    reply_to_seq: int


class ReplySkippedData(TypedDict):
    party: str
    reply_id: str
    reason: Literal["condition"]


class FeedPostedData(TypedDict):
    outlet: str
    handle: str | None
    text: str
    tone: Literal["negative", "neutral", "positive"]
    likes: int
    shares: int
    replies: int
    by: Literal["team", "white_cell"]
    """The team's own statement (a message to a public party), or the white cell."""
    message_seq: int | None
    """The team's message it publishes."""


class NoticeFieldRatedData(TypedDict):
    regime: str
    duty: str
    field: str
    complete: bool | None
    """The facilitator's verdict; None hands the field back to the rules."""
    reason: str


class ExpectationMetData(TypedDict):
    expectation_id: str
    message_seq: int
    from_role: str
    status: Literal["on_time", "late"]
    points: float
    deadline: float


class ExpectationMissedData(TypedDict):
    expectation_id: str
    deadline: float


# --------------------------------------------------------------------------- review


class NoteAddedData(TypedDict):
    text: str
    objective_id: str | None


class ScoreAdjustedData(TypedDict):
    objective_id: str
    points: float
    reason: str
    role: str | None


class FeedbackGivenData(TypedDict):
    participant_id: str
    role: str | None
    went_well: str
    improve: str
    confidence: int


Payload = (
    DrillCreatedData
    | ParticipantJoinedData
    | ParticipantLeftData
    | ClockStartedData
    | ClockPausedData
    | ClockResumedData
    | ClockSpeedChangedData
    | ClockJumpedData
    | InjectDeliveredData
    | InjectSkippedData
    | DecisionOpenedData
    | DecisionAnsweredData
    | DecisionTimedOutData
    | DecisionClosedData
    | RoleUnavailableData
    | RoleAvailableData
    | MessageSentData
    | ExpectationMetData
    | ExpectationMissedData
    | NoteAddedData
    | ScoresReleasedData
    | ScoreAdjustedData
    | FeedbackGivenData
    | DrillEndedData
    | NoticeDraftedData
    | NoticeSignedOffData
    | NoticeFieldRatedData
    | PartyRepliedData
    | ReplySuggestedData
    | ReplySkippedData
    | FeedPostedData
)
"""Any event's data, as the engine writes it."""


class PayloadType(Protocol):
    """A TypedDict class, as its keys are known at run time."""

    __required_keys__: frozenset[str]
    __optional_keys__: frozenset[str]


PAYLOADS: Mapping[EventType, PayloadType] = {
    EventType.drill_created: DrillCreatedData,
    EventType.participant_joined: ParticipantJoinedData,
    EventType.participant_left: ParticipantLeftData,
    EventType.clock_started: ClockStartedData,
    EventType.clock_paused: ClockPausedData,
    EventType.clock_resumed: ClockResumedData,
    EventType.clock_speed_changed: ClockSpeedChangedData,
    EventType.clock_jumped: ClockJumpedData,
    EventType.inject_delivered: InjectDeliveredData,
    EventType.inject_skipped: InjectSkippedData,
    EventType.decision_opened: DecisionOpenedData,
    EventType.decision_answered: DecisionAnsweredData,
    EventType.decision_timed_out: DecisionTimedOutData,
    EventType.decision_closed: DecisionClosedData,
    EventType.role_unavailable: RoleUnavailableData,
    EventType.role_available: RoleAvailableData,
    EventType.message_sent: MessageSentData,
    EventType.expectation_met: ExpectationMetData,
    EventType.expectation_missed: ExpectationMissedData,
    EventType.note_added: NoteAddedData,
    EventType.scores_released: ScoresReleasedData,
    EventType.score_adjusted: ScoreAdjustedData,
    EventType.feedback_given: FeedbackGivenData,
    EventType.drill_ended: DrillEndedData,
    EventType.notice_drafted: NoticeDraftedData,
    EventType.notice_signed_off: NoticeSignedOffData,
    EventType.notice_field_rated: NoticeFieldRatedData,
    EventType.party_replied: PartyRepliedData,
    EventType.reply_suggested: ReplySuggestedData,
    EventType.reply_skipped: ReplySkippedData,
    EventType.feed_posted: FeedPostedData,
}
"""The payload type of every EventType (tests/engine/test_payloads.py holds it to that)."""


def stored(payload: Payload) -> dict[str, Any]:
    """A payload as `Event.data` holds it: the very same dict (a TypedDict is a dict)."""
    return cast("dict[str, Any]", payload)


# --------------------------------------------------------------------------- readers


def drill_created(event: Event) -> DrillCreatedData:
    return cast(DrillCreatedData, event.data)


def participant_joined(event: Event) -> ParticipantJoinedData:
    return cast(ParticipantJoinedData, event.data)


def participant_left(event: Event) -> ParticipantLeftData:
    return cast(ParticipantLeftData, event.data)


def clock_started(event: Event) -> ClockStartedData:
    return cast(ClockStartedData, event.data)


def clock_speed_changed(event: Event) -> ClockSpeedChangedData:
    return cast(ClockSpeedChangedData, event.data)


def clock_jumped(event: Event) -> ClockJumpedData:
    return cast(ClockJumpedData, event.data)


def drill_ended(event: Event) -> DrillEndedData:
    return cast(DrillEndedData, event.data)


def inject_delivered(event: Event) -> InjectDeliveredData:
    return cast(InjectDeliveredData, event.data)


def inject_skipped(event: Event) -> InjectSkippedData:
    return cast(InjectSkippedData, event.data)


def role_unavailable(event: Event) -> RoleUnavailableData:
    return cast(RoleUnavailableData, event.data)


def role_available(event: Event) -> RoleAvailableData:
    return cast(RoleAvailableData, event.data)


def decision_opened(event: Event) -> DecisionOpenedData:
    return cast(DecisionOpenedData, event.data)


def decision_answered(event: Event) -> DecisionAnsweredData:
    return cast(DecisionAnsweredData, event.data)


def decision_timed_out(event: Event) -> DecisionTimedOutData:
    return cast(DecisionTimedOutData, event.data)


def decision_closed(event: Event) -> DecisionClosedData:
    return cast(DecisionClosedData, event.data)


OptionTakenData = DecisionAnsweredData | DecisionTimedOutData
"""An option taken: answered, or the default when time ran out."""


def option_taken(event: Event) -> OptionTakenData:
    """A decision_answered or decision_timed_out event's data."""
    return cast(OptionTakenData, event.data)


DecisionData = DecisionOpenedData | DecisionAnsweredData | DecisionTimedOutData | DecisionClosedData


def decision_event(event: Event) -> DecisionData:
    """Any decision_* event's data: all carry `decision_id`, most of them `roles`."""
    return cast(DecisionData, event.data)


def message_sent(event: Event) -> MessageSentData:
    return cast(MessageSentData, event.data)


def expectation_met(event: Event) -> ExpectationMetData:
    return cast(ExpectationMetData, event.data)


def expectation_missed(event: Event) -> ExpectationMissedData:
    return cast(ExpectationMissedData, event.data)


ExpectationSettledData = ExpectationMetData | ExpectationMissedData


def expectation_settled(event: Event) -> ExpectationSettledData:
    """An expectation_met or expectation_missed event's data."""
    return cast(ExpectationSettledData, event.data)


def note_added(event: Event) -> NoteAddedData:
    return cast(NoteAddedData, event.data)


def score_adjusted(event: Event) -> ScoreAdjustedData:
    return cast(ScoreAdjustedData, event.data)


def feedback_given(event: Event) -> FeedbackGivenData:
    return cast(FeedbackGivenData, event.data)


def notice_drafted(event: Event) -> NoticeDraftedData:
    return cast(NoticeDraftedData, event.data)


def notice_signed_off(event: Event) -> NoticeSignedOffData:
    return cast(NoticeSignedOffData, event.data)


def notice_field_rated(event: Event) -> NoticeFieldRatedData:
    return cast(NoticeFieldRatedData, event.data)


def party_replied(event: Event) -> PartyRepliedData:
    return cast(PartyRepliedData, event.data)


def reply_suggested(event: Event) -> ReplySuggestedData:
    return cast(ReplySuggestedData, event.data)


def reply_skipped(event: Event) -> ReplySkippedData:
    return cast(ReplySkippedData, event.data)


def feed_posted(event: Event) -> FeedPostedData:
    return cast(FeedPostedData, event.data)
