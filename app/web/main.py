"""create_app() and its lifespan: the only place things are wired together.

The lifespan opens the services on the configured database and starts what runs beside
the requests (the drill clock, the real-time hub, the Redis bus between workers); the app
adds the routers, the static files, the middleware and the error handlers.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from app.config import Settings, get_settings
from app.db.session import is_sqlite
from app.realtime.bus import RedisBus
from app.realtime.hub import Hub
from app.services.accounts import AccountService
from app.services.clock import ClockRunner
from app.services.reviews import ReviewService
from app.services.runtime import open_service
from app.web import accounts, api, asyncapi, health, pages, reports, setup, ws
from app.web.errors import add_error_handlers
from app.web.forms import STATIC
from app.web.keepalive import Keepalive
from app.web.limits import make_limits
from app.web.middleware import CapBody, RefuseNul, SecurityHeaders


def settle_heap() -> None:
    """Everything loaded before serving (modules, schemas, the scenario library) lives as
    long as the process: keep it out of the collector's full passes, which otherwise stall
    every websocket for hundreds of ms with 1,000 connected. The bench's cases that stand
    for a restarted server start the same way."""
    gc.collect()
    gc.freeze()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    async with open_service(settings) as service:
        clock = ClockRunner(
            service,
            settings.tick_seconds,
            settings.clock_lease_seconds,
            shared=not is_sqlite(settings.resolved_database_url()),
            worker_id=settings.clock_worker_id,
        )
        hub = Hub(service)
        service.listeners.append(hub.publish)
        service.revocation_listeners.append(hub.revoke)
        # Several workers: tell the others (and hear from them) after each commit.
        bus = RedisBus(settings.redis_url, hub, service) if settings.redis_url else None
        if bus is not None:
            service.listeners.append(bus.publish)
            service.revocation_listeners.append(bus.revoke)
        app.state.service = service
        app.state.accounts = AccountService(
            service.sessions,
            writing=service.writing,
            announce=service.announce_revoked,
            session_seconds=settings.session_hours * 3600,
            idle_seconds=settings.session_idle_minutes * 60,
        )
        app.state.reviews = ReviewService(service.sessions, service)
        app.state.hub = hub
        app.state.clock = clock
        clock.start()
        app.state.keepalive = keepalive = Keepalive()
        keepalive.start()
        if bus is not None:
            await bus.start()
        settle_heap()
        try:
            yield
        finally:
            if bus is not None:
                await bus.stop()
            await clock.stop()
            await keepalive.stop()
            await app.state.limits.aclose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    docs = settings.api_docs
    app = FastAPI(
        title="Tabletop",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.allowed_origins = tuple(settings.allowed_origins)
    # Guessing a 49-bit join code: 20 wrong codes a minute per address. Sign-in: 10 per 5
    # minutes per account, 30 per address. Counted in Redis, shared by every worker, when
    # there is one.
    app.state.limits = limits = make_limits(settings.redis_url)
    app.state.join_limiter = limits.join
    app.state.login_limiter = limits.login
    app.state.login_address_limiter = limits.login_address
    for router in (api.router, pages.router, reports.router, reports.api_router):
        app.include_router(router)
    app.include_router(setup.router)
    app.include_router(accounts.router)
    app.include_router(health.router)
    app.include_router(asyncapi.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    add_error_handlers(app)
    app.add_middleware(CapBody, max_bytes=int(settings.max_body_mib * 1024 * 1024))
    # Drill sockets are served here, past the host, NUL and header checks and before
    # FastAPI's routing, whose frames would stay suspended under every open socket.
    app.add_middleware(ws.DrillSockets)
    if settings.allowed_hosts:  # inside SecurityHeaders: its 400 carries them too
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RefuseNul)  # outermost: before anything reads the address
    return app
