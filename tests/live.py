"""A real Tabletop under uvicorn on a free loopback port, with a real SQLite file.

The `live_server` fixture is registered for every test folder by tests/conftest.py."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from app.config import Settings
from app.services.accounts import AccountRole
from app.web.main import create_app
from app.web.server import uvicorn_config
from tests.template_db import migrated_sqlite

FIXTURES = Path(__file__).parent / "fixtures"
PASSWORD = "a facilitator password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    app: Any
    loop: asyncio.AbstractEventLoop

    @property
    def origin(self) -> str:
        return self.url

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    def run(self, coroutine: Any) -> Any:
        """Run a coroutine on the server's own loop (its services live there)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Origin": self.url}, timeout=10)


@pytest.fixture
def live_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """Extra settings come from `@pytest.mark.live_settings(field=value, ...)`."""
    marker = request.node.get_closest_marker("live_settings")
    extra: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    with running_server(tmp_path, **extra) as live:
        yield live


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server on its first run: no account at all (the setup link's world)."""
    with running_server(tmp_path, with_facilitator=False) as live:
        yield live


@contextmanager
def running_server(
    data_dir: Path, with_facilitator: bool = True, **extra: Any
) -> Iterator[LiveServer]:
    """The app under uvicorn on a free port, with its data (SQLite file) in `data_dir`
    and (unless told otherwise) a facilitator account "fac"; stopped when the block ends."""
    defaults: dict[str, Any] = {
        "data_dir": data_dir,
        "scenarios_dir": FIXTURES,
        "secret_key": "test-secret",
        "tick_seconds": 0.05,
    }
    settings = Settings(**(defaults | extra))
    database = settings.data_dir / "tabletop.db"
    if not settings.database_url and not database.exists():
        migrated_sqlite(database)  # the server's own migration then finds nothing to do
    app = create_app(settings)
    port = free_port()
    config = uvicorn_config(
        app, "127.0.0.1", port, log_level="warning", trusted_proxies=settings.trusted_proxies
    )
    server = uvicorn.Server(config)
    loops: list[asyncio.AbstractEventLoop] = []

    def serve() -> None:
        loop = asyncio.new_event_loop()
        loops.append(loop)
        loop.run_until_complete(server.serve())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    live = LiveServer(f"http://127.0.0.1:{port}", app, loops[0])
    if with_facilitator:
        live.run(app.state.accounts.create_user("fac", PASSWORD, AccountRole.facilitator))
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(10)


def sign_in(live: LiveServer) -> httpx.Client:
    client = live.client()
    response = client.post("/api/session", json={"username": "fac", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


def join(live: LiveServer, code: str, name: str, role: str | None) -> httpx.Client:
    client = live.client()
    response = client.post("/api/join", json={"code": code, "name": name, "role": role})
    assert response.status_code == 200, response.text
    return client
