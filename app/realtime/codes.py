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
    """No valid participant token or facilitator session for this drill."""
    forbidden_origin = 4003
    """The page that opened the socket is not served by this Tabletop."""
    drill_not_found = 4004
    """No such drill."""
    too_many_messages = 4008
    """The client kept sending faster than allowed after being told to slow down."""
    too_slow = 4009
    """The client could not keep up with events; reconnect with `since` to catch up."""
    invalid_since = 4022
    """`since` in the address is not a whole number, 0 or more (HTTP's answer: 422)."""
