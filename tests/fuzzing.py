"""What the fuzz tests share: the seed of the run (printed, repeatable) and a live server on
SQLite or on a fresh PostgreSQL database.

The seed is TABLETOP_FUZZ_SEED, else one per run: under xdist derived from the run's id, so
every worker fuzzes with the same seed; else a random one. A module that fuzzes imports
`print_seed` and `seed_in_report` (autouse fixtures) so the seed is printed when it starts
(without xdist) and in every failure's report."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import LiveServer, running_server
from tests.scale.cluster import fresh_database


def _fuzz_seed() -> int:
    chosen = os.environ.get("TABLETOP_FUZZ_SEED", "").strip()
    if chosen:
        return int(chosen)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run:
        return int(hashlib.sha256(run.encode()).hexdigest()[:8], 16)
    return secrets.randbelow(2**32)


SEED = _fuzz_seed()
REPEAT = f"fuzz seed {SEED}: TABLETOP_FUZZ_SEED={SEED} repeats this run's examples"


@pytest.fixture(scope="module", autouse=True)
def print_seed(request: pytest.FixtureRequest) -> None:
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is None or capture is None:  # an xdist worker: its failure reports say it
        return
    with capture.global_and_fixture_disabled():  # on a line of its own, amid the dots
        reporter.write(f"\n{request.module.__name__}: {REPEAT}\n")


@pytest.fixture(autouse=True)
def seed_in_report(request: pytest.FixtureRequest) -> None:
    request.node.add_report_section("setup", "fuzz seed", REPEAT)


@contextlib.contextmanager
def served(backend: str, data_dir: Path) -> Iterator[LiveServer]:
    """A live server on a SQLite file, or on a fresh PostgreSQL database (which skips, or
    fails under CI, when PostgreSQL cannot be reached)."""
    if backend == "sqlite":
        with running_server(data_dir) as live:
            yield live
        return
    loop = asyncio.new_event_loop()
    database = fresh_database()
    try:
        url = loop.run_until_complete(database.__aenter__())
        try:
            with running_server(data_dir, database_url=url) as live:
                yield live
        finally:
            loop.run_until_complete(database.__aexit__(None, None, None))
    finally:
        loop.close()
