"""Server-rendered pages' shared parts: the templates, the CSRF double submit, rendering,
error pages and the way to sign in.

Every state-changing form carries a CSRF token that must match the `tt_csrf` cookie
(double submit): a cross-site page can make the browser send the cookie but cannot read it
to put it in the form.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from app.authoring.markdown import render_markdown
from app.engine.scenario import MAX_SPEED
from app.resources import resource_dir
from app.services.security import constant_time_equal
from app.web.auth import is_admin, is_facilitator
from app.web.client import client_constants
from app.web.deps import cookie, cookie_name, public_scheme

TEMPLATES = resource_dir("templates")
STATIC = resource_dir("static")
CSRF_COOKIE = "tt_csrf"
CSRF_FIELD = "csrf"

# Jinja2Templates turns autoescaping on for .html templates; scenario and participant
# text is never marked safe.
templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.filters["markdown"] = render_markdown
# Limits the pages state (the speed box's maximum) come from the one place they are kept.
templates.env.globals["max_speed"] = MAX_SPEED
templates.env.globals["client_constants"] = client_constants
# The access policy's own test, so a page never spells out an account role.
templates.env.globals["is_facilitator"] = is_facilitator
templates.env.globals["is_admin"] = is_admin
templates.env.globals["utc_time"] = lambda at: datetime.fromtimestamp(at, UTC).strftime(
    "%Y-%m-%d %H:%M:%S"
)


def csrf_token(request: Request) -> str:
    """The browser's CSRF token: the cookie's, or a new one (set by render)."""
    existing = cookie(request, CSRF_COOKIE)
    return existing if len(existing) >= 32 else secrets.token_urlsafe(32)


def check_csrf(request: Request, sent: str) -> None:
    kept = cookie(request, CSRF_COOKIE)
    if not kept or not sent or not constant_time_equal(kept, sent):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "the form has expired; reload the page and try again"
        )


def render(request: Request, name: str, context: dict[str, Any], code: int = 200) -> HTMLResponse:
    token = csrf_token(request)
    user = context.pop("user", None)
    response = templates.TemplateResponse(
        request, name, {"csrf": token, "user": user, **context}, status_code=code
    )
    if cookie(request, CSRF_COOKIE) != token:
        # Strict: the token cookie never travels on a cross-site request at all.
        response.set_cookie(
            cookie_name(request, CSRF_COOKIE),
            token,
            httponly=True,
            samesite="strict",
            secure=public_scheme(request) == "https",
            path="/",
        )
    return response


_HEADINGS = {
    400: "That request could not be used",
    401: "Sign in first",
    403: "Not allowed",
    404: "Not found",
    422: "That request could not be used",
    429: "Too many attempts",
    503: "The database is busy",
}


def wants_page(request: Request) -> bool:
    """A browser navigating (not the JSON API, not a script's fetch): it gets errors as a
    page it can read, with the way back, instead of a bare JSON body."""
    accept = request.headers.get("accept", "")
    return not request.url.path.startswith("/api/") and "text/html" in accept


def error_page(
    request: Request, code: int, detail: str, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    heading = _HEADINGS.get(code, "Something went wrong")
    context = {"status": code, "heading": heading, "detail": detail, "retry": code == 503}
    response = render(request, "error.html", context, code)
    response.headers.update(headers or {})
    return response


def attachment(file_name: str) -> dict[str, str]:
    """The Content-Disposition of a download named in any language (RFC 6266): an ASCII
    `filename` for old clients and the real name, UTF-8 and percent-encoded, in
    `filename*`. A header holds Latin-1 only: `Übung 北京` put raw made every download 500."""
    plain = unicodedata.normalize("NFKD", file_name).encode("ascii", "ignore").decode()
    plain = "".join(ch if ch.isalnum() or ch in ".-_" else "-" for ch in plain).strip("-")
    encoded = quote(file_name, safe="")
    value = f"attachment; filename=\"{plain or 'download'}\"; filename*=UTF-8''{encoded}"
    return {"Content-Disposition": value}


def to_login(request: Request) -> RedirectResponse:
    """Sign in first, then come back here (query string included)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': here})}", status.HTTP_303_SEE_OTHER)
