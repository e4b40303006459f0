"""Request-scoped dependencies: services, the signed-in user, the participant, origins."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Response, status
from starlette.requests import HTTPConnection

from app.accounts import AccountService
from app.db.models import Drill, ParticipantRow, User
from app.drills import DrillService
from app.security import SlidingWindowLimiter

SESSION_COOKIE = "tt_session"
PARTICIPANT_COOKIE_PREFIX = "tt_p_"


SECRET_COOKIE_SECONDS = 12 * 3600


def set_secret_cookie(response: Response, request: Request, name: str, value: str) -> None:
    """A session or participant token: HttpOnly (scripts never see it), SameSite=Lax,
    Secure over HTTPS."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=SECRET_COOKIE_SECONDS,
        path="/",
    )


def participant_cookie(drill_id: str) -> str:
    return f"{PARTICIPANT_COOKIE_PREFIX}{drill_id}"


def drills(conn: HTTPConnection) -> DrillService:
    service: DrillService = conn.app.state.service
    return service


def accounts(conn: HTTPConnection) -> AccountService:
    service: AccountService = conn.app.state.accounts
    return service


def limiter(conn: HTTPConnection, name: str) -> SlidingWindowLimiter:
    found: SlidingWindowLimiter = getattr(conn.app.state, name)
    return found


class TooManyWrongCodes(Exception):
    """This address has used up its wrong join codes for now."""


async def drill_for_join_code(conn: HTTPConnection, code: str) -> Drill | None:
    """The drill with this code, or None. Only wrong codes count against the address's
    limit: a whole room behind one company NAT joins with the right code at once."""
    guesses = limiter(conn, "join_limiter")
    if guesses.blocked(client_key(conn)):
        raise TooManyWrongCodes
    drill = await drills(conn).drill_for_code(code)
    if drill is None:
        guesses.record(client_key(conn))
    return drill


def client_key(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


def same_origin(conn: HTTPConnection) -> bool:
    """The Origin header names this server (or an allowed origin). Browsers always send
    it on websockets and cross-site posts; a missing one is refused too."""
    origin = conn.headers.get("origin")
    if not origin:
        return False
    allowed: tuple[str, ...] = conn.app.state.allowed_origins
    if origin in allowed:
        return True
    parsed = urlsplit(origin)
    return parsed.netloc == conn.headers.get("host", "") and parsed.scheme in ("http", "https")


async def current_user(conn: HTTPConnection) -> User | None:
    return await accounts(conn).user_for_session(conn.cookies.get(SESSION_COOKIE))


async def require_facilitator(request: Request) -> User:
    user = await current_user(request)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in as a facilitator first")
    if user.role != "facilitator":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only facilitators can do that")
    return user


async def participant_of(conn: HTTPConnection, drill_id: str) -> ParticipantRow | None:
    token = conn.cookies.get(participant_cookie(drill_id), "")
    return await drills(conn).participant_for_token(drill_id, token)


def require_same_origin(request: Request) -> None:
    """State-changing JSON calls: a cross-site page cannot send them (CSRF)."""
    if not same_origin(request):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "cross-site request refused: send it from Tabletop's page"
        )


Facilitator = Annotated[User, Depends(require_facilitator)]
SameOrigin = Depends(require_same_origin)
