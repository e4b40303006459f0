"""A private PostgreSQL cluster for fault tests: its own data directory, loopback port and
socket directory, so a test may stop, crash and restart it without touching the machine's
shared PostgreSQL (port 5432) that the other database tests use.

PostgreSQL refuses to run as root; when the tests do, initdb and pg_ctl run as the
`postgres` OS user (runuser) in a temporary directory handed to that user. Where the
binaries are missing the test is skipped with the reason; under CI (CI set) it fails.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.live import free_port


def _debian_pg_bin() -> Path:
    """Debian's newest installed PostgreSQL (/usr/lib/postgresql/<major>/bin), whichever
    major version the machine has."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else -1,
    )
    return found[-1] if found else Path("/usr/lib/postgresql/bin")


PG_BIN = Path(os.environ.get("TABLETOP_TEST_PG_BIN") or _debian_pg_bin())
OS_USER = "postgres"
"""Who runs the cluster when the tests run as root."""
Mode = Literal["smart", "fast", "immediate"]


def require_pg_binaries() -> Path:
    """The folder with initdb and pg_ctl: skipped without them (failed under CI)."""
    missing = [name for name in ("initdb", "pg_ctl") if not (PG_BIN / name).is_file()]
    problem = None
    if missing:
        problem = f"{', '.join(missing)} not found in {PG_BIN} (set TABLETOP_TEST_PG_BIN)"
    elif os.geteuid() == 0:
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            problem = f"running as root and there is no {OS_USER!r} user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            problem = "running as root and runuser is missing (PostgreSQL refuses root)"
    if problem is not None:
        message = f"a private PostgreSQL cluster cannot be started: {problem}"
        if os.environ.get("CI"):
            pytest.fail(message + " -- required under CI")
        pytest.skip(message)
    return PG_BIN


@dataclass
class PrivatePostgres:
    """One throwaway cluster; `start`, `restart`, `stop`, and `remove` when done."""

    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def server_log(self) -> Path:
        return self.root / "postgres.log"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its `postgres` database (trust auth on loopback)."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    async def create_database(self, name: str) -> str:
        """A new empty database in the cluster; its URL."""
        admin = create_async_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with admin.connect() as conn:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await admin.dispose()
        return self.database_url(name)

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", OS_USER, "--", *command]
        # Output to a file, never a pipe: a postmaster that pg_ctl starts inherits it and
        # would hold a pipe open for as long as it runs.
        output = self.root / "pg_ctl.out"
        with output.open("w+") as sink:
            done = subprocess.run(
                command, stdout=sink, stderr=subprocess.STDOUT, timeout=timeout, check=False
            )
            sink.seek(0)
            said = sink.read()
        if done.returncode != 0:
            raise AssertionError(
                f"{' '.join(args[:2])} failed ({done.returncode}):\n{said}\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.server_log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-k {self.root}",  # its socket lives here, not in /var/run/postgresql
                # Only process crashes here, never the machine's: the OS keeps what was
                # written, so skipping fsync loses nothing and makes the cluster quick.
                "-c fsync=off",
                "-c max_connections=100",
            ]
        )
        data, log = str(self.data), str(self.server_log)
        self._run("pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: Mode = "fast") -> None:
        """fast: roll back open transactions and close every connection; immediate: quit
        at once, like a crash (the next start runs crash recovery)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: Mode = "fast") -> None:
        """`pg_ctl restart`: stop in `mode`, start again with the same options."""
        data, log = str(self.data), str(self.server_log)
        self._run("pg_ctl", "-D", data, "-l", log, "-m", mode, "-w", "-t", "60", "restart")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        """Stop it (whatever state it is in) and delete everything it wrote."""
        if self.running():
            with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started cluster on a free loopback port; stopped and removed however the test
    ends."""
    require_pg_binaries()
    root = Path(tempfile.mkdtemp(prefix="tabletop-pg-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam(OS_USER)
        os.chown(root, account.pw_uid, account.pw_gid)
    cluster = PrivatePostgres(root, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
