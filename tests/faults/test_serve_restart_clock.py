"""A single `tabletop serve` on PostgreSQL killed with SIGKILL (no clean shutdown: its
clock leases stay in the database) and started again in its place: its drills' clocks go
on at once. The restarted server holds its leases under the same name as before (its host
and port), so it renews its own dead leases at the first round instead of waiting for
them to lapse (`clock_lease_seconds`, 5 s by default, 15 s here). With several workers
the lease rules stay: a worker's name is new at every start (tests/scale/test_workers.py).

Prints the figure: from the restarted server answering /readyz to the inject that fell
due while it was down being in the log (target: under 1 s)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.scale.cluster import (
    Socket,
    clock_holder,
    create_drill,
    create_facilitator,
    eventually,
    fresh_database,
    server_env,
    sign_in,
    stop_process,
    workers,
)

SPEED = 600.0
"""The ransom note is due at 10 story minutes: one real second after the start."""
TARGET_SECONDS = 1.0
LEASE_SECONDS = 15.0
"""Longer than the default 5 s, so that a server that had to wait for its old lease to
lapse could not hide the wait behind its own start-up (some 4 s on two busy cores)."""


async def _fired_at(database: str, drill_id: str, seconds: float) -> float:
    """The server's wall time (`at`) of the ransom note's delivery, once it is logged."""
    engine = create_async_engine(database)
    query = text(
        "SELECT at, count(*) OVER () FROM drill_events WHERE drill_id = :id "
        "AND type = 'inject_delivered' AND data::jsonb ->> 'inject_id' = 'note'"
    )
    deadline = time.monotonic() + seconds
    try:
        async with engine.connect() as conn:
            while time.monotonic() < deadline:
                row = (await conn.execute(query, {"id": drill_id})).first()
                await conn.rollback()
                if row is not None:
                    assert row[1] == 1, "the ransom note was delivered more than once"
                    return float(row[0])
                await asyncio.sleep(0.01)
    finally:
        await engine.dispose()
    raise AssertionError(f"the ransom note did not fire within {seconds} s of the restart")


async def test_a_killed_single_server_restarted_fires_what_fell_due_at_once(
    tmp_path: Path,
) -> None:
    async with fresh_database() as database:
        await create_facilitator(database, tmp_path)
        env = server_env(tmp_path, database_url=database, clock_lease_seconds=str(LEASE_SECONDS))
        with workers(tmp_path, env) as started:
            first = await started.ready(started.spawn())
            port = int(first.url.rsplit(":", 1)[1])
            facilitator = await sign_in(first)
            drill = await create_drill(facilitator, SPEED)
            console = await Socket(first, drill["id"], facilitator).open()
            await console.command({"type": "start"})
            started_at = time.time()
            await console.close()
            await facilitator.aclose()

            async def held() -> bool:
                return await clock_holder(database, drill["id"]) == first.worker_id

            await eventually(held, 5, "the server to hold the drill's clock")
            stop_process(first.process, signal.SIGKILL)  # leases left as they were
            killed_at = time.time()
            due_at = started_at + 600.0 / SPEED
            await asyncio.sleep(max(0.0, due_at - time.time()) + 0.1)
            assert await clock_holder(database, drill["id"]) == first.worker_id

            spawned_at = time.time()
            second = await started.ready(started.spawn(port=port))
            ready_at = time.time()
            fired_at = await _fired_at(database, drill["id"], seconds=15)
            after_ready = fired_at - ready_at
            print(
                f"\nrestart to first due inject (PostgreSQL, 1 worker, "
                f"lease {LEASE_SECONDS:.0f} s): {after_ready:+.3f} s from /readyz answering "
                "(negative: before it did); "
                f"{fired_at - spawned_at:.3f} s after the process was started "
                f"(startup {ready_at - spawned_at:.3f} s; killed {spawned_at - killed_at:.3f} s "
                f"before the restart)"
            )
            assert second.worker_id == first.worker_id, "a new clock name after the restart"
            assert after_ready < TARGET_SECONDS, after_ready
            assert await clock_holder(database, drill["id"]) == second.worker_id
