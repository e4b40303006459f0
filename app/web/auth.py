"""Who may do what: the one access policy of the JSON API, the pages and the websocket.

Two kinds of people reach a drill. Accounts (`AccountRole`: facilitators, who run drills;
admins, who run drills and manage accounts; reviewers, who report on finished ones) sign
in with a session cookie or send an API token. Participants
hold a per-drill token cookie from joining. Every adapter asks this module, so a rule
changes in one place: the API and the websocket build the same `Viewer`, and the pages,
the reports and the API refuse with the same sentences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from starlette.requests import HTTPConnection

from app.db.models import Drill, ParticipantRow, User
from app.engine.state import DrillState, Status
from app.realtime.visibility import FACILITATOR_VIEW, Viewer
from app.services.accounts import AccountRole
from app.services.credentials import Credential
from app.services.drills import DrillNotFound
from app.services.security import token_hash
from app.web.deps import (
    SESSION_COOKIE,
    accounts,
    bearer_token,
    cookie,
    drills,
    participant_cookie,
    participant_of,
)

RUNS_DRILLS = frozenset({AccountRole.admin, AccountRole.facilitator})
STAFF = RUNS_DRILLS | {AccountRole.reviewer}


async def signed_in(conn: HTTPConnection) -> User | None:
    """The account whose bearer token (scripts, integrations) or session cookie (browsers)
    this is, if still valid. With a bearer header the cookie is not read: one request, one
    credential."""
    secret = bearer_token(conn)
    if secret is not None:
        return await accounts(conn).user_for_api_token(secret)
    return await accounts(conn).user_for_session(cookie(conn, SESSION_COOKIE))


def is_facilitator(user: User | None) -> bool:
    """Runs drills: a facilitator, or an admin (who also manages accounts)."""
    return user is not None and user.role in RUNS_DRILLS


def is_admin(user: User | None) -> bool:
    return user is not None and user.role == AccountRole.admin


def is_reviewer(user: User | None) -> bool:
    return user is not None and user.role == AccountRole.reviewer


def is_staff(user: User | None) -> bool:
    return user is not None and user.role in STAFF


async def facilitator(conn: HTTPConnection) -> User | None:
    """The signed-in facilitator, or None (nobody signed in, or a reviewer)."""
    user = await signed_in(conn)
    return user if is_facilitator(user) else None


async def staff(conn: HTTPConnection) -> User | None:
    """The signed-in facilitator or reviewer, or None."""
    user = await signed_in(conn)
    return user if is_staff(user) else None


async def _require(request: Request, allowed: Callable[[User], bool], who: str) -> User:
    """The signed-in account if `allowed`; else 401 (nobody signed in) or 403."""
    user = await signed_in(request)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"sign in as {who} first")
    if not allowed(user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"only {who} can do that")
    return user


async def require_drill_facilitator(request: Request, drill_id: str) -> User:
    """A facilitator who runs this drill (routes with a `drill_id` path parameter)."""
    user = await _require(request, is_facilitator, "a facilitator")
    refusal = await run_refusal(request, user, drill_id)
    if refusal is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, refusal)
    return user


async def require_facilitator(request: Request) -> User:
    return await _require(request, is_facilitator, "a facilitator")


async def require_staff(request: Request) -> User:
    return await _require(request, is_staff, "a facilitator or reviewer")


async def require_admin(request: Request) -> User:
    return await _require(request, is_admin, "an admin")


Facilitator = Annotated[User, Depends(require_facilitator)]
DrillFacilitatorUser = Annotated[User, Depends(require_drill_facilitator)]
Admin = Annotated[User, Depends(require_admin)]


def participant_view(participant: ParticipantRow) -> Viewer:
    """A participant sees their role's share of the drill; a white-cell player the
    outside world they play; one without either observes."""
    parties = participant.played_parties
    if parties:
        return Viewer("white_cell", None, participant.id, parties=parties)
    kind = "observer" if participant.role is None else "participant"
    return Viewer(kind, participant.role, participant.id)


class NotYourDrill(Exception):
    """A facilitator account that does not run this drill (HTTP 403; on a websocket,
    close code `not_drill_facilitator`). The message names who does."""


async def run_refusal(conn: HTTPConnection, user: User | None, drill_id: str) -> str | None:
    """Why this facilitator may not run this drill, or None: its owner and the
    co-facilitators they added run it (a drill with none is open to every facilitator).
    None too for anyone who is not a facilitator: other rules decide for them."""
    if user is None or not is_facilitator(user):
        return None
    service = drills(conn)
    if await service.may_facilitate(drill_id, user.id):
        return None
    try:
        runners = await service.facilitators(drill_id)
    except DrillNotFound:
        return None  # the route says "no such drill"
    return f"this drill is run by {runners[0]}; ask them to add you as a co-facilitator"


async def drill_viewer(conn: HTTPConnection, drill_id: str) -> Viewer | None:
    """How this caller sees the drill: as its facilitator (named, for the audit trail), as
    the participant whose cookie this is, or None when they may not see it at all.
    NotYourDrill for a facilitator of other drills (who is not a participant of this)."""
    user = await signed_in(conn)
    refusal = await run_refusal(conn, user, drill_id)
    if user is not None and is_facilitator(user) and refusal is None:
        return replace(FACILITATOR_VIEW, user=user.username)
    participant = await participant_of(conn, drill_id)
    if participant is None and refusal is not None:
        raise NotYourDrill(refusal)
    return None if participant is None else participant_view(participant)


async def drill_credential(conn: HTTPConnection, drill_id: str) -> tuple[Viewer, Credential] | None:
    """drill_viewer, with the credential it rests on: a websocket keeps it, closes when
    it is revoked, and has each command checked against it (app/services/credentials)."""
    secret = bearer_token(conn)
    if secret is not None:
        # An API token: one request, one credential (the cookies are not read).
        by_token = await accounts(conn).user_for_api_token(secret)
        if by_token is None or not is_facilitator(by_token):
            return None
        refusal = await run_refusal(conn, by_token, drill_id)
        if refusal is not None:
            raise NotYourDrill(refusal)
        api = Credential("api", token_hash(secret), user_id=by_token.id, drill_id=drill_id)
        return replace(FACILITATOR_VIEW, user=by_token.username), api
    token = cookie(conn, SESSION_COOKIE)
    found = await accounts(conn).session_of(token)
    refusal = None
    if found is not None and is_facilitator(found[0]) and token:
        user, row = found
        refusal = await run_refusal(conn, user, drill_id)
        if refusal is None:
            credential = Credential(
                "session",
                row.token_hash,
                user_id=user.id,
                expires_at=row.expires_at,
                idle_seconds=accounts(conn).idle_seconds,
                drill_id=drill_id,
            )
            return replace(FACILITATOR_VIEW, user=user.username), credential
    participant = await participant_of(conn, drill_id)
    if participant is None and refusal is not None:
        raise NotYourDrill(refusal)
    if participant is None:
        return None
    secret = cookie(conn, participant_cookie(drill_id))
    credential = Credential(
        "participant",
        token_hash(secret),
        participant_id=participant.id,
        role=participant.role,
    )
    return participant_view(participant), credential


async def require_drill_viewer(request: Request, drill_id: str) -> Viewer:
    try:
        viewer = await drill_viewer(request, drill_id)
    except NotYourDrill as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    if viewer is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "join this drill first")
    return viewer


def report_refusal(user: User, drill: Drill) -> str | None:
    """Why this account may not open the drill's report, or None: facilitators open any
    (a draft while it runs); reviewers open finished drills."""
    if is_reviewer(user) and drill.status != Status.ended:
        return "reviewers open a drill's report once the drill has ended"
    return None


def score_refusal(
    user: User | None, participant: ParticipantRow | None, state: DrillState
) -> str | None:
    """Why this caller may not see the scores yet, or None if they may: the facilitator
    always; observers, who see every scoring event as it happens, always; participants
    once the scores are released; reviewers once the drill has ended."""
    if is_facilitator(user):
        return None
    if participant is not None and (participant.role is None or state.scores_released):
        return None
    if is_reviewer(user):
        if state.status is Status.ended:
            return None
        if participant is None:
            return "reviewers see the scores once the drill has ended"
    return "the facilitator has not released the scores yet; they usually do at the hot wash"
