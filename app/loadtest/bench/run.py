"""`tabletop bench`: start servers on free loopback ports, run every case, print the table
(or JSON), stop everything started. `--quick` runs small sizes in under a minute."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.loadtest.bench import cases
from app.loadtest.bench.cases import Row
from app.loadtest.bench.servers import Backend, BenchError, Fleet, postgres_database, wait_ready

# The targets for this 2-core machine, one worker.
FAN_OUT_P99_MS = 150.0
FAN_OUT_RATIO = 1.5
COMMAND_P99_MS = 50.0
MEMORY_KIB = 50.0
REBUILD_MS = 200.0


@dataclass(frozen=True, slots=True)
class Sizes:
    fan_out: tuple[int, ...]
    target_size: int
    injects: int
    command_participants: int
    command_seconds: float
    drills: int
    drill_participants: int
    drill_injects: int
    restart_events: int
    worker_participants: int

    @classmethod
    def full(cls) -> Sizes:
        return cls((200, 1000, 2000), 1000, 20, 200, 30.0, 50, 20, 5, 10_000, 1000)

    @classmethod
    def quick(cls) -> Sizes:
        return cls((40, 120), 120, 3, 40, 4.0, 5, 8, 2, 1_000, 60)


@dataclass(frozen=True, slots=True)
class Options:
    sizes: Sizes
    postgres_url: str
    redis_url: str
    workdir: Path | None = None


Progress = Callable[[str], None]


async def run(options: Options, progress: Progress) -> list[Row]:
    """Every case; rows in the order the table prints them."""
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="tabletop-bench-"))
    fleet = Fleet(workdir)
    rows: list[Row] = []
    sizes = options.sizes
    try:
        sqlite = Backend("SQLite")
        await _fan_out_cases(fleet, sqlite, sizes, rows, progress)
        progress(f"commands: {sizes.command_participants} participants on SQLite")
        [server] = await fleet.start(sqlite)
        rows.append(
            _command_target(
                await cases.commands(
                    server, sizes.command_participants, 2.0, sizes.command_seconds, "SQLite"
                )
            )
        )
        progress(f"outside world: {sizes.command_participants} participants on SQLite")
        rows.append(
            await cases.outside_world(
                server,
                sizes.command_participants,
                sizes.injects,
                sizes.command_seconds,
                "SQLite",
            )
        )
        progress(f"many drills: {sizes.drills} x {sizes.drill_participants} on SQLite")
        rows.append(
            await cases.many_drills(
                server, sizes.drills, sizes.drill_participants, sizes.drill_injects, "SQLite"
            )
        )
        fleet.stop(server)
        progress("PostgreSQL cases")
        async with postgres_database(options.postgres_url) as database_url:
            await _postgres_cases(fleet, database_url, options.redis_url, sizes, rows, progress)
            progress(f"restart: rebuilding a {sizes.restart_events:,}-event drill")
            rows.extend(await _restart_rows(workdir, database_url, sizes.restart_events))
    finally:
        fleet.close()
    progress("done")
    return rows


async def _fan_out_cases(
    fleet: Fleet, backend: Backend, sizes: Sizes, rows: list[Row], progress: Progress
) -> None:
    baseline = fleet.start_baseline()
    await wait_ready(baseline)
    for participants in sizes.fan_out:
        progress(f"fan-out: {participants:,} participants on {backend.name}")
        [server] = await fleet.start(backend)
        measured = await cases.fan_out([server], participants, sizes.injects, backend.name)
        fleet.stop(server)
        row = measured.row
        rows.append(row)
        if measured.payload is None:
            raise BenchError("no inject reached the participants; see the server log")
        progress(f"fan-out baseline: {participants:,} participants")
        bare = await cases.fan_out_baseline(baseline, participants, sizes.injects, measured.payload)
        rows.append(bare)
        if row.p99_ms and bare.p99_ms:
            row.figures["vs_baseline_p99"] = round(row.p99_ms / bare.p99_ms, 2)
        ours, theirs = row.figures.get("cpu_us_per_message"), bare.figures.get("cpu_us_per_message")
        if isinstance(ours, float) and isinstance(theirs, float) and theirs > 0:
            # The server's own CPU per delivered message: noise on shared cores moves
            # latency, not this.
            row.figures["vs_baseline_cpu"] = round(ours / theirs, 2)
        if participants == sizes.target_size:
            ratio = row.figures.get("vs_baseline_p99")
            row.target = f"p99 <= {FAN_OUT_P99_MS:g} ms and <= {FAN_OUT_RATIO:g}x baseline"
            row.met = (
                row.p99_ms is not None
                and row.p99_ms <= FAN_OUT_P99_MS
                and ratio is not None
                and ratio <= FAN_OUT_RATIO
                and row.lost == row.duplicated == 0
            )
            if measured.memory_per_participant_kib is not None:
                memory = round(measured.memory_per_participant_kib, 1)
                rows.append(
                    Row(
                        "memory",
                        f"{participants:,} idle participants connected",
                        f"{backend.name}, 1 worker",
                        figures={"kib_per_participant": memory},
                        target=f"<= {MEMORY_KIB:g} KiB per participant",
                        met=memory <= MEMORY_KIB,
                    )
                )
        elif participants == max(sizes.fan_out):
            row.target = "held, nothing lost"
            row.met = row.lost == row.duplicated == 0
    fleet.stop(baseline)


async def _postgres_cases(
    fleet: Fleet,
    database_url: str,
    redis_url: str,
    sizes: Sizes,
    rows: list[Row],
    progress: Progress,
) -> None:
    postgres = Backend("PostgreSQL", database_url)
    progress(f"commands: {sizes.command_participants} participants on PostgreSQL")
    [server] = await fleet.start(postgres)
    rows.append(
        _command_target(
            await cases.commands(
                server, sizes.command_participants, 2.0, sizes.command_seconds, "PostgreSQL"
            ),
            target=True,
        )
    )
    progress(f"fan-out: {sizes.worker_participants:,} participants, PostgreSQL, 1 worker")
    single = await cases.fan_out([server], sizes.worker_participants, sizes.injects, "PostgreSQL")
    rows.append(single.row)
    fleet.stop(server)
    progress(f"fan-out: {sizes.worker_participants:,} participants, PostgreSQL + Redis, 2 workers")
    both = await fleet.start(Backend("PostgreSQL", database_url, redis_url), count=2)
    pair = await cases.fan_out(both, sizes.worker_participants, sizes.injects, "PostgreSQL + Redis")
    rows.append(pair.row)
    for server in both:
        fleet.stop(server)


def _command_target(row: Row, target: bool = False) -> Row:
    if target:
        row.target = f"ack p99 <= {COMMAND_P99_MS:g} ms"
        row.met = row.p99_ms is not None and row.p99_ms <= COMMAND_P99_MS and row.lost == 0
    return row


async def _restart_rows(workdir: Path, postgres_url: str, events: int) -> list[Row]:
    """A restarted server's first use of a long drill, on SQLite and on PostgreSQL (in a
    throwaway schema of `postgres_url`'s database), each measured in a new process: this
    one's heap, grown by the other cases, is not a restarted server's."""
    sqlite_url = f"sqlite+aiosqlite:///{(workdir / 'restart.db').as_posix()}"
    rows = []
    for backend, url in (("SQLite", sqlite_url), ("PostgreSQL", postgres_url)):
        figures = await _restart_in_new_process(url, events)
        ms = figures["ms"]
        row = Row(
            "restart",
            f"rebuild a {figures['events']:,}-event drill (median of {figures['repeats']})",
            backend,
            p50_ms=ms["rebuild"]["median"],
            figures={
                "rebuild_max_ms": ms["rebuild"]["max"],
                "scorecard_ms": ms["scorecard"]["median"],
                "report_ms": ms["report"]["median"],
                "html_ms": ms["html"]["median"],
            },
        )
        if events >= 10_000:
            row.target = f"rebuild < {REBUILD_MS:g} ms"
            row.met = ms["rebuild"]["median"] < REBUILD_MS
        rows.append(row)
    return rows


async def _restart_in_new_process(database_url: str, events: int) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.loadtest.bench.restart",
        database_url,
        str(events),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise BenchError(f"the restart case failed: {err.decode()[-2000:]}")
    figures: dict[str, Any] = json.loads(out)
    return figures


# --------------------------------------------------------------------------- output


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def table(rows: list[Row]) -> str:
    """The rows as a fixed-width text table."""
    header = [
        "case",
        "size",
        "backend",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "figures",
        "lost",
        "dup",
        "target",
    ]
    lines = [header]
    for row in rows:
        figures = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in row.figures.items())
        verdict = "" if row.met is None else ("met: " if row.met else "NOT MET: ") + row.target
        lines.append(
            [
                row.case,
                row.size,
                row.backend,
                _num(row.p50_ms),
                _num(row.p95_ms),
                _num(row.p99_ms),
                figures,
                str(row.lost),
                str(row.duplicated),
                verdict,
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
