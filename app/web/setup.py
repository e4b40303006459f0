"""One-time links to choose a password: the first run's, and those an admin makes.

`tabletop serve` prints `/setup#token=...` when there is no account yet: it creates the
first account, an admin, and stops working once any account exists. An admin's link
(a new account, or a reset) sets that account's password. The token is random, stored
only as its hash, valid for a day and used once. It rides in the link's
fragment, which browsers never send: it reaches no access log, proxy or Referer. The
page's script copies it into the form (and out of the address bar); without script, the
code can be pasted into the form's field. Only the POST body carries it to the server.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import RedirectResponse, Response

from app.services.accounts import AccountError
from app.web.deps import SESSION_COOKIE, accounts, set_secret_cookie
from app.web.forms import check_csrf, render
from app.web.signin import actor

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/setup")
async def setup_page(request: Request) -> Response:
    return render(request, "setup.html", {"token": "", "error": None})


@router.post("/setup")
async def setup(
    request: Request,
    token: Annotated[str, Form(max_length=200)] = "",
    username: Annotated[str, Form(max_length=80)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    confirm: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf)
    context = {"token": token, "username": username}
    if password != confirm:
        return render(request, "setup.html", {**context, "error": "the passwords differ"}, 400)
    try:
        await accounts(request).use_setup_token(token, username, password, actor(request))
    except AccountError as exc:
        return render(request, "setup.html", {**context, "error": str(exc)}, 400)
    session = await accounts(request).sign_in(username, password, actor(request))
    response = RedirectResponse("/", status.HTTP_303_SEE_OTHER)
    if session is not None:
        set_secret_cookie(response, request, SESSION_COOKIE, session)
    return response
