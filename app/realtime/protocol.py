"""The websocket protocol: one pydantic model per message type, in both directions.

Client to server: commands carry an `id` the client chooses; the server answers `ack`
(after the commit, with the seq) or `error` (a stable code and a message for people). A
repeated id is acknowledged again and applied once. `sync` asks for what came after a seq.
Server to client: `snapshot` on connect, then `event`s, `ack`, `error`, `presence`, `pong`.
For the facilitator and observers an `event` message also carries the event's
`description` (the timeline's line for it, or null for bookkeeping), and a snapshot its
`descriptions` by seq (app/realtime/hub).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from app.engine import commands as c
from app.engine.scenario import Channel, Severity

MAX_MESSAGE_BYTES = 64 * 1024
CommandId = Annotated[str, Field(min_length=1, max_length=128)]
Short = Annotated[str, Field(max_length=300)]
Long = Annotated[str, Field(max_length=c.MAX_MESSAGE_CHARS)]
Reason = Annotated[str, Field(max_length=c.MAX_NOTE_CHARS)]
FeedbackText = Annotated[str, Field(max_length=c.MAX_FEEDBACK_CHARS)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Command(_In):
    id: CommandId


class Ping(_In):
    """Keeps the connection alive; answered by `pong`."""

    type: Literal["ping"]


class Sync(_In):
    """Asks again for what came after `since`: answered by a `snapshot`, as on connect."""

    type: Literal["sync"]
    since: int = Field(ge=0)


class AnswerMsg(_Command):
    """Answers an open decision (`role`: the facilitator answering for a role)."""

    type: Literal["answer"]
    decision_id: Short
    option_id: Short
    rationale: Long = ""
    role: Short | None = None


class SendMessageMsg(_Command):
    """Sends a message to roles or parties (`from_role`: the facilitator only)."""

    type: Literal["send_message"]
    to: list[Short] = Field(max_length=50)
    body: Long
    subject: Short = ""
    statement_id: Short | None = None
    from_role: Short | None = None


FieldText = Annotated[str, Field(max_length=c.MAX_FIELD_CHARS)]


class DraftNoticeMsg(_Command):
    """Saves an edit to a duty's notice form: the fields it sets, and whether the notice
    promises a follow-up (`role`: the facilitator drafting for a role)."""

    type: Literal["draft_notice"]
    regime: Short
    duty: Short
    fields: dict[Short, FieldText] = Field(default_factory=dict, max_length=30)
    follow_up: bool | None = None
    role: Short | None = None


class SignOffNoticeMsg(_Command):
    """The scenario's sign-off role approves the notice as it stands."""

    type: Literal["sign_off_notice"]
    regime: Short
    duty: Short
    role: Short | None = None


class FileNoticeMsg(_Command):
    """Files the notice: the message, with its form, to the party the duty is owed to."""

    type: Literal["file_notice"]
    regime: Short
    duty: Short
    role: Short | None = None


class RateNoticeFieldMsg(_Command):
    """The facilitator rates one field of a filed notice complete or not (`complete:
    null` hands it back to the rules); the reason goes in the report."""

    type: Literal["rate_notice_field"]
    regime: Short
    duty: Short
    field: Short
    complete: bool | None
    reason: Reason


class ReplyAsPartyMsg(_Command):
    """The white cell answers a role as an outside party, in their thread (`reply_id`:
    the suggested authored reply it sends, edited or not)."""

    type: Literal["reply_as_party"]
    party: Short
    to: Short
    body: Long
    subject: Short = ""
    reply_id: Short | None = None


class PostToFeedMsg(_Command):
    """The white cell posts to the public feed as an outlet or an account."""

    type: Literal["post_to_feed"]
    outlet: Short
    text: Long
    handle: Short | None = None
    tone: Literal["negative", "neutral", "positive"] = "negative"
    likes: int = Field(default=0, ge=0, le=c.MAX_ENGAGEMENT)
    shares: int = Field(default=0, ge=0, le=c.MAX_ENGAGEMENT)
    replies: int = Field(default=0, ge=0, le=c.MAX_ENGAGEMENT)


class NoteMsg(_Command):
    """An observer note, optionally about an objective."""

    type: Literal["note"]
    text: Long
    objective_id: Short | None = None


class StartMsg(_Command):
    """Starts the clock (`confirm_unfilled`: although a required role is unfilled)."""

    type: Literal["start"]
    confirm_unfilled: bool = False


class FireInjectMsg(_Command):
    """The facilitator delivers a scheduled inject now."""

    type: Literal["fire_inject"]
    inject_id: Short


class SkipInjectMsg(_Command):
    """The facilitator cancels a scheduled inject."""

    type: Literal["skip_inject"]
    inject_id: Short


class PauseMsg(_Command):
    """Pauses the clock."""

    type: Literal["pause"]


class ResumeMsg(_Command):
    """Resumes a paused clock."""

    type: Literal["resume"]


class SpeedMsg(_Command):
    """Sets the clock's speed (story seconds per real second)."""

    type: Literal["set_speed"]
    speed: float


class JumpMsg(_Command):
    """Moves the story's clock to the next scheduled inject."""

    type: Literal["jump"]


class EndMsg(_Command):
    """Ends the drill."""

    type: Literal["end"]
    reason: Short = "ended by the facilitator"


class ReleaseScoresMsg(_Command):
    """Lets participants see the scores."""

    type: Literal["release_scores"]


class AdjustScoreMsg(_Command):
    """The facilitator moves an objective's score; the reason goes in the report."""

    type: Literal["adjust_score"]
    objective_id: Short
    points: float
    reason: Reason
    role: Short | None = None


class FeedbackMsg(_Command):
    """A participant's hot-wash answers, once, after the drill has ended."""

    type: Literal["feedback"]
    went_well: FeedbackText = ""
    improve: FeedbackText = ""
    confidence: int


class ManualInjectMsg(_Command):
    """Delivers an inject the facilitator writes now."""

    type: Literal["manual_inject"]
    title: Short
    body: Long
    to: list[Short] = Field(min_length=1, max_length=50)
    channel: Channel = Channel.email
    severity: Severity = Severity.info
    sender: Short | None = None


ClientCommand = (
    AnswerMsg
    | SendMessageMsg
    | NoteMsg
    | StartMsg
    | PauseMsg
    | ResumeMsg
    | SpeedMsg
    | JumpMsg
    | FireInjectMsg
    | SkipInjectMsg
    | EndMsg
    | ReleaseScoresMsg
    | ManualInjectMsg
    | AdjustScoreMsg
    | FeedbackMsg
    | DraftNoticeMsg
    | SignOffNoticeMsg
    | FileNoticeMsg
    | RateNoticeFieldMsg
    | ReplyAsPartyMsg
    | PostToFeedMsg
)
ClientMessage = Annotated[Ping | Sync | ClientCommand, Field(discriminator="type")]
client_message = TypeAdapter(ClientMessage)


def to_command(message: ClientCommand) -> c.Command:
    """The engine command a protocol message asks for."""
    match message:
        case AnswerMsg():
            return c.Answer(message.decision_id, message.option_id, message.role, message.rationale)
        case SendMessageMsg():
            return c.SendMessage(
                list(message.to),
                message.body,
                message.subject,
                message.statement_id,
                message.from_role,
            )
        case NoteMsg():
            return c.AddNote(message.text, message.objective_id)
        case StartMsg():
            return c.StartClock(message.confirm_unfilled)
        case FireInjectMsg():
            return c.FireInject(message.inject_id)
        case SkipInjectMsg():
            return c.SkipInject(message.inject_id)
        case PauseMsg():
            return c.PauseClock()
        case ResumeMsg():
            return c.ResumeClock()
        case SpeedMsg():
            return c.SetSpeed(message.speed)
        case JumpMsg():
            return c.JumpToNextInject()
        case EndMsg():
            return c.EndDrill(message.reason)
        case ReleaseScoresMsg():
            return c.ReleaseScores()
        case ManualInjectMsg():
            return c.ManualInject(
                message.title,
                message.body,
                list(message.to),
                message.channel,
                message.severity,
                message.sender,
            )
        case AdjustScoreMsg():
            return c.AdjustScore(message.objective_id, message.points, message.reason, message.role)
        case FeedbackMsg():
            return c.GiveFeedback(message.went_well, message.improve, message.confidence)
        case DraftNoticeMsg():
            fields = dict(message.fields)
            return c.DraftNotice(
                message.regime, message.duty, fields, message.follow_up, message.role
            )
        case SignOffNoticeMsg():
            return c.SignOffNotice(message.regime, message.duty, message.role)
        case FileNoticeMsg():
            return c.FileNotice(message.regime, message.duty, message.role)
        case RateNoticeFieldMsg():
            return c.RateNoticeField(
                message.regime, message.duty, message.field, message.complete, message.reason
            )
        case ReplyAsPartyMsg():
            return c.ReplyAsParty(
                message.party, message.to, message.body, message.subject, message.reply_id
            )
        case PostToFeedMsg():
            return c.PostToFeed(
                message.outlet,
                message.text,
                message.handle,
                message.tone,
                message.likes,
                message.shares,
                message.replies,
            )


SENT_BY: dict[str, str] = {
    "answer": "a participant of the role (or its backup); the facilitator with `role`",
    "send_message": "a participant; the facilitator with `from_role`",
    "note": "the facilitator, an observer",
    "feedback": "a participant, after the end",
    "draft_notice": "a role the scenario names for the regime; the facilitator with `role`",
    "sign_off_notice": "the regime's sign-off role; the facilitator with `role`",
    "file_notice": "a role the scenario names for the regime; the facilitator with `role`",
    "reply_as_party": "a white-cell player of the party; the facilitator",
    "post_to_feed": "a white-cell player; the facilitator",
    "ping": "anyone",
    "sync": "anyone",
}
"""Who may send each message; every other command is the facilitator's alone (a
participant sending one gets `not_permitted`)."""
FACILITATOR = "the facilitator"


def sent_by(kind: str) -> str:
    return SENT_BY.get(kind, FACILITATOR)


class ProtocolCode(StrEnum):
    """Error codes of the protocol itself; the rules' codes are app/engine/errors.Code."""

    invalid_message = "invalid_message"
    rate_limited = "rate_limited"
    storage_unavailable = "storage_unavailable"


PROTOCOL_CODES: dict[ProtocolCode, str] = {
    ProtocolCode.invalid_message: "not JSON, an unknown `type`, a missing or ill-typed field "
    "(the message names it); the `id` is echoed when the message had a usable one",
    ProtocolCode.rate_limited: "sent faster than 10 a second (bursts of 20): the message was "
    "dropped, send it again later; keeping on closes the socket with 4008",
    ProtocolCode.storage_unavailable: "the database failed under the command: nothing was "
    "recorded (send it again), or, said so in the message, it may have been (send it again "
    "with the same id)",
}


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class SnapshotDrill(_Out):
    """`snapshot.drill` for every viewer: what a client needs besides the log."""

    id: str = Field(description="The drill's id.")
    name: str = Field(description="The drill's name.")
    status: str = Field(description="`lobby`, `running`, `paused` or `ended`.")
    scenario: dict[str, Any] = Field(description="`{id, title, version}` of the scenario.")
    roles: dict[str, str] = Field(description="Role id to title, for the roles in play.")
    parties: dict[str, str] = Field(description="Party id to name (variables filled in).")
    statements: list[dict[str, Any]] = Field(
        description="`{id, title, body, to}` of the prepared statements this viewer may send."
    )
    objectives: dict[str, str] = Field(
        description="Objective id to title; `{}` for participants until the scores are released."
    )
    clock: dict[str, Any] = Field(
        description="`{status, speed, anchor_wall, anchor_scenario, start, timezone}`: the "
        "story's time is `anchor_scenario + (now - anchor_wall) * speed` while running."
    )
    scores_released: bool = Field(description="Whether participants may see the scores.")
    decision_options: dict[str, list[dict[str, str]]] = Field(
        description="Decision id to its options `[{id, label}]`, for the decisions this "
        "participant's role may be asked (decision events carry only the prompt); `{}` for "
        "the facilitator and observers, who have `decisions`."
    )


class FacilitatorDrill(SnapshotDrill):
    """`snapshot.drill` for the facilitator: also the scenario's facilitator-only parts."""

    guide_html: str | None = Field(description="The scenario's facilitator guide, as HTML.")
    injects: dict[str, dict[str, Any]] = Field(
        description="Inject id to `{title, notes_html, questions}`."
    )
    decisions: dict[str, dict[str, Any]] = Field(
        description="Decision id to `{prompt, options: {id: label}, per_role}`; `prompt` "
        "is the decision's title."
    )
    expectations: dict[str, str] = Field(description="Expectation id to title.")
    required_roles: list[str] = Field(description="Roles the scenario marks `required`.")
    unfilled_required: list[str] = Field(description="Required roles nobody plays yet.")
    out_of_reach: dict[str, str] = Field(
        description="Roles the story has made unavailable, each to the role acting for it."
    )
    upcoming: list[dict[str, Any]] = Field(
        description="The injects scheduled to fire, soonest first "
        "(`{inject_id, title, channel, due, to, conditional, suppressed, before_start}`); "
        "before the clock starts, the injects on the scenario's clock, `before_start` true."
    )


class SnapshotOut(_Out):
    """On connect and in answer to `sync`: the drill, who you are, and the events after
    `since` that you may see (facilitator and observers: also `descriptions` by seq)."""

    type: Literal["snapshot"] = "snapshot"
    drill: SnapshotDrill | FacilitatorDrill
    viewer: dict[str, Any] = Field(description="`{kind, role, participant_id}`.")
    last_seq: int
    events: list[dict[str, Any]]
    descriptions: dict[str, str | None] | None = Field(
        default=None,
        description="The facilitator and observers only: each event's timeline line by seq.",
    )


class EventOut(_Out):
    """Each new event you may see, as it is committed (facilitator and observers: with
    its `description`)."""

    type: Literal["event"] = "event"
    event: dict[str, Any] = Field(description="`{seq, type, at, scenario_time, actor, data}`.")
    description: str | None = Field(
        default=None,
        description="The facilitator and observers only: the event's timeline line.",
    )


class AckOut(_Out):
    """A command was committed (or, `repeated`, had been already): the last seq written."""

    type: Literal["ack"] = "ack"
    id: str
    seq: int
    repeated: bool = False


class ErrorOut(_Out):
    """A message was refused: a stable `code` and a sentence for people. `id`: the
    command's id (null only when the message had no usable one)."""

    type: Literal["error"] = "error"
    id: str | None = None
    code: str
    message: str


class PresenceOut(_Out):
    """To the facilitator and observers, whenever someone connects or disconnects."""

    type: Literal["presence"] = "presence"
    connected: list[str]
    """Participant ids with at least one open connection."""


class PongOut(_Out):
    """The answer to `ping`."""

    type: Literal["pong"] = "pong"


SERVER_MESSAGES: list[type[_Out]] = [SnapshotOut, EventOut, AckOut, ErrorOut, PresenceOut, PongOut]
