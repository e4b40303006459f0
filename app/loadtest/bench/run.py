"""`tabletop bench`: start servers on free loopback ports, run every case, print the table
(or JSON), stop everything started. `--quick` runs small sizes in under a minute."""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.loadtest.bench import cases
from app.loadtest.bench.cases import Row
from app.loadtest.bench.servers import Backend, BenchError, Fleet, postgres_database, wait_ready
from app.services.snapshots import SNAPSHOT_EVERY


@dataclass(frozen=True, slots=True)
class Goal:
    """A figure the bench holds Tabletop to, on a 2-core machine, one worker unless said."""

    key: str
    measure: str
    unit: str
    limit: float

    def judged(self, figure: float | None, measured: str = "") -> Judged:
        return Judged(self, figure, measured)


@dataclass(frozen=True, slots=True)
class Judged:
    goal: Goal
    figure: float | None
    """None: not measured at these sizes (`--quick`), or the case failed to measure it."""
    measured: str = ""
    """What exactly was measured, where the goal's words leave it open (pages, rounds)."""

    @property
    def met(self) -> bool | None:
        return None if self.figure is None else self.figure <= self.goal.limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "goal": self.goal.key,
            "measure": self.goal.measure,
            "figure": self.figure,
            "unit": self.goal.unit,
            "limit": self.goal.limit,
            "met": self.met,
            "measured": self.measured,
        }


GOALS = [
    Goal(
        "fan_out_cpu",
        "server CPU per delivered message, Tabletop vs bare broadcast, 1,000 participants",
        "x",
        1.3,
    ),
    Goal(
        "fan_out_p99_1000",
        "fan-out p99 vs bare broadcast, 1,000 participants, median of rounds",
        "x",
        1.3,
    ),
    Goal("fan_out_p99_2000", "fan-out p99 vs bare broadcast, 2,000 participants", "x", 1.5),
    Goal("memory", "memory per idle participant", "KiB", 35.0),
    Goal("many_drills", "50 drills x 20 participants on SQLite, p99", "ms", 100.0),
    Goal("ack_postgres", "command ack p99, 200 participants, PostgreSQL", "ms", 30.0),
    Goal("rebuild", "rebuild a 10,000-event drill (SQLite)", "ms", 100.0),
    Goal("report", "report of a 10,000-event drill (SQLite)", "ms", 200.0),
    Goal("html", "its HTML", "ms", 100.0),
    Goal("pdf", "PDF of a 20-page report", "s", 2.0),
    Goal("programme", "programme page with 200 finished drills, first view", "ms", 300.0),
]
Figures = dict[str, tuple[float | None, str]]
"""Goal key -> (figure, what was measured), filled as the cases run at full sizes."""


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

    rounds: int
    programme_drills: int
    judged: bool
    """Sizes the goals are set at: only then are the figures held to them."""

    @classmethod
    def full(cls) -> Sizes:
        return cls((200, 1000, 2000), 1000, 20, 200, 30.0, 50, 20, 5, 10_000, 1000, 3, 200, True)

    @classmethod
    def quick(cls) -> Sizes:
        return cls((40, 120), 120, 3, 40, 4.0, 5, 8, 2, 1_000, 60, 2, 10, False)


@dataclass(frozen=True, slots=True)
class Options:
    sizes: Sizes
    postgres_url: str
    redis_url: str
    workdir: Path | None = None


Progress = Callable[[str], None]


@dataclass(slots=True)
class Result:
    rows: list[Row]
    """Every case's row, in the order the table prints them."""
    judged: list[Judged]
    """Every goal, with its figure (None when not measured at these sizes)."""


async def run(options: Options, progress: Progress) -> Result:
    """Every case, then every goal judged against the figures."""
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="tabletop-bench-"))
    fleet = Fleet(workdir)
    rows: list[Row] = []
    figures: Figures = {}
    sizes = options.sizes
    machine_at_start = machine_row()
    rows.append(machine_at_start)
    try:
        sqlite = Backend("SQLite")
        await _fan_out_cases(fleet, sqlite, sizes, rows, figures, progress)
        progress(f"commands: {sizes.command_participants} participants on SQLite")
        [server] = await fleet.start(sqlite)
        rows.append(
            await cases.commands(
                server, sizes.command_participants, 2.0, sizes.command_seconds, "SQLite"
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
        many = await cases.many_drills(
            server, sizes.drills, sizes.drill_participants, sizes.drill_injects, "SQLite"
        )
        rows.append(many)
        figures["many_drills"] = (many.p99_ms, "")
        fleet.stop(server)
        progress("PostgreSQL cases")
        async with postgres_database(options.postgres_url) as database_url:
            await _postgres_cases(
                fleet, database_url, options.redis_url, sizes, rows, figures, progress
            )
            # The host again, minutes later: the restart and report figures that follow
            # scale with it, and a shared machine's speed moves within one run.
            machine_at_start.figures["reference_s_before_restart"] = round(reference_seconds(), 3)
            progress(f"restart: rebuilding a {sizes.restart_events:,}-event drill")
            rows.extend(await _restart_rows(workdir, database_url, sizes.restart_events, figures))
        progress(f"reports: a PDF, and the programme of {sizes.programme_drills} drills")
        rows.extend(await _report_rows(workdir, sizes.programme_drills, figures))
    finally:
        fleet.close()
    progress("done")
    judged = [
        goal.judged(*figures.get(goal.key, (None, ""))) if sizes.judged else goal.judged(None)
        for goal in GOALS
    ]
    return Result(rows, judged)


REFERENCE_STEPS = 5_000_000


def reference_seconds(steps: int = REFERENCE_STEPS, tries: int = 3) -> float:
    """The same plain-Python work on any machine (a sum over `steps` integers, best of
    `tries`): what a core of this machine is worth to the server's Python code."""
    best = math.inf
    for _ in range(tries):
        started = time.perf_counter()
        total = 0
        for step in range(steps):
            total += step
        best = min(best, time.perf_counter() - started)
    return best


def machine_row() -> Row:
    """The machine the figures come from, by how long it takes over the reference work:
    a run's millisecond figures scale with it, so two runs compare only beside it."""
    return Row(
        "machine",
        f"sum of {REFERENCE_STEPS:,} integers in Python, best of 3",
        f"{os.cpu_count()} cores",
        figures={"reference_s": round(reference_seconds(), 3)},
    )


async def _fan_out_cases(
    fleet: Fleet,
    backend: Backend,
    sizes: Sizes,
    rows: list[Row],
    figures: Figures,
    progress: Progress,
) -> None:
    baseline = fleet.start_baseline()
    await wait_ready(baseline)
    memory: dict[int, float] = {}  # participants connected -> the server's growth, KiB each
    for participants in sizes.fan_out:
        progress(
            f"fan-out: {participants:,} participants on {backend.name}, "
            "each round followed by the bare broadcast's"
        )
        [server] = await fleet.start(backend)
        # The bare broadcast's rounds run between Tabletop's: each pair of rounds meets
        # the same moment of the shared machine.
        measured = await cases.fan_out(
            [server], participants, sizes.injects, backend.name, sizes.rounds, beside=baseline
        )
        fleet.stop(server)
        row, bare = measured.row, measured.baseline
        if measured.payload is None or bare is None:
            raise BenchError("no inject reached the participants; see the server log")
        rows.extend((row, bare))
        if row.p99_ms and bare.p99_ms:
            row.figures["vs_baseline_p99"] = round(row.p99_ms / bare.p99_ms, 2)
        ours, theirs = row.figures.get("cpu_us_per_message"), bare.figures.get("cpu_us_per_message")
        if isinstance(ours, float) and isinstance(theirs, float) and theirs > 0:
            # The server's own CPU per delivered message: noise on shared cores moves
            # latency, not this.
            row.figures["vs_baseline_cpu"] = round(ours / theirs, 2)
        rounds = f"median of {sizes.rounds} rounds"
        if participants == 1000:
            figures["fan_out_cpu"] = (row.figures.get("vs_baseline_cpu"), rounds)
            figures["fan_out_p99_1000"] = (row.figures.get("vs_baseline_p99"), rounds)
        if participants == 2000:
            figures["fan_out_p99_2000"] = (row.figures.get("vs_baseline_p99"), rounds)
        if measured.memory_per_participant_kib is not None:
            memory[participants] = measured.memory_per_participant_kib
    fleet.stop(baseline)
    if sizes.target_size in memory:
        rows.append(memory_row(memory, sizes.target_size, backend.name, figures))


def memory_row(memory: dict[int, float], size: int, backend: str, figures: Figures) -> Row:
    """What an idle participant costs: the server's growth from their drill created to
    all of them joined and connected, divided by the participants (which includes costs
    that do not grow with them: the database's connections and page caches), and, from
    two sizes, the cost of each participant more."""
    average = round(memory[size], 1)
    row_figures: dict[str, float] = {"kib_per_participant": average}
    measured = f"{size:,} connected"
    larger = max(memory)
    if larger > size:
        extra = (memory[larger] * larger - memory[size] * size) / (larger - size)
        row_figures[f"kib_per_participant_from_{size}_to_{larger}"] = round(extra, 1)
        measured += f"; {extra:.1f} KiB each from {size:,} to {larger:,}"
    figures["memory"] = (average, measured)
    return Row(
        "memory",
        f"{size:,} idle participants connected",
        f"{backend}, 1 worker",
        figures=row_figures,
    )


async def _postgres_cases(
    fleet: Fleet,
    database_url: str,
    redis_url: str,
    sizes: Sizes,
    rows: list[Row],
    figures: Figures,
    progress: Progress,
) -> None:
    postgres = Backend("PostgreSQL", database_url)
    progress(f"commands: {sizes.command_participants} participants on PostgreSQL")
    [server] = await fleet.start(postgres)
    commands = await cases.commands(
        server, sizes.command_participants, 2.0, sizes.command_seconds, "PostgreSQL"
    )
    rows.append(commands)
    figures["ack_postgres"] = (commands.p99_ms, "")
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


async def _restart_rows(
    workdir: Path, postgres_url: str, events: int, figures: Figures
) -> list[Row]:
    """A restarted server's first use of a long drill, on SQLite and on PostgreSQL (in a
    throwaway schema of `postgres_url`'s database), each measured in a new process: this
    one's heap, grown by the other cases, is not a restarted server's."""
    sqlite_url = f"sqlite+aiosqlite:///{(workdir / 'restart.db').as_posix()}"
    rows = []
    for backend, url in (("SQLite", sqlite_url), ("PostgreSQL", postgres_url)):
        measured = await _in_new_process("app.loadtest.bench.restart", url, str(events))
        ms = measured["ms"]
        rows.append(
            Row(
                "restart",
                f"rebuild a {measured['events']:,}-event drill (median of {measured['repeats']})",
                backend,
                p50_ms=ms["rebuild"]["median"],
                figures={
                    "rebuild_max_ms": ms["rebuild"]["max"],
                    "rebuild_from_log_ms": ms["rebuild_from_log"]["median"],
                    "scorecard_ms": ms["scorecard"]["median"],
                    "report_ms": ms["report"]["median"],
                    "report_unscored_ms": ms["report_unscored"]["median"],
                    "html_ms": ms["html"]["median"],
                },
            )
        )
        if backend == "SQLite" and events >= 10_000:
            repeats = f"median of {measured['repeats']}"
            figures["html"] = (ms["html"]["median"], repeats)
            whole = ms["rebuild_from_log"]["median"]
            figures["rebuild"] = (
                ms["rebuild"]["median"],
                f"{repeats}, from a snapshot {SNAPSHOT_EVERY - 1} events back; "
                f"{whole:g} ms from the log alone",
            )
            unscored = ms["report_unscored"]["median"]
            figures["report"] = (
                ms["report"]["median"],
                f"{repeats}, scorecard stored; {unscored:g} ms with none stored",
            )
    return rows


async def _report_rows(workdir: Path, drills: int, figures: Figures) -> list[Row]:
    """The PDF of a report and the programme page's first view, in a new process, on
    SQLite files of their own."""
    urls = [
        f"sqlite+aiosqlite:///{(workdir / name).as_posix()}" for name in ("pdf.db", "programme.db")
    ]
    measured = await _in_new_process("app.loadtest.bench.reports", *urls, "--drills", str(drills))
    pdf, programme = measured["pdf"], measured["programme"]
    figures["pdf"] = (pdf["median_s"], f"{pdf['pages']} pages, {pdf['events']} events")
    if programme["drills"] >= 200:
        unscored = programme["unscored_view_ms"]
        figures["programme"] = (
            programme["first_view_ms"],
            f"after a restart; {unscored:g} ms with no scorecard stored",
        )
    return [
        Row(
            "report PDF",
            f"{pdf['pages']}-page report ({pdf['events']} events), median of 3",
            "SQLite",
            figures={"seconds": pdf["median_s"]},
        ),
        Row(
            "programme",
            f"{programme['drills']} finished drills, fresh server",
            "SQLite",
            figures={
                "first_view_ms": programme["first_view_ms"],
                "first_view_unscored_ms": programme["unscored_view_ms"],
                "next_view_ms": programme["next_view_ms"],
            },
        ),
    ]


async def _in_new_process(module: str, *arguments: str) -> dict[str, Any]:
    """Run `python -m module arguments` and read the JSON figures it prints."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise BenchError(f"{module} failed: {err.decode()[-2000:]}")
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
    header = ["case", "size", "backend", "p50 ms", "p95 ms", "p99 ms", "figures", "lost", "dup"]
    lines = [header]
    for row in rows:
        figures = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in row.figures.items())
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
            ]
        )
    return _fixed_width(lines)


def goals_table(judged: list[Judged]) -> str:
    """Every goal with its figure and whether it was met."""
    lines = [["goal", "figure", "limit", "verdict", "measured"]]
    for one in judged:
        unit = one.goal.unit
        verdict = {True: "met", False: "NOT MET", None: "not measured"}[one.met]
        lines.append(
            [
                one.goal.measure,
                "" if one.figure is None else f"{one.figure:g} {unit}",
                f"<= {one.goal.limit:g} {unit}",
                verdict,
                one.measured,
            ]
        )
    return _fixed_width(lines)


def report(result: Result, quick: bool) -> str:
    """What `tabletop bench` prints: the cases, then the goals."""
    goals = goals_table(result.judged)
    if quick:
        goals += "\n(--quick: the goals are set at the full sizes, so none is judged)"
    return f"{table(result.rows)}\n\n{goals}"


def as_json(result: Result, quick: bool) -> dict[str, Any]:
    return {
        "machine": machine(),
        "quick": quick,
        "rows": [r.as_dict() for r in result.rows],
        "goals": [j.as_dict() for j in result.judged],
    }


def _fixed_width(lines: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
