"""Scenario authors' commands.

- `tabletop validate`, `tabletop schema`: check files, and the format for editors.
- `tabletop protocol`: the websocket protocol's reference (the README's tables).
- `tabletop dry-run SCENARIO`: play a branch headless before running it live.

- `tabletop scenarios list`: the library at a glance, broken files included.
- `tabletop new NAME`: a commented starter scenario that validates as written.
- `tabletop graph SCENARIO`: the branch graph as a standalone SVG.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from app.authoring.graph import branch_graph, render_svg, taken_path
from app.authoring.loader import SCENARIO_SUFFIXES, Loaded, load_scenario_path, scenario_files
from app.cli.common import (
    commands,
    err,
    fail,
    load_or_exit,
    parse_choices,
    update_readme_block,
)
from app.config import get_settings
from app.engine.commands import MAX_NAME_CHARS
from app.engine.durations import format_duration
from app.engine.events import Event
from app.engine.filled import filled_scenario
from app.engine.regulatory import RegimeInPlay, clock_summary, regimes_in_play
from app.engine.scenario import Scenario
from app.engine.scoring import scorecard
from app.engine.simulate import Communication, play
from app.engine.timeline import end_reason, timeline

cli = commands()
scenarios_cli = commands("The scenario library.")
cli.add_typer(scenarios_cli, name="scenarios")

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
"""The same rule as the format's `Id` (app/engine/scenario.py)."""


def _default_dir() -> Path:
    return get_settings().scenarios_dir


def _new_scenario_dir() -> Path:
    """Where `new` writes: TABLETOP_SCENARIOS_DIR when set, else ./scenarios (never into
    the library shipped inside an installed Tabletop)."""
    settings = get_settings()
    return (
        settings.scenarios_dir
        if "scenarios_dir" in settings.model_fields_set
        else Path("scenarios")
    )


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
        raise fail("no .yaml or .yml files found in " + ", ".join(map(str, paths)))
    results: list[dict[str, Any]] = []
    failed = False
    for path in files:
        loaded = load_scenario_path(path)
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
        err(summary if not failed else f"{summary}; fix the errors above")
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
    from app.authoring.reference import END, START, render_reference

    if update_readme is not None:
        update_readme_block(update_readme, render_reference(), START, END, "format reference")
    elif markdown:
        typer.echo(render_reference(), nl=False)
    else:
        typer.echo(json.dumps(scenario_json_schema(), indent=2))


@cli.command()
def protocol(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the protocol reference in Markdown.")
    ] = False,
    update_readme: Annotated[
        Path | None, typer.Option(help="Rewrite the protocol block of this README in place.")
    ] = None,
    asyncapi: Annotated[
        bool, typer.Option("--asyncapi", help="Print the AsyncAPI 3.0 document instead.")
    ] = False,
) -> None:
    """The websocket protocol's reference: messages, error codes, close codes."""
    from app.realtime.asyncapi import asyncapi_json
    from app.realtime.reference import END, START, render_reference

    if asyncapi:
        typer.echo(asyncapi_json(), nl=False)
    elif update_readme is not None:
        update_readme_block(update_readme, render_reference(), START, END, "protocol reference")
    else:
        typer.echo(render_reference(), nl=False)


def scenario_json_schema() -> dict[str, Any]:
    document = Scenario.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["$id"] = "https://tabletop.invalid/schema/scenario-v1.json"
    return document


# --------------------------------------------------------------------------- dry-run


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
    loaded, scenario = load_or_exit(path)
    choices = parse_choices(scenario, choose or [])
    ran_at, clock = time.time(), time.perf_counter()
    result = play(scenario, choices, Communication.diligent if diligent else Communication.silent)
    run = DryRun(ran_at, time.perf_counter() - clock, _dry_run_name(scenario, choices, diligent))
    entries = timeline(filled_scenario(scenario, result.state.variables), result.events)
    drill_id = asyncio.run(_save_dry_run(loaded, result.events, run)) if save else None
    # The scorecard decides every status, as in the report of the saved drill.
    expectations = {
        r.expectation_id: str(r.status) for r in scorecard(scenario, result.events).communications
    }
    shown = filled_scenario(scenario, result.state.variables)
    clocks = [
        {**clock_summary(shown, use.use, clock), "complete": _completeness(use, clock.duty.id)}
        for use in regimes_in_play(shown, result.events, result.state.last_scenario_time)
        for clock in use.clocks
    ]
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
                    "regulatory_clocks": clocks,
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
        if clocks:
            typer.echo("Regulatory clocks (story time):")
            for row in clocks:
                typer.echo(f"  {_clock_line(row)}")
        reason = end_reason(scenario, result.state.end_reason) if result.state.end_reason else "no"
        typer.echo(
            f"Ended: {reason} at {format_duration(result.state.last_scenario_time)} scenario time"
        )
        if drill_id:
            typer.echo(f"Saved as drill {drill_id}")
    if result.stalled or result.runaway:
        raise typer.Exit(1)


def _completeness(use: RegimeInPlay, duty_id: str) -> str | None:
    """How complete the notice that filed the duty was ("8 of 8 required fields
    complete"); None before it is filed."""
    complete = use.completeness.get(duty_id)
    return None if complete is None else str(complete)


def _clock_line(row: dict[str, str | None]) -> str:
    state = row["state"]
    if state in ("filed", "late"):
        when = f"{state} {row['filed']} (due {row['due']}), {row['complete']}"
    elif state in ("running", "missed"):
        when = f"{state}, due {row['due'] or 'without undue delay (no target set)'}"
    else:
        when = str(state)
    return f"{row['title']} -> {row['owed_to']}: {when}"


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
    from app.services.drills import new_drill_id
    from app.services.runtime import open_service

    drill_id = new_drill_id()
    async with open_service(get_settings()) as service:
        return await service.import_events(
            loaded.source,
            loaded.file,
            drill_id,
            _as_really_run(events, drill_id, run),
            assets=loaded.assets,
        )


# --------------------------------------------------------------------------- scenarios list


@scenarios_cli.command("list")
def list_scenarios(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="The library folder (default: TABLETOP_SCENARIOS_DIR)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the scenarios in the library with their size; broken files show their error."""
    folder = directory or _default_dir()
    if not folder.is_dir():
        raise fail(
            f"there is no scenario folder at {folder}; pass --dir or set TABLETOP_SCENARIOS_DIR"
        )
    entries = _entries(list(scenario_files([folder])))
    if as_json:
        typer.echo(json.dumps({"dir": str(folder), "scenarios": entries}, indent=2))
        return
    if not entries:
        err(f"no scenarios in {folder}; start one with `tabletop new NAME --dir {folder}`")
        return
    valid = [e for e in entries if e["valid"]]
    broken = [e for e in entries if not e["valid"]]
    if valid:
        _print_table(valid)
    if broken:
        if valid:
            typer.echo()
        typer.echo(f"{len(broken)} file(s) could not be loaded:")
        for entry in broken:
            typer.echo(f"  {entry['error']}")
    err(f"{len(valid)} scenario(s) in {folder}")


def _entries(files: list[Path]) -> list[dict[str, Any]]:
    """Load and check every file; counting paths reuses the validator's exploration."""
    return [_entry(path) for path in files]


def _entry(path: Path) -> dict[str, Any]:
    """One file of the library: what it is and how big, or its first error."""
    loaded = load_scenario_path(path)
    scenario = loaded.scenario
    if scenario is None or loaded.errors or loaded.counts is None:
        first = loaded.errors[0] if loaded.errors else None
        return {
            "file": loaded.file,
            "valid": False,
            "error": first.render() if first else f"{loaded.file}: cannot be loaded",
            "errors": len(loaded.errors),
        }
    return {
        "file": loaded.file,
        "valid": True,
        "id": scenario.id,
        "title": scenario.title,
        "version": scenario.version,
        "duration": format_duration(scenario.duration),
        "difficulty": str(scenario.difficulty),
        "roles": list(scenario.roles),
        "tags": list(scenario.tags),
        "warnings": len(loaded.warnings),
        "counts": loaded.counts.as_dict(),
    }


_COLUMNS = ("ID", "TITLE", "DURATION", "LEVEL", "ROLES", "INJECTS", "DECISIONS", "EXPECT", "PATHS")
_TITLE_WIDTH = 46


def _print_table(entries: list[dict[str, Any]]) -> None:
    rows = [
        (
            e["id"],
            _shorten(e["title"], _TITLE_WIDTH),
            e["duration"],
            e["difficulty"],
            str(len(e["roles"])),
            str(e["counts"]["injects"]),
            str(e["counts"]["decisions"]),
            str(e["counts"]["expectations"]),
            f"{e['counts']['paths']}{'' if e['counts']['paths_complete'] else '+'}",
        )
        for e in entries
    ]
    widths = [max(len(row[i]) for row in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]
    numeric = range(4, len(_COLUMNS))  # counts read best right-aligned
    for row in [_COLUMNS, *rows]:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        typer.echo("  ".join(cells).rstrip())


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


# --------------------------------------------------------------------------- new


@cli.command()
def new(
    name: Annotated[str, typer.Argument(help="The new scenario's id, e.g. phish-to-payroll.")],
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Where to write NAME.yaml (default: TABLETOP_SCENARIOS_DIR, else ./scenarios).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Start a scenario: write NAME.yaml, a commented example that validates as written."""
    for suffix in SCENARIO_SUFFIXES:  # `new phish.yaml` means the file, so the id is phish
        name = name.removesuffix(suffix)
    if not ID_PATTERN.match(name):
        raise fail(
            f"{name!r} cannot be a scenario id: use lower-case letters, digits, '-' and '_', "
            "starting with a letter or digit, up to 64 characters (e.g. phish-to-payroll)"
        )
    path = (directory or _new_scenario_dir()) / f"{name}.yaml"
    if path.exists() and not force:
        raise fail(
            f"{path} already exists; pass --force to overwrite it, or choose another name", 1
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(starter_scenario(name), encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror}", 1) from exc
    typer.echo(f"Wrote {path}: a starter scenario with the id {name!r}.\n")
    typer.echo("Next steps:")
    steps = [
        (f"tabletop validate --strict {path}", "check it; fix what it reports"),
        (f"tabletop dry-run {path} --choose contain=revoke", "play one branch"),
        (f"tabletop dry-run {path} --choose contain=watch", "and the other"),
        (f"tabletop graph {path} -o {name}.svg", "see the branches as a picture"),
    ]
    width = max(len(command) for command, _ in steps)
    for command, why in steps:
        typer.echo(f"  {command.ljust(width)}   {why}")
    typer.echo("\nThen replace the story with yours; the comments explain each key.")


# --------------------------------------------------------------------------- graph


@cli.command()
def graph(
    path: Annotated[Path, typer.Argument(help="The scenario file.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the SVG here, not to stdout.")
    ] = None,
    choose: Annotated[
        list[str] | None,
        typer.Option(
            "--choose",
            help="DECISION=OPTION: highlight the path a dry-run with these choices takes. "
            "Repeatable.",
        ),
    ] = None,
) -> None:
    """Draw the scenario's branches as a standalone SVG (browser, PDF, HTML export)."""
    _, scenario = load_or_exit(path)
    choices = parse_choices(scenario, choose or [])
    title = scenario.title
    highlight: set[str] | None = None
    if choices:
        highlight = taken_path(scenario, play(scenario, choices).events)
        title += " · " + ", ".join(f"{d}={o}" for d, o in choices.items())
    svg = render_svg(branch_graph(scenario), highlight, title=title)
    if output is None:
        typer.echo(svg, nl=False)
        return
    try:
        output.write_text(svg, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror}", 1) from exc
    err(f"wrote {output}")


# --------------------------------------------------------------------------- the starter


def starter_scenario(scenario_id: str) -> str:
    """The starter text for an id: the template with its id and a title made from it."""
    title = scenario_id.replace("-", " ").replace("_", " ").strip().capitalize()
    return STARTER.replace("__ID__", scenario_id).replace("__TITLE__", title)


STARTER = """\
# A Tabletop scenario. Each key is explained in the comment above it; the full format is
# in the README ("Scenario format reference") and `tabletop schema --markdown`.
# Texts may use {{variables}}; durations are written 15m, 1h30m, 72h, 2d.
format: 1

# The id names the scenario in the library: lower-case letters, digits, '-' and '_'.
id: __ID__
title: __TITLE__
# Two or three sentences: what happens, and what the drill tests.
summary: >-
  A finance mailbox is taken over and used to divert a supplier payment. Tests triage of
  a sign-in alert, a containment decision during the payment run, and telling legal in time.
version: "1.0"          # bump it when you change the story
duration: 30m           # about how long the drill takes in real time
difficulty: introductory  # introductory, intermediate or advanced
tags: [starter, business-email-compromise]

# Values set per drill, used in texts as {{name}}, so one scenario fits many teams.
variables:
  org_name:
    default: Example Ltd
    description: The organisation's name as staff know it.

# The story's clock: when the incident begins in the story, in which time zone, how many
# scenario minutes pass per real minute, and when the drill ends by itself.
clock:
  start: 2026-06-05T09:00:00
  timezone: Europe/London
  speed: 6
  end: 4h

# The roles in play. Built-in roles need nothing (incident_manager, lead_investigator,
# soc_analyst, legal, communications, hr, executive, it_operations); a role of your own
# needs a `title`. `backup` receives a role's injects when it is unavailable.
roles:
  incident_manager: {required: true, backup: executive}
  soc_analyst: {}
  legal: {}
  executive: {}

# People outside the team that messages can be addressed to.
parties:
  supplier:
    name: Northwind Supplies, accounts team
    kind: vendor

# What the drill evaluates, each in a NIST SP 800-61 phase. Options and expectations
# score points towards them.
objectives:
  contain:
    title: Contain the compromised mailbox before money moves
    phase: containment
  inform:
    title: Bring legal in early
    phase: detection_analysis

# What arrives, in any order. Timing: `at` an offset from the start, or `after` an event
# (an inject, a decision, an option, a message) plus a `delay`. `to` takes role ids or
# `all`. `opens` puts a decision; `ends_drill` ends the drill when the inject arrives.
injects:
  - id: alert
    title: Impossible travel on a finance mailbox at {{org_name}}
    body: |
      Sign-in to **ap.clerk@** from 203.0.113.7 (Netherlands), four minutes after one
      from the London office. MFA was approved on the clerk's phone.
    channel: siem
    severity: medium
    to: [soc_analyst, incident_manager]
    at: 0m
    attack: [T1078]
  - id: forwarding-rule
    title: A new inbox rule forwards "invoice" mails outside
    body: |
      The rule was created from 203.0.113.7 ten minutes ago. Today's supplier payment
      run closes at 11:00.
    channel: edr
    severity: high
    to: [soc_analyst, incident_manager]
    after: {inject: alert}
    delay: 15m
    attack: [T1114.003]
    opens: contain
    questions:
      - Who can approve revoking a finance user's sessions during the payment run?
  # `when` makes an inject conditional: checked when it falls due, skipped if false.
  # This one pushes a team that has not told legal yet.
  - id: legal-asks
    title: Legal has heard a rumour about a finance mailbox
    body: Is there anything I should know before the payment run closes?
    channel: chat
    to: [legal, executive]
    after: {inject: forwarding-rule}
    delay: 30m
    when: {not: {sent: {to: legal}}}
  - id: contained
    title: Sessions revoked, the rule removed, the payment run safe
    body: No further sign-ins from 203.0.113.7. The supplier's bank details are unchanged.
    channel: ticket
    to: [all]
    after: {option: contain.revoke}
    delay: 20m
    ends_drill: true
  - id: money-gone
    title: The supplier asks why it was not paid
    body: |
      Today's payment went to a new account in another country. The bank says a recall
      is unlikely to succeed.
    channel: phone
    severity: critical
    sender: Northwind Supplies, accounts team
    to: [all]
    after: {option: contain.watch}
    delay: 1h
    ends_drill: true

# Questions put to roles, opened by an inject's `opens`. Each option can `set` flags
# (for later `when` conditions), score objectives, branch the story (injects that come
# `after` it, `triggers`, `suppresses`) or end the drill. `default` is taken when
# nobody answers within `time_limit`. The `title` names the decision in the scores and
# the report; without one, the prompt's first sentence does.
decisions:
  - id: contain
    title: Revoke the sessions now?
    prompt: Revoke the mailbox's sessions now, in the middle of the payment run?
    to: [incident_manager]
    time_limit: 20m
    default: watch
    options:
      - id: revoke
        label: Revoke sessions and reset the password now
        set: {mailbox_contained: true}
        score: {contain: 10}
        feedback: Containing first costs an hour of payments; a diverted payment costs more.
      - id: watch
        label: Watch the mailbox until the payment run is over
        score: {contain: -5}
        feedback: The attacker keeps access while the payments that matter go out.

# Communications the team should make: who tells whom, within how long of what.
expectations:
  - id: tell-legal
    title: Tell legal within 30 minutes of the forwarding rule
    from: [incident_manager, executive]
    to: legal
    after: {inject: forwarding-rule}
    within: 30m
    points: 10
    objective: inform
    rationale: Legal decides on notification and on recalling payments; every hour counts.

# Drawer statements: pre-approved texts a role can send as written or adapt.
statements:
  - id: supplier-holding-line
    title: Holding line for the supplier
    body: |
      {{org_name}} is looking into an issue with one of its mailboxes. Until we call you
      back, please do not act on any request to change bank details sent by email.
    roles: [incident_manager, executive]
    to: [supplier]
"""
