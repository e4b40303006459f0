"""The servers a bench run starts and stops: real `tabletop serve` processes on free
loopback ports (SQLite file, or PostgreSQL and Redis), and the bare websocket baseline."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PASSWORD = secrets.token_urlsafe(24)  # a new facilitator password for every run
USER = "bench"
STARTUP_SECONDS = 60.0

# A scenario for load: every standard role, one opening inject, no other timers, so what
# is measured is what the bench sends.
BENCH_SCENARIO = """\
id: bench
title: Bench drill
summary: A scenario for load figures; the facilitator sends the injects.
duration: 8h
clock: {start: 2026-12-24T22:00:00, timezone: UTC, speed: 1, end: 8h}
roles:
  incident_manager: {}
  lead_investigator: {}
  soc_analyst: {}
  legal: {}
  communications: {}
  hr: {}
  executive: {}
parties:
  regulator:
    name: Data protection authority
    kind: regulator
    replies:
      - {id: receipt, delay: 5s, body: "Notification received; reference BN-1."}
  press:
    name: The Evening Post
    kind: press
    replies:
      - {id: deadline, delay: 10s, body: "We publish at 21:00 with or without you."}
  newsroom: {name: Our newsroom page, kind: other, public: true}
objectives:
  coordinate: {title: Coordinate the response, phase: detection_analysis}
injects:
  - id: opening
    title: The bench begins
    body: "Load test: **injects** are sent by hand from here on."
    to: [all]
    at: 0m
"""


class BenchError(RuntimeError):
    """A server would not start or answer; the message says which and why."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    """Resident memory of a process, in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far (Linux /proc): a server's own work,
    whatever else shares the machine's cores."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


@dataclass(slots=True)
class Backend:
    """Where the servers keep their data: a SQLite file (default) or PostgreSQL + Redis."""

    name: str
    database_url: str = ""
    redis_url: str = ""
    cleanup: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    api_token: str = ""
    """The bench facilitator's bearer token: drills are created and run with it."""

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)


class Fleet:
    """Everything a bench run started, stopped by `close` whatever happened."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.scenarios = workdir / "scenarios"
        self.scenarios.mkdir(parents=True, exist_ok=True)
        (self.scenarios / "bench.yaml").write_text(BENCH_SCENARIO)
        self.secret = uuid.uuid4().hex + uuid.uuid4().hex
        self.servers: list[Server] = []

    def env(self, backend: Backend, data_dir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TABLETOP_")}
        env.update(
            TABLETOP_DATA_DIR=str(data_dir),
            TABLETOP_SCENARIOS_DIR=str(self.scenarios),
            TABLETOP_SECRET_KEY=self.secret,
        )
        if backend.database_url:
            env["TABLETOP_DATABASE_URL"] = backend.database_url
        if backend.redis_url:
            env["TABLETOP_REDIS_URL"] = backend.redis_url
        return env

    async def start(self, backend: Backend, count: int = 1) -> list[Server]:
        """`count` Tabletop processes sharing one database (and Redis when several)."""
        data_dir = Path(tempfile.mkdtemp(prefix=f"{backend.name}-", dir=self.workdir))
        env = self.env(backend, data_dir)
        created = await asyncio.to_thread(
            subprocess.run,
            [_tabletop(), "user", "create", USER, "--password-stdin"],
            input=PASSWORD.encode(),
            env=env,
            capture_output=True,
            check=False,
        )
        if created.returncode != 0 and b"already" not in created.stderr:
            raise BenchError(f"could not create the bench user: {created.stderr.decode()}")
        token = await asyncio.to_thread(
            subprocess.run,
            [_tabletop(), "token", "create", f"bench-{uuid.uuid4().hex[:8]}", "--user", USER],
            env=env,
            capture_output=True,
            check=False,
        )
        if token.returncode != 0:
            raise BenchError(f"could not make the bench's API token: {token.stderr.decode()}")
        started = [self._spawn(env, data_dir, n) for n in range(count)]
        for server in started:
            server.api_token = token.stdout.decode().strip()
        for server in started:
            await wait_ready(server)
        return started

    def _spawn(self, env: dict[str, str], data_dir: Path, n: int) -> Server:
        return self._launch(
            [_tabletop(), "serve", "--port", "{port}"], env, data_dir / f"server-{n}.log"
        )

    def start_baseline(self) -> Server:
        """The bare Starlette/uvicorn websocket broadcast, for the fan-out ratio."""
        command = [sys.executable, "-m", "app.loadtest.bench.baseline", "--port", "{port}"]
        return self._launch(command, None, self.workdir / "baseline.log")

    def _launch(self, command: list[str], env: dict[str, str] | None, log: Path) -> Server:
        """Start a server on a free port (`{port}` in `command`), its output in `log`."""
        port = free_port()
        with log.open("wb") as sink:
            process = subprocess.Popen(  # noqa: S603 - our own commands, fixed arguments
                [part.format(port=port) for part in command],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Server(f"http://127.0.0.1:{port}", process, log)
        self.servers.append(server)
        return server

    def stop(self, server: Server) -> None:
        if server.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGTERM)
            try:
                server.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(server.process.pid, signal.SIGKILL)
                server.process.wait(10)
        if server in self.servers:
            self.servers.remove(server)

    def close(self) -> None:
        for server in list(self.servers):
            self.stop(server)


async def wait_ready(server: Server, path: str = "/readyz") -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise BenchError(
                    f"the server on {server.url} exited: {server.log.read_text()[-2000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(server.url + path)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise BenchError(f"the server on {server.url} did not answer in {STARTUP_SECONDS:.0f} s")


def _tabletop() -> str:
    return str(Path(sys.executable).with_name("tabletop"))


@contextlib.asynccontextmanager
async def postgres_database(admin_url: str) -> AsyncIterator[str]:
    """A throwaway database on the PostgreSQL server of `admin_url`, dropped afterwards."""
    import asyncpg  # type: ignore[import-untyped]
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    name = f"tabletop_bench_{uuid.uuid4().hex[:10]}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise BenchError(f"PostgreSQL at {url.host}:{url.port} is not reachable: {exc}") from exc
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
