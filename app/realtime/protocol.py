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
    type: Literal["ping"]


class Sync(_In):
    type: Literal["sync"]
    since: int = Field(ge=0)


class AnswerMsg(_Command):
    type: Literal["answer"]
    decision_id: Short
    option_id: Short
    rationale: Long = ""
    role: Short | None = None


class SendMessageMsg(_Command):
    type: Literal["send_message"]
    to: list[Short] = Field(max_length=50)
    body: Long
    subject: Short = ""
    statement_id: Short | None = None
    from_role: Short | None = None


class NoteMsg(_Command):
    type: Literal["note"]
    text: Long
    objective_id: Short | None = None


class StartMsg(_Command):
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
    type: Literal["pause"]


class ResumeMsg(_Command):
    type: Literal["resume"]


class SpeedMsg(_Command):
    type: Literal["set_speed"]
    speed: float


class JumpMsg(_Command):
    type: Literal["jump"]


class EndMsg(_Command):
    type: Literal["end"]
    reason: Short = "ended by the facilitator"


class ReleaseScoresMsg(_Command):
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


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class SnapshotOut(_Out):
    type: Literal["snapshot"] = "snapshot"
    drill: dict[str, Any]
    viewer: dict[str, Any]
    last_seq: int
    events: list[dict[str, Any]]


class EventOut(_Out):
    type: Literal["event"] = "event"
    event: dict[str, Any]


class AckOut(_Out):
    type: Literal["ack"] = "ack"
    id: str
    seq: int
    repeated: bool = False


class ErrorOut(_Out):
    type: Literal["error"] = "error"
    id: str | None = None
    code: str
    message: str


class PresenceOut(_Out):
    type: Literal["presence"] = "presence"
    connected: list[str]
    """Participant ids with at least one open connection."""


class PongOut(_Out):
    type: Literal["pong"] = "pong"
