"""`tabletop report`, `tabletop report-schema` and `tabletop drills`: the reviewer's shell."""

from __future__ import annotations

import asyncio
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import commands, fail
from app.config import get_settings


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"
    md = "md"
    json = "json"
    csv = "csv"


class CsvTable(StrEnum):
    timeline = "timeline"
    plan = "plan"


cli = commands()


@cli.command()
def report(
    drill_id: Annotated[str, typer.Argument(help="The drill's id (see `tabletop drills`).")],
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="The export.")] = (
        ReportFormat.html
    ),
    table: Annotated[
        CsvTable, typer.Option(help="For --format csv: the timeline or the improvement plan.")
    ] = CsvTable.timeline,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Export a drill's after-action report: the same document the browser downloads."""
    from app.reports import render
    from app.services.drills import DrillNotFound
    from app.services.reviews import ReviewService
    from app.services.runtime import open_service

    if format is ReportFormat.pdf and output is None and sys.stdout.isatty():
        raise fail("a PDF is binary: write it to a file with -o report.pdf (or redirect stdout)")

    async def build() -> str | bytes:
        async with open_service(get_settings()) as service:
            reviews = ReviewService(service.sessions, service)
            built, scenario = await reviews.report_with_scenario(drill_id)
        if format is ReportFormat.pdf:
            return render.render_pdf(built, scenario)
        if format is ReportFormat.html:
            return render.render_html(built, scenario)
        if format is ReportFormat.md:
            return render.render_markdown(built)
        if format is ReportFormat.json:
            return render.render_json(built)
        return render.render_csv(built, table.value)

    try:
        body = asyncio.run(build())
    except DrillNotFound:
        raise fail(f"there is no drill {drill_id!r}; `tabletop drills` lists them", 1) from None
    _write(body, output)


def _write(body: str | bytes, output: Path | None) -> None:
    if output is not None:
        if isinstance(body, bytes):
            output.write_bytes(body)
        else:
            output.write_text(body, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)
    elif isinstance(body, bytes):
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        typer.echo(body, nl=not body.endswith("\n"))


@cli.command("report-schema")
def report_schema_command(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
) -> None:
    """Print the JSON Schema (Draft 2020-12) of `tabletop report --format json`."""
    from app.reports.model import report_schema

    _write(json.dumps(report_schema(), indent=2) + "\n", output)


@cli.command()
def drills(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the drills in the database, newest first."""
    from app.services.runtime import open_service

    async def listed() -> list[dict[str, str]]:
        async with open_service(get_settings()) as service:
            rows = await service.list_drills()
        return [
            {
                "id": d.id,
                "name": d.name,
                "status": d.status,
                "created": d.created_at.isoformat(timespec="minutes") if d.created_at else "",
            }
            for d in rows
        ]

    rows = asyncio.run(listed())
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no drills yet", err=True)
    for row in rows:
        typer.echo(f"{row['id']}  {row['status']:<8} {row['created']:<17} {row['name']}")
