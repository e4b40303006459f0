"""create_app() and its lifespan: the only place things are wired together."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import RequestResponseEndpoint
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings, get_settings
from app.db.migrate import upgrade
from app.db.session import is_sqlite, make_engine, make_sessionmaker
from app.realtime.bus import RedisBus
from app.realtime.hub import Hub
from app.services.accounts import AccountService
from app.services.clock import ClockRunner
from app.services.drills import DrillService, StorageUnavailable
from app.services.reviews import ReviewService
from app.web import api, pages, reports, setup, ws
from app.web.limits import make_limits


@asynccontextmanager
async def open_service(settings: Settings) -> AsyncIterator[DrillService]:
    """Connect, migrate to the latest schema, and hand out the drills service."""
    url = settings.resolved_database_url()
    if is_sqlite(url):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url, settings.sqlite_busy_timeout_ms)
    try:
        await upgrade(engine)
        yield DrillService(
            make_sessionmaker(engine),
            sqlite=is_sqlite(url),
            secret_key=settings.resolved_secret_key(),
        )
    finally:
        await engine.dispose()


WORKER_HEADER = "X-Tabletop-Worker"

# Pages carry no inline script or style, so the policy can forbid them outright: an
# injected <script> or style= does nothing even if escaping were ever missed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class RefuseNul:
    """Refuse an address holding a NUL (%00) before any route sees it: PostgreSQL's text
    cannot hold one, so looking up `/drills/a%00b/console` or `/ws/drills/a%00b` failed
    inside the database driver (a 500, or a dropped socket) instead of "no such drill"."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and (
            "\x00" in scope["path"] or b"%00" in scope["query_string"]
        ):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "NUL in URL"})
                return
            where = "path" if "\x00" in scope["path"] else "query"
            # The shape of FastAPI's own 422, as the OpenAPI document declares it.
            message = "the address holds a NUL character (%00): remove it"
            detail = [{"loc": [where], "msg": message, "type": "value_error"}]
            response = JSONResponse({"detail": detail}, 422)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _holds_nul(exc: DBAPIError) -> bool:
    """PostgreSQL's refusal of a NUL in text ("invalid byte sequence ... 0x00")."""
    return "0x00" in str(exc.orig)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_service(settings) as service:
            clock = ClockRunner(
                service,
                settings.tick_seconds,
                settings.clock_lease_seconds,
                shared=not is_sqlite(settings.resolved_database_url()),
            )
            hub = Hub(service)
            service.listeners.append(hub.publish)
            # Several workers: tell the others (and hear from them) after each commit.
            bus = RedisBus(settings.redis_url, hub, service) if settings.redis_url else None
            if bus is not None:
                service.listeners.append(bus.publish)
            app.state.service = service
            app.state.accounts = AccountService(service.sessions, writing=service.writing)
            app.state.reviews = ReviewService(service.sessions, service)
            app.state.hub = hub
            app.state.clock = clock
            clock.start()
            if bus is not None:
                await bus.start()
            # Everything loaded so far (modules, schemas, the scenario library) lives as
            # long as the process: keep it out of the collector's full passes, which
            # otherwise stall every websocket for hundreds of ms with 1,000 connected.
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                if bus is not None:
                    await bus.stop()
                await clock.stop()
                await limits.aclose()

    app = FastAPI(title="Tabletop", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.allowed_origins = tuple(settings.allowed_origins)
    # Guessing a 49-bit join code: 20 wrong codes a minute per address. Sign-in: 10 per 5
    # minutes. Counted in Redis, shared by every worker, when there is one.
    limits = make_limits(settings.redis_url)
    app.state.join_limiter = limits.join
    app.state.login_limiter = limits.login
    app.include_router(api.router)
    app.include_router(ws.router)
    app.include_router(pages.router)
    app.include_router(reports.router)
    app.include_router(reports.api_router)
    app.include_router(setup.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: Exception) -> Response:
        """Refusals (404, 403, ...) as a page for a browser, as JSON for everyone else."""
        assert isinstance(exc, StarletteHTTPException)
        if pages.wants_page(request):
            return pages.error_page(request, exc.status_code, str(exc.detail), exc.headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(StorageUnavailable)
    async def storage_unavailable(request: Request, exc: Exception) -> Response:
        """The database refused a write (busy, restarting, full): nothing was recorded,
        and the client is told so instead of seeing a 500. (A connection lost during the
        COMMIT itself leaves the outcome unknown, and the client is told that.)"""
        advice = (
            "it may or may not have been recorded; check before trying again"
            if isinstance(exc, StorageUnavailable) and exc.in_doubt
            else "nothing was recorded, try again"
        )
        detail, retry = f"{exc}; {advice}", {"Retry-After": "2"}
        if pages.wants_page(request):
            return pages.error_page(request, 503, detail, retry)
        return JSONResponse({"detail": detail}, 503, retry)

    async def database_unavailable(request: Request, exc: Exception) -> Response:
        """A read, or a write outside the drills service (sign-in, sessions), that met a
        database restarting or out of reach: the same 503, not a 500. asyncpg's errors
        arrive as DBAPIErrors, or as the bare socket's ConnectionError while PostgreSQL
        is down. Any other database error is a bug, raised on to the 500 handler."""
        if isinstance(exc, DBAPIError) and _holds_nul(exc):
            # A form field or JSON string with a NUL met PostgreSQL, whose text cannot
            # hold one (SQLite stores it): say so, as a refusal of the input.
            detail = "the text holds a NUL character (\\0), which cannot be stored: remove it"
            if pages.wants_page(request):
                return pages.error_page(request, 422, detail)
            return JSONResponse({"detail": detail}, 422)
        down = StorageUnavailable.behind(exc)
        if down is None:
            raise exc
        return await storage_unavailable(request, down)

    for database_error in (DBAPIError, PoolTimeout, ConnectionError):
        app.add_exception_handler(database_error, database_unavailable)

    app.add_middleware(RefuseNul)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "Not ready"}})
    async def readyz(request: Request) -> JSONResponse:
        """The database answers. The X-Tabletop-Worker header names the worker that
        answered (its clock_holder in the drills table), to tell apart the workers
        behind one address."""
        service: DrillService = request.app.state.service
        worker = {WORKER_HEADER: request.app.state.clock.worker_id}
        try:
            async with service.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to reach the database means not ready
            return JSONResponse(
                {"status": "unavailable", "detail": type(exc).__name__}, 503, headers=worker
            )
        return JSONResponse({"status": "ok"}, headers=worker)

    return app
