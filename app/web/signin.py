"""Signing in, for the JSON API and the sign-in page alike: the throttles, then the check.

Two throttles, both counted before the password is checked (so a burst of concurrent
guesses cannot all slip under the limit while argon2 runs): one per account, whatever the
address, and one per client address, whatever the names. A refusal says when to try
again (`Retry-After`). A successful sign-in takes its attempts back: the room that signs
in at 9:00 from one company address is not throttled by its own success.
"""

from __future__ import annotations

import math

from fastapi import HTTPException, status
from starlette.requests import HTTPConnection

from app.services.accounts import AccountError
from app.services.audit import Actor
from app.web.deps import accounts, client_key, limiter


def actor(conn: HTTPConnection, username: str | None = None) -> Actor:
    """Who is asking, for the audit log: the account's name (if known) and the address."""
    return Actor(username, client_key(conn))


async def sign_in(conn: HTTPConnection, username: str, password: str) -> str:
    """A new session token; HTTPException 429 (with Retry-After), 401 or 403 if not."""
    per_account = limiter(conn, "login_limiter")
    per_address = limiter(conn, "login_address_limiter")
    account_key, address_key = username.lower(), client_key(conn)
    counted: list[tuple[str, str]] = []
    for name, key in (("login_limiter", account_key), ("login_address_limiter", address_key)):
        if not await limiter(conn, name).allow(key):
            for other_name, other_key in counted:
                await limiter(conn, other_name).forget(other_key)
            wait = await limiter(conn, name).retry_after(key)
            await accounts(conn).record_throttled(f"{name}:{key}", username, actor(conn))
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"too many sign-in attempts; try again in {_minutes(wait)}",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        counted.append((name, key))
    try:
        token = await accounts(conn).sign_in(username, password, actor(conn))
    except AccountError as exc:  # the right password of a disabled account
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    if token is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong user name or password")
    await per_account.forget(account_key)
    await per_address.forget(address_key)
    return token


def _minutes(seconds: float) -> str:
    if seconds <= 60:
        return f"{max(1, math.ceil(seconds))} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
