"""Facilitator and reviewer accounts, signed-in sessions and the first-run setup link.

An application service beside the drills service: it owns its own short transactions
(accounts are not part of any drill's log). Only hashes of secrets are stored.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from enum import StrEnum

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import ApiToken, SetupToken, User, WebSession
from app.services.credentials import RevocationListener, api_token_key, session_key, user_key
from app.services.security import hash_password, new_token, token_hash, verify_password

SESSION_SECONDS = 12 * 3600
SETUP_SECONDS = 24 * 3600
MIN_PASSWORD = 10
API_TOKEN_PREFIX = "tt_"  # noqa: S105 - a prefix, not a secret
"""Marks a bearer token (so a leaked one is easy to recognise in logs and scanners)."""
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,79}$")


class AccountRole(StrEnum):
    facilitator = "facilitator"
    reviewer = "reviewer"


class AccountError(ValueError):
    """A refused account operation, with a message that says how to fix it."""


def check_new_account(username: str, password: str) -> None:
    if not USERNAME.match(username):
        raise AccountError(
            "a user name is 2 to 80 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"choose a password of at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise AccountError("that password is too long (at most 1024 characters)")


class AccountService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], float] = time.time,
        writing: Callable[[], AbstractAsyncContextManager[object]] = contextlib.nullcontext,
        announce: RevocationListener | None = None,
    ) -> None:
        """`writing`: the drills service's write lock. SQLite has one writer at a time, and
        a write that slips between another's read and write fails at once ("database is
        locked") instead of waiting, so every writer to the file takes the same lock."""
        self.sessions = sessions
        self.clock = clock
        self.writing = writing
        self.announce = announce
        """Told the keys of sessions ended (sign-out, password change) once committed: the
        drills service's announce_revoked, which closes their sockets on every worker."""
        # A hash no password matches, made once, checked for unknown names so that they
        # cost one check like a known name: hashing afresh each time cost them twice.
        self._unknown_user_hash = hash_password(new_token())

    async def user_count(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(User)) or 0)

    async def create_user(self, username: str, password: str, role: AccountRole) -> User:
        return await self._create_user(username, password, role)

    async def _create_user(
        self, username: str, password: str, role: AccountRole, setup_token: str | None = None
    ) -> User:
        """With `setup_token`, the link is spent in the same transaction that stores the
        user: a refused name leaves the link usable for another try."""
        check_new_account(username, password)
        password_hash = hash_password(password)  # slow on purpose: outside the lock
        async with self.writing(), self.sessions() as session:
            if setup_token is not None:
                found = await session.get(SetupToken, token_hash(setup_token))
                if found is None or found.used or found.expires_at < self.clock():
                    raise AccountError(
                        "this setup link is used or expired; run `tabletop user create NAME "
                        "--role facilitator` on the server instead"
                    )
                found.used = True
            user = User(username=username, password_hash=password_hash, role=role)
            session.add(user)
            try:
                await session.commit()
            except IntegrityError as exc:
                raise AccountError(f"there is already a user called {username!r}") from exc
            return user

    async def sign_in(self, username: str, password: str) -> str | None:
        """A fresh session token (never the one the browser had: no fixation), or None."""
        user = None
        if "\x00" not in username:  # no account has one, and PostgreSQL cannot look it up
            async with self.sessions() as session:
                user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            # Hash anyway: answering an unknown name faster would tell which names exist.
            verify_password(self._unknown_user_hash, password)
            return None
        if not verify_password(user.password_hash, password):
            return None
        token = new_token()
        now = self.clock()
        async with self.writing(), self.sessions() as session:
            session.add(
                WebSession(
                    token_hash=token_hash(token),
                    user_id=user.id,
                    created_at=now,
                    expires_at=now + SESSION_SECONDS,
                )
            )
            await session.commit()
            return token

    async def user_for_session(self, token: str | None) -> User | None:
        found = await self.session_of(token)
        return None if found is None else found[0]

    async def session_of(self, token: str | None) -> tuple[User, WebSession] | None:
        """The account and its session row (its expiry), if the session is still valid."""
        if not token:
            return None
        async with self.sessions() as session:
            found = await session.get(WebSession, token_hash(token))
            if found is None or found.expires_at < self.clock():
                return None
            user = await session.get(User, found.user_id)
            return None if user is None else (user, found)

    async def create_api_token(self, name: str, username: str) -> str:
        """A new bearer token called `name`, acting as `username`'s account: the secret,
        shown once (only its hash is kept)."""
        if not USERNAME.match(name):
            raise AccountError(
                "a token's name is 2 to 80 letters, digits, '.', '_', '@' or '-', "
                "starting with a letter or digit"
            )
        secret = API_TOKEN_PREFIX + new_token()
        async with self.writing(), self.sessions() as session:
            user = await session.scalar(select(User).where(User.username == username))
            if user is None:
                raise AccountError(f"there is no user called {username!r}")
            session.add(
                ApiToken(
                    name=name,
                    token_hash=token_hash(secret),
                    user_id=user.id,
                    created_at=self.clock(),
                )
            )
            try:
                await session.commit()
            except IntegrityError as exc:
                raise AccountError(f"there is already a token called {name!r}") from exc
        return secret

    async def api_tokens(self) -> list[tuple[ApiToken, str]]:
        """Every token with its account's name, oldest first (revoked ones too)."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(ApiToken, User.username)
                .join(User, User.id == ApiToken.user_id)
                .order_by(ApiToken.created_at)
            )
            return [(token, username) for token, username in rows.tuples()]

    async def revoke_api_token(self, name: str) -> bool:
        """Revoke the token called `name`; False if there is none (or it was revoked)."""
        async with self.writing(), self.sessions() as session:
            token = await session.get(ApiToken, name)
            if token is None or token.revoked_at is not None:
                return False
            token.revoked_at = self.clock()
            await session.commit()
            digest = token.token_hash
        await self._announce([api_token_key(digest)])
        return True

    async def user_for_api_token(self, secret: str) -> User | None:
        """The account a bearer token acts as, or None (unknown or revoked)."""
        if not secret.startswith(API_TOKEN_PREFIX) or len(secret) > 200:
            return None
        async with self.sessions() as session:
            token = await session.scalar(
                select(ApiToken).where(ApiToken.token_hash == token_hash(secret))
            )
            if token is None or token.revoked_at is not None:
                return None
            return await session.get(User, token.user_id)

    async def sign_out(self, token: str | None) -> None:
        if not token:
            return
        digest = token_hash(token)
        async with self.writing(), self.sessions() as session:
            await session.execute(delete(WebSession).where(WebSession.token_hash == digest))
            await session.commit()
        await self._announce([session_key(digest)])

    async def set_password(self, username: str, password: str) -> None:
        """A new password; every session of the account ends (and its sockets close)."""
        check_new_account(username, password)
        password_hash = hash_password(password)  # slow on purpose: outside the lock
        async with self.writing(), self.sessions() as session:
            user = await session.scalar(select(User).where(User.username == username))
            if user is None:
                raise AccountError(f"there is no user called {username!r}")
            user.password_hash = password_hash
            await session.execute(delete(WebSession).where(WebSession.user_id == user.id))
            await session.commit()
            user_id = user.id
        await self._announce([user_key(user_id)])

    async def _announce(self, keys: list[str]) -> None:
        if self.announce is not None:
            await self.announce(keys)

    async def new_setup_token(self) -> str:
        """A one-time link secret for the first facilitator, valid for a day."""
        token = new_token()
        async with self.writing(), self.sessions() as session:
            session.add(
                SetupToken(token_hash=token_hash(token), expires_at=self.clock() + SETUP_SECONDS)
            )
            await session.commit()
        return token

    async def use_setup_token(self, token: str, username: str, password: str) -> User:
        return await self._create_user(username, password, AccountRole.facilitator, token)
