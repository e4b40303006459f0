"""The audit log: every sign-in, failure, throttle, setup-link use and account change.

Each entry is a row (`audit_events`, written in the transaction of the change it records,
so a change is never without its entry nor an entry without its change) and, once
committed, one structured log line on the `tabletop.audit` logger (JSON: what a log
shipper or SIEM reads). Secrets never appear: no password, token or link, only names.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AuditEvent

log = logging.getLogger("tabletop.audit")


class Action(StrEnum):
    sign_in = "sign_in"
    sign_in_failed = "sign_in_failed"
    sign_in_throttled = "sign_in_throttled"
    sign_in_disabled = "sign_in_disabled"
    sign_out = "sign_out"
    setup_link_made = "setup_link_made"
    setup_link_used = "setup_link_used"
    setup_link_refused = "setup_link_refused"
    account_created = "account_created"
    account_disabled = "account_disabled"
    account_enabled = "account_enabled"
    account_role_changed = "account_role_changed"
    password_link_made = "password_link_made"  # noqa: S105 - an action's name
    password_changed = "password_changed"  # noqa: S105 - an action's name
    api_token_created = "api_token_created"  # noqa: S105 - an action's name
    api_token_revoked = "api_token_revoked"  # noqa: S105 - an action's name


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: a signed-in account's name (None: nobody signed in) and their address."""

    name: str | None = None
    address: str | None = None


SHELL = Actor("(server shell)")
"""The `tabletop` command on the server: whoever can run it owns the data anyway."""


@dataclass(frozen=True, slots=True)
class Entry:
    action: Action
    actor: Actor
    target: str | None = None
    detail: str = ""


def _storable(text: str | None, limit: int) -> str | None:
    """What a caller typed, as a column holds it: PostgreSQL's text cannot hold a NUL (a
    sign-in with one in the name is still a failure to record), and columns have sizes."""
    return None if text is None else text.replace("\x00", "\\0")[:limit]


def add(session: AsyncSession, entry: Entry, now: float) -> None:
    """Write the entry in the caller's transaction (log it with `emit` once committed)."""
    session.add(
        AuditEvent(
            at=now,
            action=entry.action.value,
            actor=_storable(entry.actor.name, 80),
            target=_storable(entry.target, 200),
            address=_storable(entry.actor.address, 64),
            detail=_storable(entry.detail, 500) or "",
        )
    )


def emit(entry: Entry, now: float) -> None:
    """The committed entry's structured log line."""
    line = {
        "at": round(now, 3),
        "action": entry.action.value,
        "actor": entry.actor.name,
        "target": entry.target,
        "address": entry.actor.address,
        "detail": entry.detail,
    }
    log.info("%s", json.dumps(line, ensure_ascii=False, sort_keys=True))


async def recent(session: AsyncSession, limit: int, before_id: int | None) -> list[AuditEvent]:
    """The newest entries first, `limit` of them, older than `before_id` when given."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(await session.scalars(query))
