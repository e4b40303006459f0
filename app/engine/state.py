"""A drill's state: what the log adds up to. Built only by `apply`, never edited elsewhere."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class Status(StrEnum):
    new = "new"
    lobby = "lobby"
    running = "running"
    paused = "paused"
    ended = "ended"


class TimerKind(StrEnum):
    """What falls due. The value orders ties at one scenario time: deadlines pass first."""

    decision = "1-decision"
    expectation = "2-expectation"
    inject = "3-inject"
    reply = "3-reply"
    end = "4-end"


@dataclass(frozen=True, slots=True)
class Timer:
    due: float
    kind: TimerKind
    ref: str
    order: int

    @property
    def sort_key(self) -> tuple[float, str, int, str]:
        return (self.due, self.kind.value, self.order, self.ref)


@dataclass(frozen=True, slots=True)
class Participant:
    id: str
    name: str
    role: str | None
    joined_seq: int
    present: bool = True
    parties: tuple[str, ...] = ()
    """The outside parties a white-cell player plays (role None)."""

    @property
    def observer(self) -> bool:
        return self.role is None and not self.parties

    @property
    def white_cell(self) -> bool:
        return bool(self.parties)


@dataclass(frozen=True, slots=True)
class DecisionState:
    id: str
    opened_at: float
    deadline: float
    roles: tuple[str, ...]
    opened_seq: int
    answers: tuple[tuple[str, str], ...] = ()
    """(role, option) in the order they came."""
    closed: bool = False
    timed_out: bool = False

    def answered_by(self, role: str) -> bool:
        return any(r == role for r, _ in self.answers)


@dataclass(frozen=True, slots=True)
class ExpectationState:
    id: str
    armed_at: float
    deadline: float
    closes: float
    """deadline + grace: after this a message earns nothing and it counts as missed."""
    met_seq: int | None = None
    status: str = "pending"
    points: float = 0.0


@dataclass(frozen=True, slots=True)
class NoticeDraft:
    """A duty's notice form as drafted so far. Replaced, never changed, by `apply`."""

    fields: dict[str, str]
    edited_by: dict[str, str]
    """Field id -> the role that last wrote it."""
    follow_up: bool
    draft_seq: int
    """The seq of the last edit."""
    signed_off_by: str | None = None
    signed_seq: int | None = None
    """The draft edit the sign-off approved."""
    filed_seq: int | None = None

    @property
    def signed_off(self) -> bool:
        return self.signed_seq is not None and self.signed_seq == self.draft_seq


@dataclass(frozen=True, slots=True)
class ReplyThread:
    """The message an authored reply answers: its sender's role, seq and subject."""

    role: str
    message_seq: int
    subject: str


def notice_key(regime: str, duty: str) -> str:
    return f"{regime}.{duty}"


@dataclass(slots=True)
class DrillState:
    """Everything the engine needs to decide. Copy with `copy()` before a trial run."""

    drill_id: str = ""
    name: str = ""
    seq: int = 0
    status: Status = Status.new
    speed: float = 1.0
    anchor_wall: float = 0.0
    anchor_scenario: float = 0.0
    last_scenario_time: float = 0.0
    started: bool = False
    variables: dict[str, str] = field(default_factory=dict)
    roles: list[str] = field(default_factory=list)
    backups: dict[str, str] = field(default_factory=dict)
    unavailable: set[str] = field(default_factory=set)
    participants: dict[str, Participant] = field(default_factory=dict)
    timers: dict[str, Timer] = field(default_factory=dict)
    armed: set[str] = field(default_factory=set)
    """Injects that have been scheduled once; an inject is armed at most once."""
    delivered: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    suppressed: set[str] = field(default_factory=set)
    decisions: dict[str, DecisionState] = field(default_factory=dict)
    chosen: set[str] = field(default_factory=set)
    flags: dict[str, bool] = field(default_factory=dict)
    sent_pairs: set[tuple[str, str]] = field(default_factory=set)
    first_sent: dict[tuple[str, str], float] = field(default_factory=dict)
    """Scenario time each (from, to) pair was first sent: `sent: {..., by: T}` asks it."""
    expectations: dict[str, ExpectationState] = field(default_factory=dict)
    points: dict[str, float] = field(default_factory=dict)
    end_reason: str | None = None
    scores_released: bool = False
    feedback_from: set[str] = field(default_factory=set)
    """Participants who have filled in the hot-wash form."""
    notices: dict[str, NoticeDraft] = field(default_factory=dict)
    """`notice_key(regime, duty)` -> its notice form as drafted, signed and filed."""
    reply_threads: dict[str, ReplyThread] = field(default_factory=dict)
    """`party.reply` -> the message an authored reply answers, once it is armed."""
    suggested: set[str] = field(default_factory=set)
    """Authored replies offered to the white cell and not yet sent."""
    last_to_party: dict[tuple[str, str], int] = field(default_factory=dict)
    """(role, party) -> the seq of the role's last message to that party."""

    def copy(self) -> DrillState:
        """A copy that shares nothing mutable (the nested records are immutable)."""
        return replace(
            self,
            variables=dict(self.variables),
            roles=list(self.roles),
            backups=dict(self.backups),
            unavailable=set(self.unavailable),
            participants=dict(self.participants),
            timers=dict(self.timers),
            armed=set(self.armed),
            delivered=dict(self.delivered),
            skipped=dict(self.skipped),
            suppressed=set(self.suppressed),
            decisions=dict(self.decisions),
            chosen=set(self.chosen),
            flags=dict(self.flags),
            sent_pairs=set(self.sent_pairs),
            first_sent=dict(self.first_sent),
            expectations=dict(self.expectations),
            points=dict(self.points),
            feedback_from=set(self.feedback_from),
            notices=dict(self.notices),
            reply_threads=dict(self.reply_threads),
            suggested=set(self.suggested),
            last_to_party=dict(self.last_to_party),
        )

    def scenario_now(self, now: float) -> float:
        """The story's clock at wall time `now`: never before the last event."""
        if self.status is not Status.running:
            return max(self.anchor_scenario, self.last_scenario_time)
        elapsed = max(0.0, now - self.anchor_wall) * self.speed
        return max(self.anchor_scenario + elapsed, self.last_scenario_time)

    def wall_time_of(self, scenario_time: float) -> float:
        """When, in wall time, the running clock reaches `scenario_time`."""
        return self.anchor_wall + max(0.0, scenario_time - self.anchor_scenario) / self.speed

    def acting_role(self, role: str, unavailable: set[str] | None = None) -> str:
        """Who acts for `role` now: itself, or its backup (chain) while it is unavailable.
        `unavailable` overrides the current set (for an inject that changes it)."""
        away = self.unavailable if unavailable is None else unavailable
        seen = {role}
        current = role
        while current in away or current not in self.roles:
            backup = self.backups.get(current)
            if backup is None or backup in seen:
                return current
            seen.add(backup)
            current = backup
        return current

    def plays(self, party: str) -> bool:
        """A white-cell player who is here plays this party."""
        return any(p.present and party in p.parties for p in self.participants.values())

    def covered_roles(self) -> set[str]:
        """Roles whose work someone else may be doing now: those unavailable in the story,
        and those with a backup that are not in play in this drill."""
        # Asked for every message of a log: the keys' difference takes the list as it is.
        not_in_play = self.backups.keys() - self.roles
        return self.unavailable | not_in_play if self.unavailable else not_in_play

    def stands_in_for(self, role: str, covered: set[str] | None = None) -> set[str]:
        """The roles whose work `role` does right now, itself included. `covered`: the
        `covered_roles()` of now, when the caller has them already."""
        return standing_in(role, self.acting_for(covered))

    def acting_for(self, covered: set[str] | None = None) -> list[tuple[str, str]]:
        """Each role whose work someone else may be doing now (`covered`, by default
        `covered_roles()`), with who acts for it: found once, for a caller asking about
        several roles (`standing_in`)."""
        roles = self.covered_roles() if covered is None else covered
        return [(other, self.acting_role(other)) for other in roles]

    def next_timer(self, limit: float | None = None) -> Timer | None:
        best: Timer | None = None
        for timer in self.timers.values():
            if limit is not None and timer.due > limit:
                continue
            if best is None or timer.sort_key < best.sort_key:
                best = timer
        return best


def standing_in(role: str, acting: list[tuple[str, str]]) -> set[str]:
    """`role` and the roles it acts for, of `acting` (DrillState.acting_for)."""
    return {role, *(other for other, actor in acting if actor == role)}
