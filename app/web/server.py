"""How Tabletop runs under uvicorn: one place for `tabletop serve` and the tests."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from app.realtime.protocol import MAX_MESSAGE_BYTES
from app.web import keepalive
from app.web.main import create_app

FACTORY = "app.web.server:factory"
"""What each worker process imports and calls to build its own app."""


MAX_READ_BYTES = 16 * MAX_MESSAGE_BYTES
"""The websocket layer's own ceiling, above the protocol's limit: a message over the limit
but under this is read whole and refused by the drill socket with a clean 1009 close
(app/web/ws.py). The layer refuses a bigger one at once, and closing on a message still
arriving can reach the sender as a reset rather than the close."""


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
        # No compression: an event's frame is then the same bytes for every socket of a
        # view, made once (app/web/frames), and a socket holds no compressor's state.
        ws_per_message_deflate=False,
        ws_max_size=MAX_READ_BYTES,
        # The app pings every drill socket in one sweep (app/web/keepalive), where it
        # can; elsewhere uvicorn pings each socket on its own timer, as by default.
        ws_ping_interval=None if keepalive.SWEEPS else keepalive.KEEPALIVE_SECONDS,
        ws_ping_timeout=keepalive.KEEPALIVE_SECONDS,
        proxy_headers=True,
        forwarded_allow_ips=trusted_proxies or None,
        lifespan="on",
        factory=isinstance(app, str),
        workers=workers,
    )


def factory() -> FastAPI:
    """A worker's app, with its settings from the environment (TABLETOP_*), which the
    worker processes inherit from `tabletop serve`."""
    limit_malloc_arenas()
    return create_app()


MALLOC_ARENAS = 2
M_ARENA_MAX = -8
"""mallopt's parameter number for the arena limit (glibc's malloc.h)."""


def limit_malloc_arenas() -> None:
    """Two malloc arenas for the server process, as glibc's MALLOC_ARENA_MAX=2 would.

    glibc gives threads that allocate at once arenas of their own, up to eight per core,
    and memory freed in one arena serves no other. The SQLite driver runs each pooled
    connection in a thread of its own, so a burst of joins spreads the heap over a dozen
    arenas: 4-5 KiB more per connected participant at 1,000 (`tabletop bench`, memory
    row), for no speed the figures show. Call before the server starts threads; a limit
    set in the environment is left alone, and other C libraries are not glibc."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def run(config: uvicorn.Config) -> None:
    """Serve in this process, or with several workers under uvicorn's supervisor, which
    restarts a worker that dies and stops them all on Ctrl+C or SIGTERM."""
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()
