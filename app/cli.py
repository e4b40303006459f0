"""The `tabletop` command."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from app.config import get_settings
from app.engine.commands import MAX_NAME_CHARS
from app.engine.durations import format_duration
from app.engine.events import Event
from app.engine.filled import filled_scenario
from app.engine.scenario import Scenario
from app.engine.scoring import scorecard
from app.engine.simulate import Communication, play
from app.engine.timeline import end_reason, timeline
from app.scenarios import Loaded, load_scenario_file, scenario_files

cli = typer.Typer(
    name="tabletop",
    help="Tabletop: live incident-response drills played from branching scenarios.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_cli = typer.Typer(help="The database: migrations.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
user_cli = typer.Typer(help="Facilitator and reviewer accounts.", no_args_is_help=True)
cli.add_typer(user_cli, name="user")


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    _err(f"error: {message}")
    return typer.Exit(code)


# --------------------------------------------------------------------------- serve


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[bool, typer.Option(help="Also create a sample drill to join.")] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes. More than 1 needs PostgreSQL (TABLETOP_DATABASE_URL) "
            "and Redis (TABLETOP_REDIS_URL), shared by all workers.",
        ),
    ] = 1,
) -> None:
    """Run the Tabletop server (SQLite and in-process fan-out unless configured)."""
    from app.main import create_app
    from app.server import FACTORY, run, uvicorn_config

    settings = get_settings()
    problem = _serve_problem(settings, workers)
    if problem is not None:
        raise _fail(problem)
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    # Migrations and the first-run lines once, here, before any worker starts.
    for line in asyncio.run(_first_run(settings, base, demo)):
        _err(line)
    fan_out = f"; notices: {_safe_redis(settings)}" if settings.redis_url else ""
    processes = f"; {workers} workers" if workers > 1 else ""
    _err(f"Tabletop on {base}  (database: {_safe_url(settings)}{fan_out}{processes})")
    for line in _where_phones_join(settings.public_url, host, port):
        _err(line)
    if workers > 1:
        # Each worker builds its own app from the environment it inherits.
        run(uvicorn_config(FACTORY, host, port, workers=workers))
    else:
        run(uvicorn_config(create_app(settings), host, port))


def _where_phones_join(public_url: str, host: str, port: int) -> list[str]:
    """Where participants' phones can reach this server, or why they cannot."""
    from app.web.join_link import is_loopback_host, lan_addresses

    if public_url:
        return [f"Participants join at {public_url}/join (TABLETOP_PUBLIC_URL)"]
    if is_loopback_host(host):
        return [
            f"Only this computer can open {host}: phones and other computers cannot join. "
            "To let participants join from their own devices, start with --host 0.0.0.0 "
            "and set TABLETOP_PUBLIC_URL to the address they use."
        ]
    everywhere = host in ("0.0.0.0", "::")  # noqa: S104 - the user chose to listen widely
    addresses = lan_addresses() if everywhere else [host]
    if not addresses:
        return ["No network address found: participants' devices may not reach this one."]
    links = ", ".join(f"http://{address}:{port}/join" for address in addresses)
    return [
        f"Participants on this network join at {links}; set TABLETOP_PUBLIC_URL="
        f"http://{addresses[0]}:{port} so the console's join link and QR code use it."
    ]


def _serve_problem(settings: Any, workers: int) -> str | None:
    """What keeps this configuration from serving, as one line; None when it can serve."""
    from app.realtime.bus import redis_url_problem

    if settings.redis_url and (problem := redis_url_problem(settings.redis_url)):
        return problem
    if workers == 1:
        return None
    missing = []
    if not settings.resolved_database_url().startswith("postgresql"):
        missing.append("TABLETOP_DATABASE_URL=postgresql+asyncpg://user:password@host/db")
    if not settings.redis_url:
        missing.append("TABLETOP_REDIS_URL=redis://host:6379/0")
    if not missing:
        return None
    return (
        f"--workers {workers} needs a database and Redis shared by all workers: "
        f"set {' and '.join(missing)} (or serve with --workers 1)"
    )


def _safe_redis(settings: Any) -> str:
    from app.realtime.bus import safe_redis_url

    return safe_redis_url(settings.redis_url)


async def _first_run(settings: Any, base: str, demo: bool) -> list[str]:
    """Before serving: a one-time setup link when there is no account yet, and with
    --demo a sample drill to join at once."""
    from app.accounts import AccountService
    from app.drills import new_drill_id
    from app.engine import commands as c
    from app.main import open_service
    from app.security import format_join_code

    lines: list[str] = []
    async with open_service(settings) as service:
        accounts = AccountService(service.sessions)
        if await accounts.user_count() == 0:
            token = await accounts.new_setup_token()
            lines.append(
                f"No account yet. Open this one-time link to choose the first "
                f"facilitator's password (valid 24 hours):\n  {base}/setup#token={token}"
            )
        if demo:
            path = next(
                (p for p in scenario_files([settings.scenarios_dir]) if load_scenario_file(p).ok),
                None,
            )
            if path is None:
                lines.append(f"--demo: no valid scenario in {settings.scenarios_dir}")
                return lines
            drill_id = await service.create_drill(
                path.read_text(), path.name, c.CreateDrill(new_drill_id(), "Demo drill")
            )
            code = format_join_code(service.join_code(drill_id))
            lines.append(
                f"Demo drill from {path.name}: console {base}/drills/{drill_id}/console"
                f"\n  participants join at {base}/join with code {code}"
            )
    return lines


def _safe_url(settings: Any) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url()).render_as_string(hide_password=True)


# --------------------------------------------------------------------------- validate


@cli.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Scenario files or folders.")],
    strict: Annotated[bool, typer.Option(help="Warnings fail too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Check scenario files: types, references, reachability, dead ends, endings."""
    files = list(scenario_files(paths))
    if not files:
        raise _fail("no .yaml or .yml files found in " + ", ".join(map(str, paths)))
    results: list[dict[str, Any]] = []
    failed = False
    for path in files:
        loaded = load_scenario_file(path)
        bad = bool(loaded.errors) or (strict and bool(loaded.warnings)) or not loaded.scenario
        failed |= bad
        entry: dict[str, Any] = {
            "file": str(path),
            "valid": not bad,
            "findings": [f.as_dict() for f in loaded.findings],
        }
        if loaded.scenario is not None and loaded.counts is not None:
            entry["id"] = loaded.scenario.id
            entry["counts"] = loaded.counts.as_dict()
        results.append(entry)
        if not as_json:
            for finding in loaded.findings:
                typer.echo(finding.render())
    if as_json:
        typer.echo(json.dumps({"valid": not failed, "files": results}, indent=2))
    else:
        good = sum(1 for r in results if r["valid"])
        summary = f"{good} of {len(results)} scenario file(s) valid"
        _err(summary if not failed else f"{summary}; fix the errors above")
    raise typer.Exit(1 if failed else 0)


# --------------------------------------------------------------------------- schema


@cli.command()
def schema(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the format reference in Markdown instead.")
    ] = False,
    update_readme: Annotated[
        Path | None, typer.Option(help="Rewrite the reference block of this README in place.")
    ] = None,
) -> None:
    """Print the scenario format's JSON Schema (Draft 2020-12) for editors."""
    from app.reference import render_reference, splice

    if update_readme is not None:
        update_readme.write_text(splice(update_readme.read_text(), render_reference()))
        typer.echo(f"updated the format reference in {update_readme}")
    elif markdown:
        typer.echo(render_reference(), nl=False)
    else:
        typer.echo(json.dumps(scenario_json_schema(), indent=2))


def scenario_json_schema() -> dict[str, Any]:
    document = Scenario.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["$id"] = "https://tabletop.invalid/schema/scenario-v1.json"
    return document


# --------------------------------------------------------------------------- dry-run


def _load_or_exit(path: Path) -> tuple[Loaded, Scenario]:
    loaded = load_scenario_file(path)
    for finding in loaded.errors:
        _err(finding.render())
    if loaded.scenario is None or loaded.errors:
        raise _fail(f"{path} does not validate; run `tabletop validate {path}`", 1)
    return loaded, loaded.scenario


def _parse_choices(scenario: Scenario, raw: list[str]) -> dict[str, str]:
    choices: dict[str, str] = {}
    for item in raw:
        decision_id, sep, option_id = item.partition("=")
        if not sep:
            raise _fail(f"--choose takes DECISION=OPTION, got {item!r}")
        if not scenario.has_decision(decision_id):
            known = ", ".join(d.id for d in scenario.decisions) or "none"
            raise _fail(f"there is no decision {decision_id!r}; decisions: {known}")
        options = [o.id for o in scenario.decision(decision_id).options]
        if option_id not in options:
            raise _fail(
                f"decision {decision_id!r} has no option {option_id!r}; "
                f"options: {', '.join(options)}"
            )
        choices[decision_id] = option_id
    return choices


@cli.command("dry-run")
def dry_run(
    path: Annotated[Path, typer.Argument(help="The scenario file.")],
    choose: Annotated[
        list[str] | None,
        typer.Option("--choose", help="DECISION=OPTION, answered the moment it opens. Repeatable."),
    ] = None,
    diligent: Annotated[
        bool, typer.Option(help="Send every expected message as soon as it is expected.")
    ] = False,
    save: Annotated[bool, typer.Option(help="Keep it as a finished drill.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Play a scenario headless at full speed: see a branch before running it live."""
    loaded, scenario = _load_or_exit(path)
    choices = _parse_choices(scenario, choose or [])
    ran_at, clock = time.time(), time.perf_counter()
    result = play(scenario, choices, Communication.diligent if diligent else Communication.silent)
    run = DryRun(ran_at, time.perf_counter() - clock, _dry_run_name(scenario, choices, diligent))
    entries = timeline(filled_scenario(scenario, result.state.variables), result.events)
    drill_id = asyncio.run(_save_dry_run(loaded, result.events, run)) if save else None
    # The scorecard decides every status, as in the report of the saved drill.
    expectations = {
        r.expectation_id: str(r.status) for r in scorecard(scenario, result.events).communications
    }
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "scenario": scenario.id,
                    "version": scenario.version,
                    "choices": choices,
                    "timeline": [e.as_dict() for e in entries],
                    "flags": result.state.flags,
                    "expectations": expectations,
                    "points": result.state.points,
                    "ended": result.state.end_reason,
                    "stalled": result.stalled,
                    "drill_id": drill_id,
                },
                indent=2,
            )
        )
    else:
        typer.echo(
            f"{scenario.title} (version {scenario.version}), dry run"
            + (
                f" choosing {', '.join(f'{k}={v}' for k, v in choices.items())}"
                if choices
                else " with default options"
            )
        )
        for entry in entries:
            typer.echo(f"{entry.offset}  {entry.story_time}  {entry.kind:<20} {entry.text}")
        flags = ", ".join(f"{k}={str(v).lower()}" for k, v in sorted(result.state.flags.items()))
        typer.echo(f"\nFinal flags: {flags or 'none'}")
        met = sum(1 for s in expectations.values() if s in ("on_time", "late"))
        told = ", ".join(f"{k} {v.replace('_', ' ')}" for k, v in expectations.items())
        never = [e.id for e in scenario.expectations if e.id not in expectations]
        typer.echo(
            f"Expectations: {met} of {len(expectations)} met ({told or 'none expected'})"
            + (f"; never expected on this path: {', '.join(never)}" if never else "")
        )
        reason = end_reason(scenario, result.state.end_reason) if result.state.end_reason else "no"
        typer.echo(
            f"Ended: {reason} at {format_duration(result.state.last_scenario_time)} scenario time"
        )
        if drill_id:
            typer.echo(f"Saved as drill {drill_id}")
    if result.stalled or result.runaway:
        raise typer.Exit(1)


@dataclass(frozen=True, slots=True)
class DryRun:
    """When a dry-run really ran, how long it took, and the name its saved drill gets."""

    ran_at: float
    seconds: float
    name: str


def _dry_run_name(scenario: Scenario, choices: dict[str, str], diligent: bool) -> str:
    """A name that tells saved runs apart: the scenario, then the choices and the team."""
    picked = ", ".join(f"{k}={v}" for k, v in choices.items()) or "defaults"
    team = "diligent" if diligent else "silent"
    suffix = f" ({picked}; {team} team)"
    return f"Dry run: {scenario.title}"[: MAX_NAME_CHARS - len(suffix)] + suffix


def _as_really_run(events: list[Event], drill_id: str, run: DryRun) -> list[Event]:
    """The simulated log with its wall times moved onto when the run really happened: the
    engine played it on a fake clock (fixed, so dry-runs are reproducible), and a saved
    drill's report must not date it to that clock or claim its simulated hours."""
    from dataclasses import replace

    first, span = events[0].at, max(events[-1].at - events[0].at, 1e-9)
    scale = run.seconds / span

    def real(at: float) -> float:
        return round(run.ran_at + (at - first) * scale, 6)

    created = replace(
        events[0],
        at=real(events[0].at),
        data={
            **events[0].data,
            "drill_id": drill_id,
            "name": run.name,
            "dry_run": {"seconds": round(run.seconds, 3)},
        },
    )
    return [created, *(replace(e, at=real(e.at)) for e in events[1:])]


async def _save_dry_run(loaded: Loaded, events: list[Event], run: DryRun) -> str:
    from app.drills import new_drill_id
    from app.main import open_service

    drill_id = new_drill_id()
    async with open_service(get_settings()) as service:
        return await service.import_events(
            loaded.source, loaded.file, drill_id, _as_really_run(events, drill_id, run)
        )


# --------------------------------------------------------------------------- db


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (the server also does this when it starts)."""
    from app.main import open_service

    async def run() -> None:
        async with open_service(get_settings()):
            pass

    asyncio.run(run())
    typer.echo(f"database at {_safe_url(get_settings())} is up to date")


@user_cli.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="The user name to sign in with.")],
    role: Annotated[str, typer.Option(help="facilitator or reviewer")] = "facilitator",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an account; the password is asked for (or read from stdin), never an argument."""
    from app.accounts import AccountError, AccountRole, AccountService
    from app.main import open_service

    if role not in {r.value for r in AccountRole}:
        raise _fail("--role is facilitator or reviewer")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def create() -> None:
        async with open_service(get_settings()) as service:
            await AccountService(service.sessions).create_user(name, password, AccountRole(role))

    try:
        asyncio.run(create())
    except AccountError as exc:
        raise _fail(str(exc), 1) from exc
    typer.echo(f"created {role} {name!r}")


# Authors' commands live in their own module; importing it registers them on `cli`.
from app import cli_archive, cli_authoring, cli_reports, cli_scale  # noqa: E402

__all__ = ["cli", "cli_archive", "cli_authoring", "cli_reports", "cli_scale", "main"]


def _quiet_closed_loop(args: threading.ExceptHookArgs) -> None:
    """aiosqlite's worker thread may outlive a command that failed to open the database and
    then find its event loop closed: nothing is lost, so no traceback after the one line."""
    if isinstance(args.exc_value, RuntimeError) and "Event loop is closed" in str(args.exc_value):
        return
    threading.__excepthook__(args)


def main() -> None:
    threading.excepthook = _quiet_closed_loop
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        problem = _database_problem(exc)
        if problem is None:
            raise
        _err(f"error: {problem}")
        sys.exit(2)


def _database_problem(exc: BaseException) -> str | None:
    """One line for a database that cannot be reached, is locked or is full, instead of a
    traceback: every command opens the database, and this is the usual first-run slip."""
    from app.db.session import describe
    from app.drills import StorageUnavailable

    if StorageUnavailable.behind(exc) is None:
        return None
    said = str(exc) if isinstance(exc, StorageUnavailable) else describe(exc)
    return (
        f"the database at {_safe_url(get_settings())} is unavailable ({said}); check "
        "TABLETOP_DATABASE_URL (or TABLETOP_DATA_DIR for SQLite) and that the database is "
        "running, then try again"
    )


if __name__ == "__main__":
    main()
