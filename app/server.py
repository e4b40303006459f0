"""How Tabletop runs under uvicorn: one place for `tabletop serve` and the tests."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from app.realtime.protocol import MAX_MESSAGE_BYTES


def uvicorn_config(app: FastAPI, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        ws_max_size=MAX_MESSAGE_BYTES,  # the websocket layer refuses bigger frames: 1009
        proxy_headers=True,
        lifespan="on",
    )
