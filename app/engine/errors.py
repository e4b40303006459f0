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
    command_id_reused = "command_id_reused"
    """A command id this sender already used for a different command."""


class DomainError(Exception):
    """A command the rules refuse. `code` is stable for clients; `message` is for people."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"DomainError({self.code!s}, {self.message!r})"
