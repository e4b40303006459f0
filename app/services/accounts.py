"""Accounts (admins, facilitators, reviewers), signed-in sessions, one-time links to
choose a password, API tokens, and the audit log of it all.

An application service beside the drills service: it owns its own short transactions
(accounts are not part of any drill's log). Only hashes of secrets are stored. Every
change writes its audit entry in its own transaction (app/services/audit).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from zxcvbn import zxcvbn

from app.db.models import ApiToken, AuditEvent, SetupToken, User, WebSession
from app.services import audit
from app.services.audit import SHELL, Action, Actor, Entry
from app.services.credentials import RevocationListener, api_token_key, session_key, user_key
from app.services.security import PasswordChecks, hash_password, new_token, token_hash

SESSION_SECONDS = 12 * 3600
"""A session's absolute lifetime: signed in at most this long ago, however active."""
IDLE_SECONDS = 2 * 3600
"""A session with no request and no command for this long has ended."""
TOUCH_SECONDS = 60.0
"""How stale a session's last-seen time may get before a request writes it again: the
idle limit is kept to the minute without a write on every request."""
SETUP_SECONDS = 24 * 3600
MIN_PASSWORD = 10
MIN_STRENGTH = 3
"""zxcvbn's score (0-4) a password must reach: 3 is about 10^8 guesses, out of reach of
an online attack and costly offline against argon2. Common and breached passwords
(zxcvbn ships their frequency lists), keyboard walks, dates and repeats score lower."""
STRENGTH_CHARS = 100
"""zxcvbn's cost grows with the length; a longer password is judged by its first 100
characters (already far beyond any list)."""
API_TOKEN_PREFIX = "tt_"  # noqa: S105 - a prefix, not a secret
"""Marks a bearer token (so a leaked one is easy to recognise in logs and scanners)."""
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,79}$")
THROTTLE_AUDIT_SECONDS = 60.0
"""A throttled address or account is audited once a minute, not once per refused try:
a flood of guesses must not become a flood of writes."""


class AccountRole(StrEnum):
    admin = "admin"
    """Manages accounts (the accounts page, the audit log), and runs drills like a
    facilitator."""
    facilitator = "facilitator"
    reviewer = "reviewer"


class AccountError(ValueError):
    """A refused account operation, with a message that says how to fix it."""


class AccountDisabled(AccountError):
    """The right password for an account an admin has disabled."""


def check_username(username: str, what: str = "a user name") -> None:
    if not USERNAME.match(username):
        raise AccountError(
            f"{what} is 2 to 80 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )


def check_password(password: str, username: str = "") -> None:
    """Refuse a short, overlong, common, breached or guessable password, saying why."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"choose a password of at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise AccountError("that password is too long (at most 1024 characters)")
    verdict = zxcvbn(password[:STRENGTH_CHARS], user_inputs=[username, "tabletop", "drill"])
    if verdict["score"] < MIN_STRENGTH:
        feedback = verdict["feedback"]
        why = feedback["warning"] or "it would be guessed too easily"
        hint = " ".join(feedback["suggestions"]) or "Use a few uncommon words."
        raise AccountError(f"choose a stronger password: {why.rstrip('.')}. {hint}")


def check_new_account(username: str, password: str) -> None:
    check_username(username)
    check_password(password, username)


@dataclass(frozen=True, slots=True)
class Link:
    """A one-time link's secret and the account it is for."""

    secret: str
    username: str


class AccountService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], float] = time.time,
        writing: Callable[[], AbstractAsyncContextManager[object]] = contextlib.nullcontext,
        announce: RevocationListener | None = None,
        session_seconds: float = SESSION_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
        passwords: PasswordChecks | None = None,
    ) -> None:
        """`writing`: the drills service's write lock. SQLite has one writer at a time, and
        a write that slips between another's read and write fails at once ("database is
        locked") instead of waiting, so every writer to the file takes the same lock."""
        self.sessions = sessions
        self.clock = clock
        self.writing = writing
        self.announce = announce
        """Told the keys of sessions ended (sign-out, password change, an account
        disabled) once committed: the drills service's announce_revoked, which closes
        their sockets on every worker."""
        self.session_seconds = session_seconds
        self.idle_seconds = idle_seconds
        self.passwords = passwords or PasswordChecks()
        # A hash no password matches, made once, checked for unknown names so that they
        # cost one check like a known name: hashing afresh each time cost them twice.
        self._unknown_user_hash = hash_password(new_token())
        self._throttles_audited: dict[str, float] = {}

    # ------------------------------------------------------------------ audit

    async def _commit(self, session: AsyncSession, *entries: Entry) -> None:
        """Commit the change with its audit entries, then log them."""
        now = self.clock()
        for entry in entries:
            audit.add(session, entry, now)
        await session.commit()
        for entry in entries:
            audit.emit(entry, now)

    async def _audit(self, *entries: Entry) -> None:
        async with self.writing(), self.sessions() as session:
            await self._commit(session, *entries)

    async def audit_entries(
        self, limit: int = 100, before_id: int | None = None
    ) -> list[AuditEvent]:
        async with self.sessions() as session:
            return await audit.recent(session, limit, before_id)

    async def record_throttled(self, key: str, username: str, by: Actor) -> None:
        """A sign-in refused by the throttle, audited once a minute per key."""
        now = self.clock()
        if now - self._throttles_audited.get(key, -THROTTLE_AUDIT_SECONDS) < THROTTLE_AUDIT_SECONDS:
            return
        if len(self._throttles_audited) > 10_000:
            self._throttles_audited.clear()
        self._throttles_audited[key] = now
        await self._audit(Entry(Action.sign_in_throttled, by, username[:80], f"key {key}"))

    # ------------------------------------------------------------------ accounts

    async def user_count(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(User)) or 0)

    async def users(self) -> list[User]:
        async with self.sessions() as session:
            return list(await session.scalars(select(User).order_by(User.username)))

    async def create_user(
        self, username: str, password: str, role: AccountRole, by: Actor = SHELL
    ) -> User:
        check_new_account(username, password)
        password_hash = await self.passwords.hash(password)  # slow on purpose: outside the lock
        async with self.writing(), self.sessions() as session:
            user = User(username=username, password_hash=password_hash, role=role)
            session.add(user)
            await self._commit_new_user(
                session, user, Entry(Action.account_created, by, username, role)
            )
            return user

    async def _commit_new_user(self, session: AsyncSession, user: User, *entries: Entry) -> None:
        try:
            await self._commit(session, *entries)
        except IntegrityError as exc:
            raise AccountError(f"there is already a user called {user.username!r}") from exc

    async def create_with_link(self, username: str, role: AccountRole, by: Actor) -> Link:
        """A new account without a password, and the one-time link (a day) to choose it:
        the admin hands the link over, the password is never known to them."""
        check_username(username)
        unusable = await self.passwords.hash(new_token())  # no password matches it
        secret = new_token()
        async with self.writing(), self.sessions() as session:
            user = User(username=username, password_hash=unusable, role=role)
            session.add(user)
            try:
                await session.flush()
            except IntegrityError as exc:
                raise AccountError(f"there is already a user called {username!r}") from exc
            session.add(self._link_row(secret, user.id))
            await self._commit_new_user(
                session,
                user,
                Entry(Action.account_created, by, username, role),
                Entry(Action.password_link_made, by, username, "for a new account"),
            )
        return Link(secret, username)

    def _link_row(self, secret: str, user_id: int | None) -> SetupToken:
        return SetupToken(
            token_hash=token_hash(secret),
            expires_at=self.clock() + SETUP_SECONDS,
            user_id=user_id,
        )

    async def reset_with_link(self, username: str, by: Actor) -> Link:
        """Reset an account: its password stops working, every session and socket of it
        ends, earlier links for it are void, and a new one-time link lets its owner choose
        a new password."""
        unusable = await self.passwords.hash(new_token())
        secret = new_token()
        async with self.writing(), self.sessions() as session:
            user = await self._user_named(session, username)
            user.password_hash = unusable
            await session.execute(delete(WebSession).where(WebSession.user_id == user.id))
            await session.execute(delete(SetupToken).where(SetupToken.user_id == user.id))
            session.add(self._link_row(secret, user.id))
            await self._commit(session, Entry(Action.password_link_made, by, username, "reset"))
            user_id = user.id
        await self._announce([user_key(user_id)])
        return Link(secret, username)

    async def _user_named(self, session: AsyncSession, username: str) -> User:
        user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            raise AccountError(f"there is no user called {username!r}")
        return user

    async def set_disabled(self, username: str, disabled: bool, by: Actor) -> None:
        """Disable (every session, API token and socket of the account stops at once) or
        enable an account. Nobody disables themselves or the last enabled admin: someone
        must be able to manage accounts."""
        async with self.writing(), self.sessions() as session:
            user = await self._user_named(session, username)
            if disabled and username == by.name:
                raise AccountError("you cannot disable your own account; ask another admin")
            if disabled and user.role == AccountRole.admin:
                await self._keep_an_admin(session, user)
            if (user.disabled_at is not None) == disabled:
                return
            user.disabled_at = self.clock() if disabled else None
            if disabled:
                await session.execute(delete(WebSession).where(WebSession.user_id == user.id))
            action = Action.account_disabled if disabled else Action.account_enabled
            await self._commit(session, Entry(action, by, username))
            user_id = user.id
        if disabled:
            await self._announce([user_key(user_id)])

    async def _keep_an_admin(self, session: AsyncSession, leaving: User) -> None:
        others = await session.scalar(
            select(func.count())
            .select_from(User)
            .where(
                User.role == AccountRole.admin,
                User.disabled_at.is_(None),
                User.id != leaving.id,
            )
        )
        if not others:
            raise AccountError(
                f"{leaving.username!r} is the last enabled admin; make another admin first"
            )

    async def set_role(self, username: str, role: AccountRole, by: Actor) -> None:
        """A new role; the account's open sockets close (they were opened as the old one)."""
        async with self.writing(), self.sessions() as session:
            user = await self._user_named(session, username)
            if user.role == role:
                return
            if user.role == AccountRole.admin:
                await self._keep_an_admin(session, user)
            detail = f"{user.role} -> {role.value}"
            user.role = role
            await self._commit(session, Entry(Action.account_role_changed, by, username, detail))
            user_id = user.id
        await self._announce([user_key(user_id)])

    # ------------------------------------------------------------------ sessions

    async def sign_in(self, username: str, password: str, by: Actor | None = None) -> str | None:
        """A fresh session token (never the one the browser had: no fixation), or None for
        a wrong name or password. AccountDisabled for the right password of a disabled
        account."""
        by = by or Actor(None, None)
        user = None
        if "\x00" not in username:  # no account has one, and PostgreSQL cannot look it up
            async with self.sessions() as session:
                user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            # Hash anyway: answering an unknown name faster would tell which names exist.
            await self.passwords.verify(self._unknown_user_hash, password)
            await self._audit(Entry(Action.sign_in_failed, by, username[:80], "unknown name"))
            return None
        if not await self.passwords.verify(user.password_hash, password):
            await self._audit(Entry(Action.sign_in_failed, by, username, "wrong password"))
            return None
        if user.disabled_at is not None:
            await self._audit(Entry(Action.sign_in_disabled, by, username))
            raise AccountDisabled(
                "this account is disabled; ask one of Tabletop's admins to enable it"
            )
        token = new_token()
        now = self.clock()
        async with self.writing(), self.sessions() as session:
            session.add(
                WebSession(
                    token_hash=token_hash(token),
                    user_id=user.id,
                    created_at=now,
                    expires_at=now + self.session_seconds,
                    last_seen_at=now,
                )
            )
            await self._commit(session, Entry(Action.sign_in, Actor(username, by.address)))
            return token

    async def user_for_session(self, token: str | None) -> User | None:
        found = await self.session_of(token)
        return None if found is None else found[0]

    def session_alive(self, row: WebSession, user: User | None, now: float) -> bool:
        """Within both lifetimes (absolute and idle), of an enabled account."""
        last_seen = row.last_seen_at if row.last_seen_at is not None else row.created_at
        return (
            user is not None
            and user.disabled_at is None
            and row.expires_at >= now
            and last_seen + self.idle_seconds >= now
        )

    async def session_of(self, token: str | None) -> tuple[User, WebSession] | None:
        """The account and its session row, if the session is still valid; a request
        that finds it so counts as activity (kept to the minute)."""
        if not token:
            return None
        now = self.clock()
        async with self.sessions() as session:
            found = await session.get(WebSession, token_hash(token))
            if found is None:
                return None
            user = await session.get(User, found.user_id)
            if user is None or not self.session_alive(found, user, now):
                return None
        if now - (found.last_seen_at or found.created_at) >= TOUCH_SECONDS:
            await self.touch(found.token_hash)
            found.last_seen_at = now
        return user, found

    async def session_ends_at(self, digest: str) -> float | None:
        """When the session ends if it goes on unused: its absolute end, or its idle
        limit after it was last used, whichever is first; None when it is gone (signed
        out, its password changed)."""
        async with self.sessions() as session:
            row = await session.scalar(select(WebSession).where(WebSession.token_hash == digest))
        if row is None:
            return None
        last_seen = row.last_seen_at if row.last_seen_at is not None else row.created_at
        return min(row.expires_at, last_seen + self.idle_seconds)

    async def touch(self, digest: str) -> None:
        """The session was used now (a request, a command on its websocket)."""
        async with self.writing(), self.sessions() as session:
            await session.execute(
                update(WebSession)
                .where(WebSession.token_hash == digest)
                .values(last_seen_at=self.clock())
            )
            await session.commit()

    async def sign_out(self, token: str | None, by: Actor | None = None) -> None:
        if not token:
            return
        digest = token_hash(token)
        async with self.writing(), self.sessions() as session:
            ended = await session.execute(
                delete(WebSession)
                .where(WebSession.token_hash == digest)
                .returning(WebSession.user_id)
            )
            user_id = ended.scalar()
            if user_id is None:
                return
            user = await session.get(User, user_id)
            who = Actor(user.username if user else None, (by or Actor()).address)
            await self._commit(session, Entry(Action.sign_out, who))
        await self._announce([session_key(digest)])

    async def set_password(self, username: str, password: str, by: Actor = SHELL) -> None:
        """A new password; every session of the account ends (and its sockets close)."""
        check_new_account(username, password)
        password_hash = await self.passwords.hash(password)  # slow on purpose: outside the lock
        async with self.writing(), self.sessions() as session:
            user = await self._user_named(session, username)
            user.password_hash = password_hash
            await session.execute(delete(WebSession).where(WebSession.user_id == user.id))
            await self._commit(session, Entry(Action.password_changed, by, username))
            user_id = user.id
        await self._announce([user_key(user_id)])

    async def change_own_password(self, username: str, current: str, new: str, by: Actor) -> None:
        """The signed-in user's own change: the current password first (a borrowed,
        unlocked browser must not be enough to take the account over)."""
        async with self.sessions() as session:
            user = await self._user_named(session, username)
        if not await self.passwords.verify(user.password_hash, current):
            await self._audit(Entry(Action.sign_in_failed, by, username, "wrong current password"))
            raise AccountError("the current password is wrong")
        if new == current:
            raise AccountError("choose a password different from the current one")
        await self.set_password(username, new, by)

    async def _announce(self, keys: list[str]) -> None:
        if self.announce is not None:
            await self.announce(keys)

    # ------------------------------------------------------------------ links

    async def new_setup_token(self) -> str:
        """A one-time link secret for the first account (an admin), valid for a day."""
        secret = new_token()
        async with self.writing(), self.sessions() as session:
            session.add(self._link_row(secret, None))
            await self._commit(session, Entry(Action.setup_link_made, SHELL))
        return secret

    async def use_setup_token(
        self, token: str, username: str, password: str, by: Actor | None = None
    ) -> User:
        """Spend a one-time link: the first run's creates the first admin (refused once
        any account exists); an account's sets its password (the user name must match).
        The link is spent in the same transaction that stores the password: a refused
        name or password leaves it usable for another try."""
        by = by or Actor(None, None)
        check_username(username)
        check_password(password, username)
        password_hash = await self.passwords.hash(password)  # slow on purpose: outside the lock
        async with self.writing(), self.sessions() as session:
            try:
                user = await self._spend_link(session, token, username, password_hash)
                session.add(user)
                await self._commit_new_user(
                    session,
                    user,
                    Entry(Action.setup_link_used, Actor(username, by.address), username),
                )
            except AccountError as exc:
                await session.rollback()
                await self._commit(
                    session, Entry(Action.setup_link_refused, by, username[:80], str(exc))
                )
                raise
            return user

    async def _spend_link(
        self, session: AsyncSession, secret: str, username: str, password_hash: str
    ) -> User:
        digest = token_hash(secret)
        found = await session.get(SetupToken, digest)
        if found is not None and found.user_id is None:
            # Lock every first-run link, in one order, before counting accounts: two
            # setups at once (each with its own link) queue here, and the second then
            # counts the first's account (on PostgreSQL each statement sees what committed
            # before it; on SQLite the one write lock already orders them).
            await session.execute(
                select(SetupToken.token_hash)
                .where(SetupToken.user_id.is_(None))
                .order_by(SetupToken.token_hash)
                .with_for_update()
            )
        elif found is not None:
            await session.execute(
                select(SetupToken.token_hash)
                .where(SetupToken.token_hash == digest)
                .with_for_update()
            )
        if found is not None:
            await session.refresh(found)
        if found is None or found.used or found.expires_at < self.clock():
            raise AccountError(
                "this link is used or expired; ask an admin for a new one (or, on the "
                "server, run `tabletop user password NAME`)"
            )
        if found.user_id is None:
            if await session.scalar(select(func.count()).select_from(User)):
                raise AccountError(
                    "Tabletop already has accounts, so this first-run link no longer "
                    "works; ask an admin to make you an account"
                )
            found.used = True
            return User(username=username, password_hash=password_hash, role=AccountRole.admin)
        user = await session.get(User, found.user_id)
        if user is None or user.username != username:
            raise AccountError("this link is for another user name; type the one it was made for")
        found.used = True
        user.password_hash = password_hash
        return user

    # ------------------------------------------------------------------ API tokens

    async def create_api_token(self, name: str, username: str, by: Actor = SHELL) -> str:
        """A new bearer token called `name`, acting as `username`'s account: the secret,
        shown once (only its hash is kept)."""
        check_username(name, "a token's name")
        secret = API_TOKEN_PREFIX + new_token()
        async with self.writing(), self.sessions() as session:
            user = await self._user_named(session, username)
            session.add(
                ApiToken(
                    name=name,
                    token_hash=token_hash(secret),
                    user_id=user.id,
                    created_at=self.clock(),
                )
            )
            try:
                await self._commit(session, Entry(Action.api_token_created, by, name, username))
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
            return [(token, username) for token, username in rows.all()]

    async def revoke_api_token(self, name: str, by: Actor = SHELL) -> bool:
        """Revoke the token called `name`; False if there is none (or it was revoked)."""
        async with self.writing(), self.sessions() as session:
            token = await session.get(ApiToken, name)
            if token is None or token.revoked_at is not None:
                return False
            token.revoked_at = self.clock()
            await self._commit(session, Entry(Action.api_token_revoked, by, name))
            digest = token.token_hash
        await self._announce([api_token_key(digest)])
        return True

    async def user_for_api_token(self, secret: str) -> User | None:
        """The account a bearer token acts as, or None (unknown, revoked, or its account
        disabled)."""
        if not secret.startswith(API_TOKEN_PREFIX) or len(secret) > 200:
            return None
        async with self.sessions() as session:
            token = await session.scalar(
                select(ApiToken).where(ApiToken.token_hash == token_hash(secret))
            )
            if token is None or token.revoked_at is not None:
                return None
            user = await session.get(User, token.user_id)
            return user if user is not None and user.disabled_at is None else None
