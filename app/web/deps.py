"""Request-scoped dependencies: services, the signed-in user, the participant, origins."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Response, status
from pydantic import BaseModel
from starlette.requests import HTTPConnection

from app.db.models import Drill, ParticipantRow
from app.services.accounts import AccountService
from app.services.drills import DrillService
from app.web.limits import Limiter

SESSION_COOKIE = "tt_session"
PARTICIPANT_COOKIE_PREFIX = "tt_p_"


SECRET_COOKIE_SECONDS = 12 * 3600
HOST_ONLY_PREFIX = "__Host-"


def cookie_name(conn: HTTPConnection, base: str) -> str:
    """Over HTTPS every cookie is named `__Host-...`: a browser then keeps it only when
    set with Secure, Path=/ and no Domain, so neither a plain-http page on the same host
    nor a sibling subdomain can plant or overwrite it (session fixation, a forced CSRF
    token). Only the name for the scheme in use is read."""
    return f"{HOST_ONLY_PREFIX}{base}" if public_scheme(conn) == "https" else base


def cookie(conn: HTTPConnection, base: str) -> str:
    """The value of the cookie `base` under its name for this scheme, or ''."""
    return conn.cookies.get(cookie_name(conn, base), "")


def set_secret_cookie(response: Response, request: Request, base: str, value: str) -> None:
    """A session or participant token: HttpOnly (scripts never see it), SameSite=Lax,
    Secure and `__Host-` over HTTPS."""
    response.set_cookie(
        cookie_name(request, base),
        value,
        httponly=True,
        samesite="lax",
        secure=public_scheme(request) == "https",
        max_age=SECRET_COOKIE_SECONDS,
        path="/",
    )


def delete_secret_cookie(response: Response, request: Request, base: str) -> None:
    # With the same attributes it was set with: a browser ignores a `__Host-` cookie
    # (even one that expires it) without Secure.
    response.delete_cookie(
        cookie_name(request, base),
        path="/",
        secure=public_scheme(request) == "https",
        httponly=True,
        samesite="lax",
    )


def participant_cookie(drill_id: str) -> str:
    """The base name of a drill's participant cookie (see cookie_name for the prefix)."""
    return f"{PARTICIPANT_COOKIE_PREFIX}{drill_id}"


def drills(conn: HTTPConnection) -> DrillService:
    service: DrillService = conn.app.state.service
    return service


def accounts(conn: HTTPConnection) -> AccountService:
    service: AccountService = conn.app.state.accounts
    return service


def limiter(conn: HTTPConnection, name: str) -> Limiter:
    """`join_limiter` or `login_limiter`: shared by every worker when Redis is configured."""
    found: Limiter = getattr(conn.app.state, name)
    return found


class TooManyWrongCodes(Exception):
    """This address has used up its wrong join codes for now."""


async def drill_for_join_code(conn: HTTPConnection, code: str) -> Drill | None:
    """The drill with this code, or None. Only wrong codes count against the address's
    limit: a whole room behind one company NAT joins with the right code at once.

    The guess is counted BEFORE it is looked up (atomically, also across workers), and a
    right code takes its count back. Checking first and counting wrong codes after the
    lookup would let a burst of concurrent guesses all pass the check while each is being
    looked up: 200 at once were all answered. The price: a right code is refused only if
    it arrives while the address's wrong codes plus the lookups in flight reach the limit.
    """
    guesses = limiter(conn, "join_limiter")
    key = client_key(conn)
    if not await guesses.allow(key):
        raise TooManyWrongCodes
    try:
        drill = await drills(conn).drill_for_code(code)
    except Exception:
        await guesses.forget(key)  # not looked up (the database failed): not a guess
        raise
    if drill is not None:
        await guesses.forget(key)
    return drill


def client_key(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


def public_scheme(conn: HTTPConnection) -> str:
    """The scheme clients reach this server by, http or https. Behind a TLS proxy that this
    server trusts (uvicorn's proxy headers: `--forwarded-allow-ips`, loopback by default)
    the proxy's X-Forwarded-Proto has already set the scope's scheme."""
    return "https" if conn.url.scheme in ("https", "wss") else "http"


def bearer_token(conn: HTTPConnection) -> str | None:
    """The secret of an `Authorization: Bearer ...` header, if the caller sent one."""
    scheme, _, secret = conn.headers.get("authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else None


def same_origin(conn: HTTPConnection) -> bool:
    """The Origin header names this server (its scheme, host and port) or an allowed
    origin. Browsers always send it on websockets and cross-site posts; a missing one is
    refused too. A bearer token's request is not a browser's: no page of another site can
    add that header (it would need CORS, which this server never grants), and its cookies
    are not read, so there is nothing to forge and the Origin check does not apply."""
    if bearer_token(conn) is not None:
        return True
    origin = conn.headers.get("origin")
    if not origin:
        return False
    allowed: tuple[str, ...] = conn.app.state.allowed_origins
    if origin in allowed:
        return True
    parsed = urlsplit(origin)
    return parsed.netloc == conn.headers.get("host", "") and parsed.scheme == public_scheme(conn)


async def participant_of(conn: HTTPConnection, drill_id: str) -> ParticipantRow | None:
    token = cookie(conn, participant_cookie(drill_id))
    return await drills(conn).participant_for_token(drill_id, token)


def require_same_origin(request: Request) -> None:
    """State-changing JSON calls: a cross-site page cannot send them (CSRF)."""
    if not same_origin(request):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "cross-site request refused: send it from Tabletop's page"
        )


SameOrigin = Depends(require_same_origin)


class Refusal(BaseModel):
    """Every refusal (a 4xx, or a 503) carries one sentence: why, and what to do."""

    detail: str


REFUSALS = {
    400: "The body does not parse, or the drill refuses the request (the detail says why)",
    401: "Not signed in, or not a participant of this drill",
    403: "Not allowed for this account, or a cross-site request (send the Origin header)",
    404: "No such drill, scenario or join code",
    429: "Too many attempts from this address; wait and try again",
    503: "The database refused the write: nothing was recorded, try again (see Retry-After)",
}


def refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route: the refusals it really gives, each a Refusal."""
    return {code: {"model": Refusal, "description": REFUSALS[code]} for code in codes}
