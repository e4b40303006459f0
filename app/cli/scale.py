"""`tabletop simulate` and `tabletop bench`: bots over real websockets, and load figures."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Annotated, Any

import typer

from app.cli.common import commands, err, fail
from app.loadtest.bots import Behaviour, Plan, SimulationError, simulate


def _think(value: str) -> tuple[float, float]:
    """`3` or `2-6` seconds."""
    low, _, high = value.partition("-")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise typer.BadParameter("a number of seconds, or a range such as 2-6") from None
    if bounds[0] < 0 or bounds[1] < bounds[0]:
        raise typer.BadParameter("a range from low to high, both at least 0")
    return bounds


cli = commands()


@cli.command("simulate")
def simulate_command(
    url: Annotated[str, typer.Option(help="The Tabletop server.")] = "http://127.0.0.1:8000",
    code: Annotated[
        str | None, typer.Option(help="Join this drill (its join code), as people would.")
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            help="Or create a drill from this library scenario and start it, as the "
            "facilitator whose API token is in TABLETOP_API_TOKEN (or --user, with the "
            "password in TABLETOP_PASSWORD)."
        ),
    ] = None,
    user: Annotated[str, typer.Option(help="Facilitator user name, with --scenario.")] = "",
    bots: Annotated[int, typer.Option(min=1, max=10_000, help="How many participants.")] = 10,
    roles: Annotated[
        str, typer.Option(help="Comma-separated role ids to deal out; default every role.")
    ] = "",
    think: Annotated[
        str, typer.Option(help="Seconds each bot thinks before a command: 3, or 2-6.")
    ] = "2-6",
    duration: Annotated[float, typer.Option(min=0, help="Seconds to play.")] = 60.0,
    speed: Annotated[
        float | None, typer.Option(help="With --scenario: scenario minutes per real minute.")
    ] = None,
    no_messages: Annotated[bool, typer.Option(help="Only answer decisions.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Bots join a drill over real websockets, play it, and check what they receive: in
    order, nothing missing, nothing twice, nothing from another role. Exits 1 on any loss
    or violation."""
    if (code is None) == (scenario is None):
        raise fail("give either --code (join a drill) or --scenario (create one)")
    password = os.environ.get("TABLETOP_PASSWORD", "")
    api_token = os.environ.get("TABLETOP_API_TOKEN", "")
    if scenario is not None and not (api_token or (user and password)):
        raise fail(
            "--scenario creates a drill as a facilitator: set TABLETOP_API_TOKEN to their "
            "API token (tabletop token create), or give --user and set TABLETOP_PASSWORD"
        )
    plan = Plan(
        url=url,
        bots=bots,
        code=code,
        scenario=scenario,
        username=user,
        password=password,
        api_token=api_token,
        roles=tuple(r.strip() for r in roles.split(",") if r.strip()),
        behaviour=Behaviour(think=_think(think), message=not no_messages),
        duration=duration,
        speed=speed,
    )
    try:
        summary = asyncio.run(simulate(plan))
    except SimulationError as exc:
        raise fail(str(exc)) from None
    figures = summary.figures()
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
    else:
        _print_summary(figures)
    if summary.violations:
        err(f"FAILED: {summary.violations} violations (see above)")
        raise typer.Exit(1)


def _print_summary(figures: dict[str, Any]) -> None:
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        shown = (
            ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else value
        )
        if isinstance(value, list):
            shown = "; ".join(value) or "none"
        typer.echo(f"{key.replace('_', ' '):<{width}}  {shown if shown != '' else 'none'}")


# --------------------------------------------------------------------------- bench

DEFAULT_BENCH_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_BENCH_REDIS = "redis://127.0.0.1:6379/0"


@cli.command()
def bench(
    quick: Annotated[bool, typer.Option(help="Small sizes: under a minute.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
    postgres_url: Annotated[
        str,
        typer.Option(
            envvar="TABLETOP_BENCH_POSTGRES_URL",
            help="A PostgreSQL server the bench may create a throwaway database on.",
        ),
    ] = DEFAULT_BENCH_POSTGRES,
    redis_url: Annotated[
        str, typer.Option(envvar="TABLETOP_BENCH_REDIS_URL", help="Redis for the 2-worker case.")
    ] = DEFAULT_BENCH_REDIS,
) -> None:
    """Load figures: fan-out (and a bare websocket baseline), commands on SQLite and
    PostgreSQL, many drills at once, memory per participant, two workers on PostgreSQL and
    Redis, and the cost of rebuilding a drill after a restart. Starts its own servers on
    free loopback ports and stops them. Exits 1 if any case lost or duplicated events."""
    from app.loadtest.bench.run import Options, Sizes, report, run
    from app.loadtest.bench.run import as_json as bench_json
    from app.loadtest.bench.servers import BenchError

    options = Options(Sizes.quick() if quick else Sizes.full(), postgres_url, redis_url)
    began = time.monotonic()

    def progress(line: str) -> None:
        err(f"bench {time.monotonic() - began:6.1f} s  {line}")

    try:
        result = asyncio.run(run(options, progress))
    except BenchError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(bench_json(result, quick), indent=2))
    else:
        typer.echo(report(result, quick))
    if any(r.lost or r.duplicated for r in result.rows):
        err("FAILED: events were lost or duplicated (see the lost and dup columns)")
        raise typer.Exit(1)
