"""`tabletop export-drill` and `tabletop import-drill`: one drill, backed up and restored."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.common import commands, fail
from app.config import get_settings

cli = commands()


@cli.command("export-drill")
def export_drill(
    drill_id: Annotated[str, typer.Argument(help="The drill's id (see `tabletop drills`).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write one drill (scenario text, log, review, improvement items) as one JSON file.
    Participants' secrets are left out."""
    from app.services import archive
    from app.services.drills import DrillNotFound
    from app.services.reviews import ReviewService
    from app.services.runtime import open_service

    async def run() -> dict[str, Any]:
        async with open_service(get_settings()) as service:
            reviews = ReviewService(service.sessions, service)
            return await archive.export_drill(service, reviews, drill_id)

    try:
        data = asyncio.run(run())
    except DrillNotFound:
        raise fail(f"there is no drill {drill_id!r}; `tabletop drills` lists them", 1) from None
    body = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(body, nl=False)
        return
    output.write_text(body, encoding="utf-8")
    typer.echo(f"wrote {output}", err=True)


@cli.command("import-drill")
def import_drill(
    file: Annotated[Path, typer.Argument(help="A file written by `tabletop export-drill`.")],
    as_new: Annotated[
        bool, typer.Option("--as-new", help="Import a copy under a fresh drill id.")
    ] = False,
) -> None:
    """Restore a drill exported with `tabletop export-drill` into this database, in full
    or not at all."""
    from app.services import archive
    from app.services.reviews import ReviewService
    from app.services.runtime import open_service
    from app.services.security import format_join_code

    data = _read_json(file)

    async def run() -> tuple[str, str]:
        async with open_service(get_settings()) as service:
            reviews = ReviewService(service.sessions, service)
            drill_id = await archive.import_drill(service, reviews, data, as_new=as_new)
            return drill_id, format_join_code(service.join_code(drill_id))

    try:
        drill_id, code = asyncio.run(run())
    except archive.ArchiveError as exc:
        raise fail(str(exc)) from None
    people = len(data.get("participants") or [])
    typer.echo(f"Imported drill {drill_id}")
    if people:
        typer.echo(
            f"{people} participant(s) restored without their old links (tokens are never "
            f"exported); they rejoin with the join code {code}"
        )


def _read_json(file: Path) -> dict[str, Any]:
    """The file as a JSON object, or a one-line error (exit 2) saying what is wrong."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise fail(f"{file} is not JSON ({where}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise fail(f"{file} is not a Tabletop drill export (expected a JSON object)")
    return data
