"""Real pieces for the several-workers tests: a throwaway PostgreSQL database, a private
redis-server, `tabletop serve` processes, and a small websocket client.

Every process is started in its own session and killed by its process group when the
test ends, so a failing test leaves nothing behind. Where PostgreSQL or redis-server is
missing the tests are skipped with the reason; under CI (CI=true) they fail instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.config import Settings
from app.services.accounts import AccountRole, AccountService
from app.services.runtime import open_service
from app.web.health import WORKER_HEADER
from tests.conftest import POSTGRES_URL, require_postgres
from tests.live import PASSWORD, free_port

ROOT = Path(__file__).resolve().parents[2]
TABLETOP = Path(sys.executable).parent / "tabletop"
FIXTURES = ROOT / "tests" / "fixtures"
SECRET = "scale-test-secret"
STARTUP_SECONDS = 20.0


def require_redis_server() -> str:
    """The redis-server binary: skipped without it (failed under CI)."""
    found = shutil.which("redis-server")
    if found is None:
        message = "redis-server is not installed; the several-workers tests need it"
        if os.environ.get("CI"):
            pytest.fail(message + " -- required under CI")
        pytest.skip(message)
    return found


async def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll a condition of real processes (there is no fake clock across processes)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(0.02)


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    """wait_until for a condition that needs a query to check."""
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(0.05)


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal a process started in its own session, with everything it spawned."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


# --------------------------------------------------------------------------- PostgreSQL


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (the URL is all a server process gets)."""
    await require_postgres()
    name = f"tabletop_t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def clock_holder(database_url: str, drill_id: str) -> str | None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text("SELECT clock_holder FROM drills WHERE id = :id"), {"id": drill_id}
            )
    finally:
        await engine.dispose()
    return None if found is None else str(found)


# --------------------------------------------------------------------------- Redis


@dataclass
class RedisServer:
    """A private redis-server on its own port, with nothing saved to disk."""

    binary: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def launch(self) -> None:
        address = ["--port", str(self.port), "--bind", "127.0.0.1"]
        nothing_on_disk = ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [self.binary, *address, *nothing_on_disk],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    async def start(self) -> None:
        """Start (or start again, on the same port) and wait until it answers."""
        self.launch()
        client = Redis.from_url(self.url)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    await client.ping()
                    return
                except (OSError, RedisError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.02)
        finally:
            await client.aclose()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


@contextlib.asynccontextmanager
async def private_redis() -> AsyncIterator[RedisServer]:
    server = RedisServer(require_redis_server())
    try:
        await server.start()
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- servers


def server_env(tmp: Path, **settings: str) -> dict[str, str]:
    """The environment of a `tabletop` process: ours without any TABLETOP_*, plus these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABLETOP_")}
    env.update(
        TABLETOP_DATA_DIR=str(tmp),
        TABLETOP_SECRET_KEY=SECRET,
        TABLETOP_SCENARIOS_DIR=str(FIXTURES),
        TABLETOP_TICK_SECONDS="0.05",
    )
    env.update({f"TABLETOP_{k.upper()}": v for k, v in settings.items()})
    return env


async def create_facilitator(database_url: str, tmp: Path) -> None:
    """Migrate the new database and add the facilitator `fac`, as `tabletop user create`
    does, before any server starts (servers starting together would race to migrate)."""
    settings = Settings(database_url=database_url, data_dir=tmp, secret_key=SECRET)
    async with open_service(settings) as service:
        await AccountService(service.sessions).create_user("fac", PASSWORD, AccountRole.facilitator)


@dataclass
class Worker:
    """One `tabletop serve` process."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    worker_id: str = ""

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class Workers:
    """The `tabletop serve` processes of one test; all are killed when it ends."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.env = env
        self.started: list[Worker] = []

    def spawn(self, *args: str, port: int | None = None) -> Worker:
        """A new `tabletop serve` on a free port, or on `port` (a restart in its place)."""
        port = port or free_port()
        log = self.tmp / f"serve-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(TABLETOP), "serve", "--port", str(port), *args],
                env=self.env,
                cwd=self.tmp,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(f"http://127.0.0.1:{port}", process, log)
        self.started.append(worker)
        return worker

    async def ready(self, worker: Worker) -> Worker:
        """Wait until the worker answers /readyz; learn its clock's worker id."""
        deadline = time.monotonic() + STARTUP_SECONDS
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if worker.process.poll() is not None:
                    raise AssertionError(f"tabletop serve exited:\n{worker.output()}")
                with contextlib.suppress(httpx.TransportError):
                    response = await client.get(f"{worker.url}/readyz")
                    if response.status_code == 200:
                        worker.worker_id = response.headers[WORKER_HEADER]
                        return worker
                if time.monotonic() > deadline:
                    raise AssertionError(f"tabletop serve did not start:\n{worker.output()}")
                await asyncio.sleep(0.05)

    def stop_all(self) -> None:
        for worker in self.started:
            stop_process(worker.process)


@contextlib.contextmanager
def workers(tmp: Path, env: dict[str, str]) -> Iterator[Workers]:
    started = Workers(tmp, env)
    try:
        yield started
    finally:
        started.stop_all()


@dataclass
class Cluster:
    """Two workers sharing a fresh PostgreSQL database and a private Redis."""

    a: Worker
    b: Worker
    database: str
    redis: RedisServer
    started: Workers


@contextlib.asynccontextmanager
async def two_workers(tmp: Path, **settings: str) -> AsyncIterator[Cluster]:
    """Two `tabletop serve` processes, ready, with the facilitator `fac` created; all
    stopped and dropped when the block ends."""
    async with fresh_database() as database, private_redis() as redis:
        env = server_env(tmp, database_url=database, redis_url=redis.url, **settings)
        await create_facilitator(database, tmp)
        with workers(tmp, env) as started:
            a, b = await asyncio.gather(
                started.ready(started.spawn()), started.ready(started.spawn())
            )
            yield Cluster(a, b, database, redis, started)


# --------------------------------------------------------------------------- clients


KEEPALIVE_SECONDS = 2.0
"""How long a client keeps an idle connection: less than uvicorn's 5 s, so that it never
sends a request on a connection the worker is closing at that moment (seen in CI as
"Server disconnected without sending a response" after a participant sat idle)."""


def http(worker: Worker) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=worker.url,
        headers={"Origin": worker.url},
        timeout=10,
        limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS),
    )


async def sign_in(worker: Worker) -> httpx.AsyncClient:
    client = http(worker)
    response = await client.post("/api/session", json={"username": "fac", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


async def create_drill(facilitator: httpx.AsyncClient, speed: float) -> dict[str, Any]:
    response = await facilitator.post(
        "/api/drills", json={"scenario": "mini.yaml", "name": "Scale drill", "speed": speed}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def join(worker: Worker, code: str, name: str, role: str | None) -> httpx.AsyncClient:
    client = http(worker)
    response = await client.post("/api/join", json={"code": code, "name": name, "role": role})
    assert response.status_code == 200, response.text
    return client


async def visible_log(client: httpx.AsyncClient, drill_id: str) -> list[dict[str, Any]]:
    """What the server says this caller may read of the drill's log."""
    response = await client.get(f"/api/drills/{drill_id}/events")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events


class Socket:
    """One browser tab's websocket: keeps every event it is sent, in arrival order."""

    def __init__(self, worker: Worker, drill_id: str, client: httpx.AsyncClient) -> None:
        self.worker = worker
        self.drill_id = drill_id
        self.cookies = dict(client.cookies.items())
        self.events: list[dict[str, Any]] = []
        self.replies: dict[str, dict[str, Any]] = {}
        self.snapshot: dict[str, Any] | None = None
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def seqs(self) -> list[int]:
        return [int(e["seq"]) for e in self.events]

    async def open(self) -> Socket:
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        self._ws = await connect(
            f"{self.worker.ws_url}/ws/drills/{self.drill_id}?since=0",
            additional_headers={"Origin": self.worker.url, "Cookie": cookie},
        )
        self._reader = asyncio.create_task(self._read(self._ws))
        await wait_until(lambda: self.snapshot is not None, 10, "the snapshot")
        return self

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "snapshot":
                    self.snapshot = message
                    self.events.extend(message["events"])
                elif message["type"] == "event":
                    self.events.append(message["event"])
                elif message["type"] in ("ack", "error") and message.get("id"):
                    self.replies[message["id"]] = message

    async def command(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send a command; its ack (the server's answer) once it comes."""
        assert self._ws is not None
        command_id = uuid.uuid4().hex
        await self._ws.send(json.dumps({**message, "id": command_id}))
        await wait_until(lambda: command_id in self.replies, 10, f"an answer to {message}")
        reply = self.replies[command_id]
        assert reply["type"] == "ack", reply
        return reply

    def saw(self, predicate: Callable[[dict[str, Any]], bool]) -> bool:
        return any(predicate(e) for e in self.events)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await self._reader


def delivered(inject_id: str) -> Callable[[dict[str, Any]], bool]:
    def check(event: dict[str, Any]) -> bool:
        return bool(
            event["type"] == "inject_delivered" and event["data"].get("inject_id") == inject_id
        )

    return check
