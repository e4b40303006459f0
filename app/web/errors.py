"""How refusals and failures reach people: a page for a browser, JSON for everyone else,
a 503 that says whether anything was recorded when the database failed, never a 500 for
input a person sent."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.services.drills import StorageUnavailable
from app.web.forms import error_page, wants_page
from app.web.middleware import security_headers


async def http_error(request: Request, exc: Exception) -> Response:
    """Refusals (404, 403, ...) as a page for a browser, as JSON for everyone else."""
    assert isinstance(exc, StarletteHTTPException)
    if wants_page(request):
        return error_page(request, exc.status_code, str(exc.detail), exc.headers)
    return await http_exception_handler(request, exc)


def _encodable(value: Any) -> Any:
    """`value` with every string encodable as UTF-8: a lone surrogate as its escape."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_encodable(v) for v in value)
    return value


def _field_problems(errors: list[dict[str, Any]]) -> str:
    """'name: String should have at most 80 characters; ...', for a person to read."""
    said = []
    for error in errors:
        where = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
        said.append(f"{'.'.join(where) or 'the request'}: {error.get('msg', 'not accepted')}")
    return "; ".join(dict.fromkeys(said))


async def invalid_request(request: Request, exc: Exception) -> Response:
    """A field the route's declaration refuses (too long, missing, wrong type). A string
    may hold a lone surrogate (a JSON `"\\ud800"`, or a form field decoded with the
    charset a multipart body names): valid input to the parser but not text, which the 422
    would echo back and fail to encode (a 500). It is shown escaped. A browser's form post
    gets a page saying which field, not a JSON body."""
    assert isinstance(exc, RequestValidationError)
    errors = _encodable(list(exc.errors()))
    if wants_page(request):
        return error_page(request, 422, _field_problems(errors))
    escaped = RequestValidationError(errors, body=_encodable(exc.body))
    return await request_validation_exception_handler(request, escaped)


async def storage_unavailable(request: Request, exc: Exception) -> Response:
    """The database refused a write (busy, restarting, full): nothing was recorded, and
    the client is told so instead of seeing a 500. (A connection lost during the COMMIT
    itself leaves the outcome unknown, and the client is told that.)"""
    advice = (
        "it may or may not have been recorded; check before trying again"
        if isinstance(exc, StorageUnavailable) and exc.in_doubt
        else "nothing was recorded, try again"
    )
    detail, retry = f"{exc}; {advice}", {"Retry-After": "2"}
    if wants_page(request):
        return error_page(request, 503, detail, retry)
    return JSONResponse({"detail": detail}, 503, retry)


def _holds_nul(exc: DBAPIError) -> bool:
    """PostgreSQL's refusal of a NUL in text ("invalid byte sequence ... 0x00")."""
    return "0x00" in str(exc.orig)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """A read, or a write outside the drills service (sign-in, sessions), that met a
    database restarting or out of reach: the same 503, not a 500. asyncpg's errors arrive
    as DBAPIErrors, or as the bare socket's ConnectionError while PostgreSQL is down. Any
    other database error is a bug, raised on to the 500 handler."""
    if isinstance(exc, DBAPIError) and _holds_nul(exc):
        # A form field or JSON string with a NUL met PostgreSQL, whose text cannot hold
        # one (SQLite stores it): say so, as a refusal of the input.
        detail = "the text holds a NUL character (\\0), which cannot be stored: remove it"
        if wants_page(request):
            return error_page(request, 422, detail)
        return JSONResponse({"detail": detail}, 422)
    down = StorageUnavailable.behind(exc)
    if down is None:
        raise exc
    return await storage_unavailable(request, down)


async def server_error(request: Request, exc: Exception) -> Response:
    """An unexpected error (a bug): a plain 500 with no detail of the inside, carrying the
    security headers itself. Starlette answers it from its outermost layer, outside every
    middleware, so SecurityHeaders never sees this response (and raises the error on to
    the server, which logs it)."""
    body = "Something went wrong on the server; it is logged. Try again, or tell the admin."
    return PlainTextResponse(body, 500, headers=security_headers(request.url.path))


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, server_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StorageUnavailable, storage_unavailable)
    for database_error in (DBAPIError, PoolTimeout, ConnectionError):
        app.add_exception_handler(database_error, database_unavailable)
