"""Accounts in the browser: the admin's accounts page (create with a one-time link,
disable, enable, reset, change role), API tokens, the audit log, and every user's own
password.

Each change goes through the accounts service, which writes its audit entry in the same
transaction and ends the sessions and sockets a change makes stale. A secret (a link, a
token) is shown once, in the page that answers the form, and never stored in clear.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import RedirectResponse, Response

from app.db.models import User
from app.services.accounts import AccountError, AccountRole, Link
from app.web.auth import is_admin, signed_in
from app.web.deps import SESSION_COOKIE, accounts, set_secret_cookie
from app.web.forms import check_csrf, error_page, render, to_login
from app.web.signin import actor

router = APIRouter(tags=["pages"], include_in_schema=False)

Field80 = Annotated[str, Form(max_length=80)]
Csrf = Annotated[str, Form(max_length=200)]
AUDIT_PAGE = 100


async def _admin(request: Request, csrf: str | None = None) -> User | Response:
    """The signed-in admin, or the page that says why not. A form's post (`csrf` given)
    must carry its CSRF token first."""
    if csrf is not None:
        check_csrf(request, csrf)
    user = await signed_in(request)
    if user is None:
        return to_login(request)
    if not is_admin(user):
        return error_page(request, 403, "only an admin can manage accounts; ask one of them")
    return user


def _public_base(request: Request) -> str:
    configured: str = request.app.state.settings.public_url
    return configured or str(request.base_url).rstrip("/")


async def _accounts_page(
    request: Request,
    admin: User,
    *,
    notice: str | None = None,
    error: str | None = None,
    link: Link | None = None,
    token: tuple[str, str] | None = None,
    code: int = 200,
) -> Response:
    service = accounts(request)
    context = {
        "user": admin,
        "users": await service.users(),
        "tokens": await service.api_tokens(),
        "roles": [role.value for role in AccountRole],
        "notice": notice,
        "error": error,
        "link": None if link is None else f"{_public_base(request)}/setup#token={link.secret}",
        "link_for": None if link is None else link.username,
        "new_token": token,
    }
    return render(request, "accounts.html", context, code)


@router.get("/admin/accounts")
async def accounts_page(request: Request) -> Response:
    admin = await _admin(request)
    if isinstance(admin, Response):
        return admin
    return await _accounts_page(request, admin)


@router.post("/admin/accounts")
async def create_account(
    request: Request, username: Field80 = "", role: Field80 = "", csrf: Csrf = ""
) -> Response:
    admin = await _admin(request, csrf)
    if isinstance(admin, Response):
        return admin
    if role not in {r.value for r in AccountRole}:
        return await _accounts_page(request, admin, error="choose a role from the list", code=400)
    try:
        link = await accounts(request).create_with_link(
            username, AccountRole(role), actor(request, admin.username)
        )
    except AccountError as exc:
        return await _accounts_page(request, admin, error=str(exc), code=400)
    notice = f"Created {role} {username}. Give them this link to choose their password."
    return await _accounts_page(request, admin, notice=notice, link=link, code=201)


@router.post("/admin/accounts/{username}/{change}")
async def change_account(
    request: Request,
    username: str,
    change: str,
    role: Field80 = "",
    csrf: Csrf = "",
) -> Response:
    """disable, enable, reset (a new one-time link) or role."""
    admin = await _admin(request, csrf)
    if isinstance(admin, Response):
        return admin
    service, by = accounts(request), actor(request, admin.username)
    link = None
    try:
        if change in ("disable", "enable"):
            await service.set_disabled(username, change == "disable", by)
            notice = f"{username} is {change}d." + (
                " Their sessions, tokens and open pages stopped." if change == "disable" else ""
            )
        elif change == "reset":
            link = await service.reset_with_link(username, by)
            notice = (
                f"{username}'s password no longer works and their sessions ended. Give them "
                "this link to choose a new one."
            )
        elif change == "role" and role in {r.value for r in AccountRole}:
            await service.set_role(username, AccountRole(role), by)
            notice = f"{username} is now {role}."
        else:
            return error_page(request, 404, "there is no such change to an account")
    except AccountError as exc:
        return await _accounts_page(request, admin, error=str(exc), code=400)
    return await _accounts_page(request, admin, notice=notice, link=link)


@router.post("/admin/tokens")
async def create_token(
    request: Request, name: Field80 = "", username: Field80 = "", csrf: Csrf = ""
) -> Response:
    admin = await _admin(request, csrf)
    if isinstance(admin, Response):
        return admin
    try:
        secret = await accounts(request).create_api_token(
            name, username, actor(request, admin.username)
        )
    except AccountError as exc:
        return await _accounts_page(request, admin, error=str(exc), code=400)
    notice = f"Token {name} acts as {username}. Copy it now: it is shown only once."
    return await _accounts_page(request, admin, notice=notice, token=(name, secret), code=201)


@router.post("/admin/tokens/{name}/revoke")
async def revoke_token(request: Request, name: str, csrf: Csrf = "") -> Response:
    admin = await _admin(request, csrf)
    if isinstance(admin, Response):
        return admin
    if not await accounts(request).revoke_api_token(name, actor(request, admin.username)):
        return await _accounts_page(
            request, admin, error=f"there is no token {name!r} to revoke", code=404
        )
    notice = f"Token {name} is revoked: its requests and open sockets stopped."
    return await _accounts_page(request, admin, notice=notice)


@router.get("/admin/audit")
async def audit_page(request: Request, before: int | None = None) -> Response:
    admin = await _admin(request)
    if isinstance(admin, Response):
        return admin
    entries = await accounts(request).audit_entries(AUDIT_PAGE + 1, before)
    older = entries[AUDIT_PAGE].id + 1 if len(entries) > AUDIT_PAGE else None
    context = {"user": admin, "entries": entries[:AUDIT_PAGE], "older": older}
    return render(request, "audit.html", context)


# ------------------------------------------------------------------ your own account


@router.get("/account")
async def own_account(request: Request) -> Response:
    user = await signed_in(request)
    if user is None:
        return to_login(request)
    changed = request.query_params.get("changed") == "1"
    notice = "Your password is changed; other browsers were signed out." if changed else None
    return render(request, "account.html", {"user": user, "error": None, "notice": notice})


@router.post("/account/password")
async def change_own_password(
    request: Request,
    current: Annotated[str, Form(max_length=1024)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    confirm: Annotated[str, Form(max_length=1024)] = "",
    csrf: Csrf = "",
) -> Response:
    """Every session of the account ends (other browsers, open sockets); this browser
    gets a new one."""
    check_csrf(request, csrf)
    user = await signed_in(request)
    if user is None:
        return to_login(request)
    service = accounts(request)
    error = "the new passwords differ" if password != confirm else None
    if error is None:
        try:
            await service.change_own_password(
                user.username, current, password, actor(request, user.username)
            )
        except AccountError as exc:
            error = str(exc)
    if error is not None:
        return render(request, "account.html", {"user": user, "error": error, "notice": None}, 400)
    response = RedirectResponse("/account?changed=1", status.HTTP_303_SEE_OTHER)
    token = await service.sign_in(user.username, password, actor(request))
    if token is not None:
        set_secret_cookie(response, request, SESSION_COOKIE, token)
    return response
