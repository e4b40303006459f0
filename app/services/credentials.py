"""Credentials an open websocket was opened with, and what revokes them.

A websocket is authenticated once, when it opens; a credential can end while it stays
open (sign-out, the session's expiry, a password change, a participant's token replaced
by a re-join or removed with its participant). Two things make that end everywhere at
once (docs/architecture.md, "Credentials end everywhere at once"):

1. The command path checks the credential again, in the very transaction that writes the
   command's events (`holding`, called by the drills service's group commit). On
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

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
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


async def holding(
    session: AsyncSession, wanted: Collection[tuple[Credential, str]], now: float
) -> set[tuple[Credential, str]]:
    """The (credential, drill id) pairs of `wanted` whose credential still holds on that
    drill, read in the caller's (write) transaction: one statement per credential however
    many drills it is checked on (SQLite's group commit checks a facilitator's commands on
    all their drills at once), locked against a concurrent revocation on PostgreSQL (FOR
    SHARE; SQLite relies on its one write lock)."""
    drills_of: dict[tuple[str, str], set[str]] = {}
    for credential, drill_id in wanted:
        drills_of.setdefault((credential.kind, credential.token_hash), set()).add(drill_id)
    rows: dict[tuple[str, str], dict[str, Row[Any]]] = {}
    for (kind, token_hash), drill_ids in drills_of.items():
        rows[kind, token_hash] = await _standing(session, kind, token_hash, sorted(drill_ids))
    return {
        (credential, drill_id)
        for credential, drill_id in wanted
        if _holds(credential, rows[credential.kind, credential.token_hash].get(drill_id), now)
    }


async def _standing(
    session: AsyncSession, kind: str, token_hash: str, drill_ids: list[str]
) -> dict[str, Row[Any]]:
    """The credential's row (with its account's) by drill id: an account's credential is
    read on each drill, a participant token on its own drill only."""
    if kind == "api":
        return await repo.api_token_standing(session, token_hash, drill_ids)
    if kind == "session":
        return await repo.session_standing(session, token_hash, drill_ids)
    row = await repo.participant_standing(session, token_hash)
    return {} if row is None else {row.drill_id: row}


def _holds(credential: Credential, row: Row[Any] | None, now: float) -> bool:
    """`row` (the credential as stored, read for one drill) still vouches for `credential`."""
    if row is None:
        return False
    if credential.kind == "participant":
        return bool(row.id == credential.participant_id and row.role == credential.role)
    if row.user_id != credential.user_id or row.disabled_at is not None:
        return False
    if not row.runs_the_drill:
        return False
    if credential.kind == "api":
        return row.revoked_at is None
    last_seen = row.last_seen_at if row.last_seen_at is not None else row.created_at
    idle = credential.idle_seconds
    return bool(row.expires_at >= now and (idle is None or last_seen + idle >= now))
