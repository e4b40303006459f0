"""The `tabletop` command: built here from one module per group of commands.

Each module makes its own `typer.Typer` (`app.cli.common.commands`) and imports nothing from
this one, so there is no cycle: this module merges their commands into `tabletop`.
"""

from __future__ import annotations

import sys
import threading

import typer

from app.cli import archive, authoring, regimes, reports, scale, serve
from app.cli.common import err
from app.config import get_settings

cli = typer.Typer(
    name="tabletop",
    help="Tabletop: live incident-response drills played from branching scenarios.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for group in (serve.cli, authoring.cli, regimes.cli, reports.cli, archive.cli, scale.cli):
    cli.registered_commands.extend(group.registered_commands)
    cli.registered_groups.extend(group.registered_groups)

__all__ = ["cli", "main"]


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
        err(f"error: {problem}")
        sys.exit(2)


def _database_problem(exc: BaseException) -> str | None:
    """One line for a database that cannot be reached, is locked or is full, instead of a
    traceback: every command opens the database, and this is the usual first-run slip."""
    from app.db.session import describe
    from app.services.drills import StorageUnavailable

    if StorageUnavailable.behind(exc) is None:
        return None
    said = str(exc) if isinstance(exc, StorageUnavailable) else describe(exc)
    return (
        f"the database at {serve.safe_url(get_settings())} is unavailable ({said}); check "
        "TABLETOP_DATABASE_URL (or TABLETOP_DATA_DIR for SQLite) and that the database is "
        "running, then try again"
    )


if __name__ == "__main__":
    main()
