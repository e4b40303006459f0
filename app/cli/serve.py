"""`tabletop serve`, `tabletop db upgrade`, `tabletop user create` and `tabletop token`:
running a server and its credentials."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from app.authoring.loader import load_scenario_path, scenario_files
from app.cli.common import commands, err, fail
from app.config import get_settings
from app.services.security import FAST_HASHES_FOR_TESTS

if TYPE_CHECKING:
    from app.services.accounts import AccountService

T = TypeVar("T")

cli = commands()
db_cli = commands("The database: migrations.")
cli.add_typer(db_cli, name="db")
user_cli = commands("Facilitator and reviewer accounts.")
cli.add_typer(user_cli, name="user")


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
    from app.web.main import create_app
    from app.web.server import FACTORY, limit_malloc_arenas, run, uvicorn_config

    limit_malloc_arenas()  # before the first database thread
    settings = get_settings()
    problem = _serve_problem(settings, workers)
    if problem is not None:
        raise fail(problem)
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    # Migrations and the first-run lines once, here, before any worker starts.
    for line in asyncio.run(_first_run(settings, base, demo)):
        err(line)
    if os.environ.get(FAST_HASHES_FOR_TESTS) == "1":
        err(
            f"warning: {FAST_HASHES_FOR_TESTS}=1 makes password hashes cheap to crack; it is "
            "for test suites only: unset it for a real drill"
        )
    fan_out = f"; notices: {_safe_redis(settings)}" if settings.redis_url else ""
    processes = f"; {workers} workers" if workers > 1 else ""
    err(f"Tabletop on {base}  (database: {safe_url(settings)}{fan_out}{processes})")
    for line in _where_phones_join(settings.public_url, host, port):
        err(line)
    if workers > 1:
        # Each worker builds its own app from the environment it inherits.
        run(
            uvicorn_config(
                FACTORY, host, port, workers=workers, trusted_proxies=settings.trusted_proxies
            )
        )
    else:
        if not settings.clock_worker_id:
            worker_id = serve_worker_id(host, port)
            settings = settings.model_copy(update={"clock_worker_id": worker_id})
        run(
            uvicorn_config(
                create_app(settings), host, port, trusted_proxies=settings.trusted_proxies
            )
        )


def serve_worker_id(host: str, port: int) -> str:
    """A single server's clock name: the same after a restart on this machine, interface
    and port (no other live process can listen there), so the restarted server renews its
    own leases at once; several workers keep a new name each (one may die and be restarted
    alone while the others live)."""
    where = f"{socket.gethostname()}|{host}"
    digest = hashlib.sha256(where.encode()).hexdigest()[:24]
    return f"serve:{digest}:{port}"


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
    from app.engine import commands as c
    from app.services.accounts import AccountService
    from app.services.drills import new_drill_id
    from app.services.runtime import open_service
    from app.services.security import format_join_code

    lines: list[str] = []
    async with open_service(settings) as service:
        accounts = AccountService(service.sessions)
        if await accounts.user_count() == 0:
            token = await accounts.new_setup_token()
            lines.append(
                f"No account yet. Open this one-time link to choose the first account's "
                f"name and password (an admin; valid 24 hours):\n  {base}/setup#token={token}"
            )
        if demo:
            path = next(
                (p for p in scenario_files([settings.scenarios_dir]) if load_scenario_path(p).ok),
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


def safe_url(settings: Any) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url()).render_as_string(hide_password=True)


# --------------------------------------------------------------------------- validate


# --------------------------------------------------------------------------- db


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (the server also does this when it starts)."""
    from app.services.runtime import open_service

    async def run() -> None:
        async with open_service(get_settings()):
            pass

    asyncio.run(run())
    typer.echo(f"database at {safe_url(get_settings())} is up to date")


@user_cli.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="The user name to sign in with.")],
    role: Annotated[str, typer.Option(help="admin, facilitator or reviewer")] = "facilitator",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an account; the password is asked for (or read from stdin), never an argument."""
    from app.services.accounts import AccountError, AccountRole, AccountService
    from app.services.runtime import open_service

    if role not in {r.value for r in AccountRole}:
        raise fail("--role is admin, facilitator or reviewer")
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
        raise fail(str(exc), 1) from exc
    typer.echo(f"created {role} {name!r}")


async def _announcing(change: Callable[[AccountService], Awaitable[T]]) -> T:
    """Run an account change that may end credentials, then tell a running server:
    through Redis when there is one, so every worker closes the sockets at once (4001).
    Without Redis a running server is not told; its sockets stay open until their next
    command, which is refused (the credential is gone from the database) and closes them."""
    from app.realtime.bus import publish_revocation
    from app.services.accounts import AccountService
    from app.services.runtime import open_service

    settings = get_settings()
    announced: list[str] = []

    async def collect(keys: list[str]) -> None:
        announced.extend(keys)

    async with open_service(settings) as service:
        result = await change(AccountService(service.sessions, announce=collect))
    if settings.redis_url and announced:
        await publish_revocation(settings.redis_url, announced)
    return result


@user_cli.command("list")
def user_list() -> None:
    """The accounts: name, role, active or disabled."""
    from app.services.accounts import AccountService
    from app.services.runtime import open_service

    async def listed() -> list[tuple[str, str, bool]]:
        async with open_service(get_settings()) as service:
            users = await AccountService(service.sessions).users()
            return [(u.username, u.role, u.disabled_at is not None) for u in users]

    for name, role, disabled in asyncio.run(listed()):
        typer.echo(f"{name}\t{role}\t{'disabled' if disabled else 'active'}")


@user_cli.command("disable")
def user_disable(name: Annotated[str, typer.Argument(help="The account to disable.")]) -> None:
    """Disable an account: it cannot sign in, and its sessions, API tokens and open
    sockets stop (see `user password` for how a running server hears it)."""
    _set_disabled(name, True)


@user_cli.command("enable")
def user_enable(name: Annotated[str, typer.Argument(help="The account to enable.")]) -> None:
    """Enable a disabled account again (its old sessions stay ended)."""
    _set_disabled(name, False)


def _set_disabled(name: str, disabled: bool) -> None:
    from app.services.accounts import AccountError
    from app.services.audit import SHELL

    try:
        asyncio.run(_announcing(lambda accounts: accounts.set_disabled(name, disabled, SHELL)))
    except AccountError as exc:
        raise fail(str(exc), 1) from exc
    typer.echo(f"{name!r} is {'disabled' if disabled else 'enabled'}")


@user_cli.command("password")
def user_password(
    name: Annotated[str, typer.Argument(help="The account whose password changes.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Set an account's password; every session of the account ends, and the websockets
    opened with them close (4001) on every worker that hears it through Redis. Without
    Redis a running server is not told: its sockets stay open until their next command,
    which is refused (the session is gone from the database) and closes them."""
    from app.services.accounts import AccountError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        asyncio.run(_announcing(lambda accounts: accounts.set_password(name, password)))
    except AccountError as exc:
        raise fail(str(exc), 1) from exc
    typer.echo(f"password of {name!r} changed; its sessions have ended")


token_cli = commands("API tokens: bearer credentials for scripts and integrations.")
cli.add_typer(token_cli, name="token")


@token_cli.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="A name for the token (what it is for).")],
    user: Annotated[str, typer.Option(help="The account it acts as (its role, its drills).")],
) -> None:
    """Make a bearer token; prints the secret once (only its hash is stored)."""
    from app.services.accounts import AccountError, AccountService
    from app.services.runtime import open_service

    async def create() -> str:
        async with open_service(get_settings()) as service:
            return await AccountService(service.sessions).create_api_token(name, user)

    try:
        secret = asyncio.run(create())
    except AccountError as exc:
        raise fail(str(exc), 1) from exc
    typer.echo(secret)
    typer.echo(
        f"token {name!r} acts as {user!r}: send it as 'Authorization: Bearer <token>'; "
        "it is shown only now",
        err=True,
    )


@token_cli.command("list")
def token_list() -> None:
    """The tokens: name, account, made, revoked (never their secrets)."""
    from datetime import UTC, datetime

    from app.services.accounts import AccountService
    from app.services.runtime import open_service

    async def listed() -> list[tuple[str, str, float, float | None]]:
        async with open_service(get_settings()) as service:
            tokens = await AccountService(service.sessions).api_tokens()
            return [(t.name, user, t.created_at, t.revoked_at) for t, user in tokens]

    def when(at: float) -> str:
        return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")

    for name, user, created, revoked in asyncio.run(listed()):
        state = f"revoked {when(revoked)}" if revoked is not None else "active"
        typer.echo(f"{name}\t{user}\tmade {when(created)}\t{state}")


@token_cli.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: from now on every request with it is refused, and the websockets
    opened with it close (4001) on every worker that hears it through Redis (without
    Redis: at their next command, which is refused)."""
    if not asyncio.run(_announcing(lambda accounts: accounts.revoke_api_token(name))):
        raise fail(f"there is no active token called {name!r}; `tabletop token list` shows them", 1)
    typer.echo(f"revoked {name!r}")
