"""Credentials an open websocket was opened with, and what revokes them.

A websocket is authenticated once, when it opens; a credential can end while it stays
open (sign-out, the session's expiry, a password change, a participant's token replaced
by a re-join or removed with its participant). Two things make that end everywhere at
once (docs/architecture.md, "Credentials end everywhere at once"):

1. The command path checks the credential again, in the very transaction that writes the
   command's events (`check`, called by the drills service's group commit). On
   PostgreSQL the row is read `FOR SHARE`: a sign-out's DELETE (or a re-join's UPDATE)
   waits for a command that read it to commit, and a command that reads after the
   revocation committed finds no row and is refused. On SQLite every writer (accounts
   too) takes the one write lock, so the two cannot interleave either. A command racing
   a revocation is therefore either committed before the revocation commits or refused:
   never logged after it.
2. After committing a revocation the service announces its keys (`keys_of`) to its
   listeners: the hub closes every matching socket here with 4001, and the Redis bus
   tells the other workers' hubs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import repository as repo

RevocationListener = Callable[[list[str]], Awaitable[None]]


def session_key(digest: str) -> str:
    """One signed-in browser (its cookie's hash): sign-out, expiry."""
    return f"session:{digest}"


def user_key(user_id: int) -> str:
    """Every session of an account: a password change."""
    return f"user:{user_id}"


def token_key(digest: str) -> str:
    """One participant token (its hash): replaced by a re-join."""
    return f"ptoken:{digest}"


def api_token_key(digest: str) -> str:
    """One API token (its hash): `tabletop token revoke`."""
    return f"apitoken:{digest}"


def facilitator_key(drill_id: str, user_id: int) -> str:
    """An account's sockets on one drill: removed as its co-facilitator."""
    return f"facilitator:{drill_id}:{user_id}"


def participant_key(participant_id: str) -> str:
    """Every token of a participant: removed from the roster, or re-roled."""
    return f"participant:{participant_id}"


@dataclass(frozen=True, slots=True)
class Credential:
    """What an open socket was authenticated with (hashes only, never the secret)."""

    kind: str
    """"session" (a facilitator's), "api" (an API token) or "participant"."""
    token_hash: str
    user_id: int | None = None
    participant_id: str | None = None
    role: str | None = None
    """The participant's role when the socket opened: a re-role ends the socket."""
    expires_at: float | None = None
    """A session's end, epoch seconds."""
    idle_seconds: float | None = None
    """A session's idle limit: a command after this long without activity is refused."""
    drill_id: str | None = None
    """An account's credential is checked for the drill its socket is on (co-facilitators
    removed from it are refused)."""

    def keys(self) -> frozenset[str]:
        if self.kind in ("api", "session"):
            assert self.user_id is not None
            # The account's key too: disabling it (or a new role) ends its tokens' sockets.
            own = api_token_key if self.kind == "api" else session_key
            keys = {own(self.token_hash), user_key(self.user_id)}
            if self.drill_id is not None:
                keys.add(facilitator_key(self.drill_id, self.user_id))
            return frozenset(keys)
        assert self.participant_id is not None
        return frozenset({token_key(self.token_hash), participant_key(self.participant_id)})


async def check(session: AsyncSession, credential: Credential, drill_id: str, now: float) -> bool:
    """The credential still holds, read in the caller's (write) transaction in one
    statement, and locked against a concurrent revocation on PostgreSQL (FOR SHARE;
    SQLite relies on its one write lock)."""
    if credential.kind == "api":
        token = await repo.api_token_standing(session, credential.token_hash, drill_id)
        return (
            token is not None
            and token.revoked_at is None
            and token.user_id == credential.user_id
            and token.disabled_at is None
            and bool(token.runs_the_drill)
        )
    if credential.kind == "session":
        found = await repo.session_standing(session, credential.token_hash, drill_id)
        if found is None or found.user_id != credential.user_id or found.expires_at < now:
            return False
        last_seen = found.last_seen_at if found.last_seen_at is not None else found.created_at
        idle = credential.idle_seconds
        return (
            (idle is None or last_seen + idle >= now)
            and found.disabled_at is None
            and bool(found.runs_the_drill)
        )
    row = await repo.participant_standing(session, credential.token_hash)
    return (
        row is not None
        and row.drill_id == drill_id
        and row.id == credential.participant_id
        and row.role == credential.role
    )
