"""Websocket close codes (4000-4999 are ours; 1008/1009 are the standard ones)."""

from __future__ import annotations

from enum import IntEnum


class Close(IntEnum):
    normal = 1000
    going_away = 1001
    policy_violation = 1008
    message_too_big = 1009
    internal_error = 1011
    try_again_later = 1013
    """The database cannot be reached (restarting): reconnect with `since` in a moment."""
    unauthorized = 4001
    """No valid participant token or facilitator session for this drill, or the one the
    socket was opened with ended while it was open (revoked)."""
    forbidden_origin = 4003
    """The page that opened the socket is not served by this Tabletop."""
    drill_not_found = 4004
    """No such drill."""
    not_drill_facilitator = 4030
    """A facilitator account that does not run this drill (its owner has not added it)."""
    too_many_messages = 4008
    """The client kept sending faster than allowed after being told to slow down."""
    too_slow = 4009
    """The client could not keep up with events; reconnect with `since` to catch up."""
    invalid_since = 4022
    """`since` in the address is not a whole number, 0 or more (HTTP's answer: 422)."""


WHEN: dict[Close, str] = {
    Close.policy_violation: "the address holds a NUL character (`%00`): the socket is "
    "accepted and closed at once, before anything reads the address",
    Close.message_too_big: "a message over 64 KiB",
    Close.try_again_later: "the database cannot be reached (restarting): reconnect with "
    "`since` in a moment",
    Close.unauthorized: "no valid participant token, facilitator session or API token "
    "(`Authorization: Bearer ...`) for this drill when it opens; or, while it is open, the "
    "one it was opened with ended: the session was signed out, expired or its account's "
    "password changed, the account was disabled or given another role, the session sat idle "
    "past its limit, the account was removed as the drill's co-facilitator, or the "
    "participant's token was replaced by a re-join or they were removed from the roster or "
    "given another role (on every worker, within a second)",
    Close.forbidden_origin: "no `Origin` header, or one that is not this server's own scheme, "
    "host and port (nor in `TABLETOP_ALLOWED_ORIGINS`): browsers always send it; a script "
    "sends an API token (`Authorization: Bearer ...`, `tabletop token create`), for which "
    "the Origin is not checked",
    Close.drill_not_found: "no such drill",
    Close.not_drill_facilitator: "a facilitator's session or API token, but the drill is "
    "another's: its owner adds co-facilitators (`POST /api/drills/{id}/facilitators`); the "
    "reason names the owner",
    Close.too_many_messages: "kept sending faster than 10 a second (bursts of 20) after "
    "being told to slow down (`rate_limited`)",
    Close.too_slow: "could not keep up with the events; reconnect with `since` to catch up",
    Close.invalid_since: "`since` is not a whole number, 0 or more (`?since=abc`, "
    "`?since=-5`); the HTTP API answers the same with 422",
}
"""When the server closes with each code a client may meet (1000, 1001 and 1011 are the
standard ones: a normal close, the server going away, an error in the server)."""
