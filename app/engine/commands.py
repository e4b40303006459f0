"""What people (and the facilitator) ask the engine to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.engine.events import facilitator_actor
from app.engine.scenario import Channel, Severity

MAX_MESSAGE_CHARS = 10_000
MAX_SUBJECT_CHARS = 200
MAX_NAME_CHARS = 80
MAX_NOTE_CHARS = 5_000
MAX_FEEDBACK_CHARS = 2_000
MAX_ADJUSTMENT = 1_000.0
MAX_FIELD_CHARS = 4_000
MAX_ENGAGEMENT = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Actor:
    """Who sends a command: a participant by id, or else the facilitator (`user`: the
    signed-in account, recorded in the event's actor)."""

    participant_id: str | None = None
    user: str | None = None

    @property
    def is_facilitator(self) -> bool:
        return self.participant_id is None

    @property
    def name(self) -> str:
        return self.participant_id or facilitator_actor(self.user)


FACILITATOR_ACTOR = Actor()


@dataclass(frozen=True, slots=True)
class CreateDrill:
    drill_id: str
    name: str
    speed: float | None = None
    variables: dict[str, str] = field(default_factory=dict)
    roles: list[str] | None = None
    """Roles in play; None: every role of the scenario."""
    backups: dict[str, str] = field(default_factory=dict)
    """Per-drill backups, over the scenario's own."""


@dataclass(frozen=True, slots=True)
class Join:
    participant_id: str
    name: str
    role: str | None
    """None joins as an observer (evaluator): sees everything, plays nothing."""
    parties: tuple[str, ...] = ()
    """With role None: a white-cell player, who plays these outside parties."""


@dataclass(frozen=True, slots=True)
class Leave:
    participant_id: str


@dataclass(frozen=True, slots=True)
class StartClock:
    confirm_unfilled: bool = False
    """Start although a required role has nobody playing it (the log records which)."""


@dataclass(frozen=True, slots=True)
class PauseClock:
    pass


@dataclass(frozen=True, slots=True)
class ResumeClock:
    pass


@dataclass(frozen=True, slots=True)
class SetSpeed:
    speed: float


@dataclass(frozen=True, slots=True)
class JumpToNextInject:
    pass


@dataclass(frozen=True, slots=True)
class FireInject:
    """Deliver a scheduled inject now, ahead of its time."""

    inject_id: str


@dataclass(frozen=True, slots=True)
class SkipInject:
    """Cancel a scheduled inject: it will not arrive."""

    inject_id: str


@dataclass(frozen=True, slots=True)
class ReleaseScores:
    """Participants may now see the scores (until then only the facilitator does)."""

    scorecard: dict[str, Any] | None = None
    """The scorecard being released (`scoring.scorecard` of the log so far, as JSON), which
    the event carries: the drills service works it out from the log, which `decide` does
    not have. None: the event carries none (as events written before it did not)."""


@dataclass(frozen=True, slots=True)
class EndDrill:
    reason: str = "ended by the facilitator"


@dataclass(frozen=True, slots=True)
class Answer:
    decision_id: str
    option_id: str
    role: str | None = None
    """The role answering; needed when the facilitator records an answer for a role."""
    rationale: str = ""


@dataclass(frozen=True, slots=True)
class SendMessage:
    to: list[str]
    body: str
    subject: str = ""
    statement_id: str | None = None
    from_role: str | None = None
    """Only the facilitator names it; a participant always speaks as their own role."""


@dataclass(frozen=True, slots=True)
class ManualInject:
    title: str
    body: str
    to: list[str]
    channel: Channel = Channel.email
    severity: Severity = Severity.info
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class AddNote:
    text: str
    objective_id: str | None = None


@dataclass(frozen=True, slots=True)
class AdjustScore:
    """The facilitator moves an objective's score, with a reason the report shows."""

    objective_id: str
    points: float
    reason: str
    role: str | None = None
    """The role the adjustment is about, if it is about one."""


@dataclass(frozen=True, slots=True)
class GiveFeedback:
    """A participant's hot-wash answers, right after the drill."""

    went_well: str
    improve: str
    confidence: int
    """How confident they felt in their role, 1 (not at all) to 5 (fully)."""


@dataclass(frozen=True, slots=True)
class DraftNotice:
    """Saves an edit to a duty's notice form: the fields it sets (the others keep their
    text) and, unless None, whether the notice promises to follow up what is not yet
    known."""

    regime: str
    duty: str
    fields: dict[str, str]
    follow_up: bool | None = None
    role: str | None = None
    """Only the facilitator names it; a participant always drafts as their own role."""


@dataclass(frozen=True, slots=True)
class SignOffNotice:
    """The scenario's sign-off role approves the notice as it stands now."""

    regime: str
    duty: str
    role: str | None = None


@dataclass(frozen=True, slots=True)
class FileNotice:
    """Files the notice: the message, with the form, to the party the duty is owed to."""

    regime: str
    duty: str
    role: str | None = None


@dataclass(frozen=True, slots=True)
class RateNoticeField:
    """The facilitator overrides the completeness of one field of a filed notice (None
    hands it back to the rules), with a reason the report shows."""

    regime: str
    duty: str
    field: str
    complete: bool | None
    reason: str


@dataclass(frozen=True, slots=True)
class ReplyAsParty:
    """The white cell answers a role as an outside party, in that role's thread with it.
    `reply_id`: the authored reply it sends (suggested to the white cell), if one."""

    party: str
    to: str
    body: str
    subject: str = ""
    reply_id: str | None = None


@dataclass(frozen=True, slots=True)
class PostToFeed:
    """The white cell posts to the public feed as an outlet or an account."""

    outlet: str
    text: str
    handle: str | None = None
    tone: str = "negative"
    likes: int = 0
    shares: int = 0
    replies: int = 0


Command = (
    CreateDrill
    | Join
    | Leave
    | StartClock
    | PauseClock
    | ResumeClock
    | SetSpeed
    | JumpToNextInject
    | FireInject
    | SkipInject
    | EndDrill
    | ReleaseScores
    | Answer
    | SendMessage
    | ManualInject
    | AddNote
    | AdjustScore
    | GiveFeedback
    | DraftNotice
    | SignOffNotice
    | FileNotice
    | RateNoticeField
    | ReplyAsParty
    | PostToFeed
)
