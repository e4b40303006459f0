"""How Tabletop runs under uvicorn: one place for `tabletop serve` and the tests."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from app.realtime.protocol import MAX_MESSAGE_BYTES
from app.web.main import create_app

FACTORY = "app.web.server:factory"
"""What each worker process imports and calls to build its own app."""


def uvicorn_config(
    app: FastAPI | str,
    host: str,
    port: int,
    log_level: str = "info",
    workers: int = 1,
    trusted_proxies: str = "",
) -> uvicorn.Config:
    """`app` is an app, or an import string of an app factory (needed for workers > 1).
    `trusted_proxies`: TABLETOP_TRUSTED_PROXIES (empty: uvicorn's own default)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        ws_max_size=MAX_MESSAGE_BYTES,  # the websocket layer refuses bigger frames: 1009
        proxy_headers=True,
        forwarded_allow_ips=trusted_proxies or None,
        lifespan="on",
        factory=isinstance(app, str),
        workers=workers,
    )


def factory() -> FastAPI:
    """A worker's app, with its settings from the environment (TABLETOP_*), which the
    worker processes inherit from `tabletop serve`."""
    return create_app()


def run(config: uvicorn.Config) -> None:
    """Serve in this process, or with several workers under uvicorn's supervisor, which
    restarts a worker that dies and stops them all on Ctrl+C or SIGTERM."""
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()
