"""Typed refusals. Every refused command raises DomainError with a stable code."""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    drill_exists = "drill_exists"
    drill_not_created = "drill_not_created"
    drill_not_running = "drill_not_running"
    drill_not_started = "drill_not_started"
    drill_already_started = "drill_already_started"
    drill_ended = "drill_ended"
    not_permitted = "not_permitted"
    unknown_participant = "unknown_participant"
    participant_exists = "participant_exists"
    unknown_role = "unknown_role"
    wrong_role = "wrong_role"
    role_unavailable = "role_unavailable"
    unknown_decision = "unknown_decision"
    decision_not_open = "decision_not_open"
    decision_closed = "decision_closed"
    already_answered = "already_answered"
    unknown_option = "unknown_option"
    unknown_recipient = "unknown_recipient"
    unknown_statement = "unknown_statement"
    statement_not_allowed = "statement_not_allowed"
    unknown_objective = "unknown_objective"
    invalid_input = "invalid_input"
    invalid_speed = "invalid_speed"
    nothing_to_jump_to = "nothing_to_jump_to"
    drill_not_ended = "drill_not_ended"
    feedback_given = "feedback_given"
    required_roles_unfilled = "required_roles_unfilled"
    unknown_inject = "unknown_inject"
    inject_not_scheduled = "inject_not_scheduled"
    unknown_notice = "unknown_notice"
    notice_not_signed_off = "notice_not_signed_off"
    notice_filed = "notice_filed"
    command_id_reused = "command_id_reused"
    """A command id this sender already used for a different command."""
    credential_revoked = "credential_revoked"
    """The sender's session or participant token ended while the socket was open."""


MEANINGS: dict[Code, str] = {
    Code.credential_revoked: "the session or participant token the socket was opened with "
    "has ended (signed out, expired, password changed, replaced by a re-join, removed from "
    "the roster): nothing was recorded, and the socket closes with 4001",
    Code.drill_exists: "the drill was created already",
    Code.drill_not_created: "there is no such drill yet",
    Code.drill_not_running: "the clock is not running (or, for `resume`, not paused)",
    Code.drill_not_started: "the drill has not started yet",
    Code.drill_already_started: "the drill has started already",
    Code.drill_ended: "the drill has ended",
    Code.not_permitted: "the sender may not give this command (the facilitator's, or an "
    "observer's note)",
    Code.unknown_participant: "the sender is not a participant of this drill",
    Code.participant_exists: "this participant has joined already",
    Code.unknown_role: "no such role in this drill",
    Code.wrong_role: "the decision or message is not the sender's role's",
    Code.role_unavailable: "the role is unavailable in the story just now: its backup acts",
    Code.unknown_decision: "no such decision in the scenario",
    Code.decision_not_open: "the decision has not been put to anyone yet",
    Code.decision_closed: "the decision is closed",
    Code.already_answered: "the role has answered this decision already",
    Code.unknown_option: "no such option of this decision",
    Code.unknown_recipient: "no such role or party to write to",
    Code.unknown_statement: "no such prepared statement",
    Code.statement_not_allowed: "the statement is not this role's to send",
    Code.unknown_objective: "no such objective in the scenario",
    Code.invalid_input: "a value out of bounds (an empty or too long text, points out of "
    "range, scores released twice): the message says which",
    Code.invalid_speed: "a speed out of the allowed range",
    Code.nothing_to_jump_to: "no inject is scheduled to jump to",
    Code.drill_not_ended: "hot-wash feedback before the drill has ended",
    Code.feedback_given: "this participant has given feedback already",
    Code.required_roles_unfilled: "`start` while a required role has nobody playing it "
    "(send `confirm_unfilled: true` to start anyway)",
    Code.unknown_inject: "no such inject in the scenario",
    Code.inject_not_scheduled: "the inject is not waiting to fire",
    Code.unknown_notice: "no such regime in the scenario, duty in the regime or field in "
    "the duty's form, or the role does not draft this regime's notices",
    Code.notice_not_signed_off: "the scenario's sign-off role has not signed off the notice "
    "as it stands now (an edit after the sign-off needs a new one)",
    Code.notice_filed: "the notice has been filed already; it can no longer be edited",
    Code.command_id_reused: "the command's `id` was used before by this sender for a "
    "different command, which stands: send this one with a new id",
}
"""Each code in a few words, for client authors (the README's table is made from it)."""


class DomainError(Exception):
    """A command the rules refuse. `code` is stable for clients; `message` is for people."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"DomainError({self.code!s}, {self.message!r})"
