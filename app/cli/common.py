"""What every command module shares: messages to stderr, failing with a clear line, and
loading a scenario file or a `--choose` list the way every authoring command does."""

from __future__ import annotations

from pathlib import Path

import typer

from app.authoring.loader import Loaded, load_scenario_path
from app.engine.scenario import Scenario


def commands(help_text: str | None = None) -> typer.Typer:
    """A group of commands; `app.cli.main` merges its commands into `tabletop`, or adds it
    under a name."""
    return typer.Typer(help=help_text, no_args_is_help=True)


def err(message: str) -> None:
    typer.echo(message, err=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    err(f"error: {message}")
    return typer.Exit(code)


def load_or_exit(path: Path) -> tuple[Loaded, Scenario]:
    loaded = load_scenario_path(path)
    for finding in loaded.errors:
        err(finding.render())
    if loaded.scenario is None or loaded.errors:
        raise fail(f"{path} does not validate; run `tabletop validate {path}`", 1)
    return loaded, loaded.scenario


def parse_choices(scenario: Scenario, raw: list[str]) -> dict[str, str]:
    choices: dict[str, str] = {}
    for item in raw:
        decision_id, sep, option_id = item.partition("=")
        if not sep:
            raise fail(f"--choose takes DECISION=OPTION, got {item!r}")
        if not scenario.has_decision(decision_id):
            known = ", ".join(d.id for d in scenario.decisions) or "none"
            raise fail(f"there is no decision {decision_id!r}; decisions: {known}")
        options = [o.id for o in scenario.decision(decision_id).options]
        if option_id not in options:
            raise fail(
                f"decision {decision_id!r} has no option {option_id!r}; "
                f"options: {', '.join(options)}"
            )
        choices[decision_id] = option_id
    return choices


def update_readme_block(readme: Path, block: str, start: str, end: str, what: str) -> None:
    """Replace the README's generated block (from its `start` marker to its `end` marker)
    with `block`, which carries both markers; a missing marker is a clear error."""
    try:
        text = readme.read_text()
    except OSError as exc:
        raise fail(f"cannot read {readme}: {exc.strerror or exc}") from None
    head, found, rest = text.partition(start)
    if not found:
        raise fail(f"{readme} has no {what} block (its first line is: {start})")
    _, closed, tail = rest.partition(end)
    if not closed:
        raise fail(f"the {what} block in {readme} is not closed (its last line is: {end})")
    readme.write_text(head + block.rstrip("\n") + tail)
    typer.echo(f"updated the {what} in {readme}")
