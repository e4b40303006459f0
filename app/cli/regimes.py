"""`tabletop regimes list|show|schema`: the notification regimes shipped with Tabletop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.common import commands, fail, update_readme_block
from app.regimes.library import RegimeError, regime, regimes
from app.regimes.model import Regime, regime_json_schema
from app.regimes.reference import (
    DISCLAIMER,
    END,
    START,
    render_regime,
    render_table,
    when,
)

cli = commands()
regimes_cli = commands("Notification regimes: who must be told, by when (drill material).")
cli.add_typer(regimes_cli, name="regimes")


def _summary(found: Regime) -> dict[str, Any]:
    return {
        "id": found.id,
        "name": found.name,
        "title": found.title,
        "version": found.version,
        "as_of": found.as_of,
        "jurisdiction": found.jurisdiction,
        "duties": [
            {"id": d.id, "title": d.title, "deadline": when(found, d.id), "source": d.source}
            for d in found.duties
        ],
    }


@regimes_cli.command("list")
def list_regimes(
    as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON.")] = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the README's table of duties.")
    ] = False,
    update_readme: Annotated[
        Path | None, typer.Option(help="Rewrite the regimes table of this README in place.")
    ] = None,
) -> None:
    """Every regime with its duties and deadlines."""
    if update_readme is not None:
        update_readme_block(update_readme, render_table(), START, END, "regimes table")
        return
    if markdown:
        typer.echo(render_table(), nl=False)
        return
    if as_json:
        typer.echo(json.dumps([_summary(r) for r in regimes().values()], indent=2))
        return
    for found in regimes().values():
        count = len(found.duties)
        duties = f"{count} {'duty' if count == 1 else 'duties'}"
        typer.echo(
            f"{found.id:<8} {found.name:<9} {duties:<9} {found.jurisdiction} "
            f"(v{found.version}, {found.as_of})"
        )
    typer.echo(DISCLAIMER, err=True)


@regimes_cli.command("show")
def show_regime(
    name: Annotated[str, typer.Argument(help="The regime's id, e.g. gdpr or dora.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print its full data as JSON.")] = False,
) -> None:
    """One regime in full: its events, duties, deadlines, form fields and sources."""
    try:
        found = regime(name)
    except RegimeError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(found.model_dump_json(indent=2))
    else:
        typer.echo(render_regime(found), nl=False)


@regimes_cli.command("schema")
def regimes_schema() -> None:
    """The regime format's JSON Schema (Draft 2020-12): every shipped regime validates."""
    typer.echo(json.dumps(regime_json_schema(), indent=2))
