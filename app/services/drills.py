"""The drills service: the one place that commits a drill's history.

The other services commit what is not part of any drill's log (accounts and sessions,
reviews and improvement items, clock leases), each in its own short transaction; no layer
but app/services commits (tests/architecture checks it).

A command is decided by the pure engine against the drill's state, and its events are
appended in ONE transaction together with the command's idempotency key. Only after the
commit are listeners (the real-time hub) told the new last seq. States are cached per
drill and caught up from the log before every decision, so several workers can share a
database: the unique (drill_id, seq) makes one of two racing writers fail and retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.authoring.bundle import Asset, Bundle, bundle_sha256
from app.authoring.loader import Loaded, load_bundle, load_scenario_text, parse_stored_scenario
from app.db import repository as repo
from app.db.models import (
    Drill,
    DrillFacilitator,
    ParticipantRow,
    ScenarioAsset,
    ScenarioVersion,
    User,
)
from app.db.session import describe, is_unavailable
from app.engine import commands as c
from app.engine import scoring
from app.engine.core import advance, apply, decide, due, next_due
from app.engine.errors import Code, DomainError
from app.engine.events import Event
from app.engine.filled import filled_scenario
from app.engine.regulatory import RegimeInPlay, regimes_in_play
from app.engine.scenario import Scenario
from app.engine.state import DrillState, Status
from app.services import credentials, scorecards, snapshots
from app.services.credentials import (
    Credential,
    RevocationListener,
    facilitator_key,
    participant_key,
    token_key,
)
from app.services.security import join_code_for, new_token, normalise_join_code, token_hash

log = logging.getLogger("tabletop.drills")

T = TypeVar("T")

_JOIN_ATTEMPTS = uuid.UUID("5f1d0c8e-7a53-4b8e-9a57-0d5c2f3b6e21")
"""Namespace of participant ids derived from a join attempt's id (uuid5)."""
Listener = Callable[[str, int], Awaitable[None]]
MAX_WRITE_ATTEMPTS = 5
MAX_KEY_CHARS = 128
MAX_BATCH = 256
"""Commands of one drill written in one transaction, at most."""
TAIL_EVENTS = 1024
"""Recent events kept per drill: the hub and reconnecting clients read them from memory."""
FRESH_SECONDS = 2.0
"""How long a drill's cached state is trusted without reading the database, when no other
worker is known to have written since (a lost notice costs at most this much delay)."""


class DrillNotFound(LookupError):
    def __init__(self, drill_id: str) -> None:
        super().__init__(f"there is no drill {drill_id!r}")
        self.drill_id = drill_id


class ScenarioInvalid(ValueError):
    """A scenario that does not validate; carries the validator's findings."""

    def __init__(self, loaded: Loaded) -> None:
        super().__init__("\n".join(f.render() for f in loaded.errors))
        self.loaded = loaded


class StorageUnavailable(RuntimeError):
    """The database refused or could not be reached; nothing was written, unless
    `in_doubt`: the connection was lost during COMMIT itself, so the write may have landed
    (PostgreSQL may commit and die before it says so); a command sent again under the
    same id is still applied once."""

    def __init__(self, message: str, *, in_doubt: bool = False) -> None:
        super().__init__(message)
        self.in_doubt = in_doubt

    @classmethod
    def from_error(cls, exc: BaseException, *, in_doubt: bool = False) -> StorageUnavailable:
        """The database error `is_unavailable` recognised, as the caller should hear it."""
        if isinstance(exc, OperationalError) and not in_doubt:
            # SQLite: locked, busy, disk full; the database said no, cleanly.
            return cls(f"the database refused the write: {exc.orig}")
        if in_doubt:
            return cls(
                f"the database connection was lost while committing ({describe(exc)})",
                in_doubt=True,
            )
        return cls(f"the database is unavailable, perhaps restarting ({describe(exc)})")

    @classmethod
    def behind(cls, exc: BaseException) -> StorageUnavailable | None:
        """The database failure behind `exc` (already one, or an error `is_unavailable`
        recognises), as a client should hear it; None for anything else: a bug, to be
        raised as it is."""
        if isinstance(exc, StorageUnavailable):
            return exc
        return cls.from_error(exc) if is_unavailable(exc) else None


@dataclass(slots=True)
class Outcome:
    """What a command did: the seqs it wrote (or had written, when repeated)."""

    drill_id: str
    first_seq: int
    last_seq: int
    events: list[Event]
    repeated: bool = False


@dataclass(slots=True)
class _Live:
    """A drill as this process knows it: its state, the tail of its log, and when it was
    last caught up from the database."""

    scenario: Scenario
    state: DrillState
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tail: deque[Event] = field(default_factory=lambda: deque(maxlen=TAIL_EVENTS))
    pending: list[_Request] = field(default_factory=list)
    checked: float = field(default_factory=time.monotonic)

    def remember(self, events: list[Event]) -> None:
        """Events now in the database (committed here, or read back from it)."""
        self.tail.extend(events)
        self.checked = time.monotonic()

    def distrust(self) -> None:
        """A write failed: the database may hold more than this process knows (a commit
        whose answer was lost with the connection), so read it before trusting the
        cached state again."""
        self.checked = -math.inf

    def recent(self, after_seq: int) -> list[Event] | None:
        """The log after `after_seq` from memory, if the tail reaches back that far."""
        if not self.tail or self.tail[0].seq > after_seq + 1:
            return None
        if self.tail[-1].seq != self.state.seq:  # pragma: no cover - kept in step
            return None
        return [e for e in self.tail if e.seq > after_seq]


@dataclass(eq=False, slots=True)
class _Request:
    """A command waiting for its drill's next group commit."""

    command: c.Command
    actor: c.Actor
    key: str | None
    also: list[object]
    digest: str | None = None
    """command_digest(command): a key seen again with another digest is refused. None:
    any command under the key is taken as the same one (a join's attempt id)."""
    credential: Credential | None = None
    """What the sender's socket was opened with: checked again in the write transaction
    (app/services/credentials.py), so a revoked sender's command is never logged."""
    done: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(slots=True)
class _Plan:
    """A batch decided: the state after it, its events and receipts, each command's fate."""

    state: DrillState
    events: list[Event] = field(default_factory=list)
    receipts: list[tuple[str, int, int, str | None]] = field(default_factory=list)
    results: dict[_Request, Outcome | Exception] = field(default_factory=dict)
    repeats: list[tuple[_Request, str]] = field(default_factory=list)

    def rows_to_add(self, batch: list[_Request]) -> list[object]:
        """The rows written with the batch's applied commands (a participant with its
        join); none for a repeat or a refusal."""
        return [
            row
            for request in batch
            if isinstance(result := self.results.get(request), Outcome) and not result.repeated
            for row in request.also
        ]

    def answer(self) -> None:
        """Each request its outcome or its refusal (once written, or when nothing was to
        be); a request already answered (its sender cancelled) is left as it is."""
        for request, result in self.results.items():
            if request.done.done():
                continue
            if isinstance(result, Outcome):
                request.done.set_result(result)
            else:
                request.done.set_exception(result)

    def refuses_a_key(self) -> bool:
        """A command sent with a key (an id) was refused."""
        return any(
            request.key is not None and isinstance(result, DomainError)
            for request, result in self.results.items()
        )


@dataclass(eq=False, slots=True)
class _Share:
    """One drill's batch waiting for SQLite's one writer, to be written in the same
    transaction as the other drills' batches waiting with it."""

    drill_id: str
    live: _Live
    batch: list[_Request]
    written: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    """True: written with others and its requests answered; False: to be written alone."""


def command_digest(command: c.Command) -> str:
    """SHA-256 of what a command asks (its type and fields), kept with its receipt."""
    body = {"type": type(command).__name__, **dataclasses.asdict(command)}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _reused() -> DomainError:
    return DomainError(
        Code.command_id_reused,
        "this id was used before for a different command; send this one with a new id",
    )


def stored_key(key: str) -> str:
    """A command's key as its receipt holds it: itself, or, when the sender's name and
    the client's id (up to 128 characters) are longer together than the column, their
    SHA-256."""
    if len(key) <= MAX_KEY_CHARS:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def new_drill_id() -> str:
    return str(uuid.uuid4())


class DrillService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        sqlite: bool,
        clock: Callable[[], float] = time.time,
        secret_key: str = "",
        participant_seconds_after_end: float = 12 * 3600,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.secret_key = secret_key
        self.participant_seconds_after_end = participant_seconds_after_end
        """How long join tokens keep working after their drill ends (the hot wash)."""
        self.listeners: list[Listener] = []
        self.revocation_listeners: list[RevocationListener] = []
        """Told the keys of credentials revoked (app/services/credentials.py) after the
        revocation commits: the hub closes their sockets, the bus tells other workers."""
        self._live: dict[str, _Live] = {}
        self._known_seq: dict[str, int] = {}
        self._scenarios: dict[int, Scenario] = {}
        # SQLite has one writer at a time; queueing here beats "database is locked".
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if sqlite else None
        self._sharing: list[_Share] = []
        """Drills' batches waiting for that lock, written together by whoever takes it."""
        # A server database can commit and lose the connection before it says so; a
        # failed SQLite COMMIT wrote nothing.
        self._commit_can_be_lost = not sqlite

    # ------------------------------------------------------------------ scenarios

    async def store_scenario(
        self, source: str, origin: str, assets: Mapping[str, Asset] | None = None
    ) -> tuple[int, Scenario]:
        """Validate and keep the exact text, with a bundle's files; the same text and files
        are stored once."""
        if assets:
            loaded = load_bundle(Bundle(origin, source, dict(assets), {}))
        else:
            loaded = load_scenario_text(source, origin)
        if not loaded.ok or loaded.scenario is None:
            raise ScenarioInvalid(loaded)
        digest = bundle_sha256(source, assets or {})
        async with self._write_session() as session:
            found = await repo.scenario_by_sha(session, digest)
            if found is None:
                found = await repo.add_scenario_version(
                    session,
                    ScenarioVersion(
                        sha256=digest,
                        scenario_id=loaded.scenario.id,
                        version=loaded.scenario.version,
                        title=loaded.scenario.title,
                        source=source,
                        origin=origin[:300],
                        data_json=loaded.data_json,
                    ),
                )
                for asset in (assets or {}).values():
                    session.add(
                        ScenarioAsset(
                            scenario_version_id=found.id,
                            path=asset.path,
                            media_type=asset.media_type,
                            sha256=asset.sha256,
                            data=asset.data,
                        )
                    )
                await self._commit(session)
            elif found.data_json is None and loaded.data_json is not None:
                found.data_json = loaded.data_json  # stored before it was kept: keep it now
                await self._commit(session)
            self._scenarios[found.id] = loaded.scenario
            return found.id, loaded.scenario

    async def _scenario(self, session: AsyncSession, version_id: int) -> Scenario:
        cached = self._scenarios.get(version_id)
        if cached is not None:
            return cached
        row = await repo.get_scenario_version(session, version_id)
        if row is None:  # pragma: no cover - guarded by a foreign key
            raise LookupError(f"scenario version {version_id} is missing")
        scenario = parse_stored_scenario(row.source, row.data_json)
        if scenario is None:
            raise ScenarioInvalid(load_scenario_text(row.source, row.origin or row.scenario_id))
        self._scenarios[version_id] = scenario
        return scenario

    # ------------------------------------------------------------------ drills

    async def create_drill(
        self,
        source: str,
        origin: str,
        command: c.CreateDrill,
        created_by: str | None = None,
        assets: Mapping[str, Asset] | None = None,
    ) -> str:
        """Create a drill from scenario text (validated and stored as it is, with a
        bundle's files); `created_by` is the facilitator's user name, for the report."""
        version_id, scenario = await self.store_scenario(source, origin, assets)
        events = decide(scenario, DrillState(), command, self.clock(), c.Actor(user=created_by))
        state = await self._insert_drill(scenario, version_id, command.drill_id, events, created_by)
        live = _Live(scenario, state)
        live.remember(events)
        self._live[command.drill_id] = live
        await self._notify(command.drill_id, state.seq)
        return command.drill_id

    async def import_events(
        self,
        source: str,
        origin: str,
        drill_id: str,
        events: list[Event],
        *,
        created_by: str | None = None,
        created_at: datetime | None = None,
        also: list[object] | None = None,
        assets: Mapping[str, Asset] | None = None,
    ) -> str:
        """Store a drill played elsewhere (a dry-run, an export) as it is: its log is
        replayed first, so a log that the rules would not produce is refused. `also`: rows
        restored in the same transaction (participants, a review, improvement items), so
        an import is all or nothing."""
        version_id, scenario = await self.store_scenario(source, origin, assets)
        await self._insert_drill(
            scenario, version_id, drill_id, events, created_by, created_at, also or []
        )
        return drill_id

    async def _insert_drill(
        self,
        scenario: Scenario,
        version_id: int,
        drill_id: str,
        events: list[Event],
        created_by: str | None = None,
        created_at: datetime | None = None,
        also: list[object] | None = None,
    ) -> DrillState:
        """Write a new drill and its first events in one transaction; returns its state."""
        state = DrillState()
        for event in events:
            apply(scenario, state, event)
        async with self._write_session() as session:
            repo.add_drill(
                session,
                Drill(
                    id=drill_id,
                    name=state.name,
                    scenario_version_id=version_id,
                    status=str(state.status),
                    last_seq=state.seq,
                    ended_at=self._ended_at(state),
                    join_code_hash=token_hash(self.join_code(drill_id)),
                    white_cell_code_hash=token_hash(self.white_cell_code(drill_id)),
                    created_by=created_by,
                    **({} if created_at is None else {"created_at": created_at}),
                ),
            )
            await session.flush()
            if created_by is not None:
                owner = await session.scalar(
                    select(User.id).where(
                        User.username == created_by, User.role.in_(("admin", "facilitator"))
                    )
                )
                if owner is not None:  # its creator owns it (an import's may be unknown here)
                    session.add(
                        DrillFacilitator(
                            drill_id=drill_id,
                            user_id=owner,
                            added_by=created_by,
                            added_at=self.clock(),
                        )
                    )
            await repo.append_events(session, drill_id, events)
            session.add_all(also or [])
            if snapshots.due(0, state.seq):
                session.add(snapshots.stored(drill_id, state))
            if state.status is Status.ended:  # an import of a finished drill: score it once
                scores = scoring.scorecard(scenario, events)
                session.add(scorecards.stored(drill_id, state.seq, scores))
            await self._commit(session)
        return state

    # ------------------------------------------------------------------ who runs a drill

    async def facilitators(self, drill_id: str) -> list[str]:
        """The accounts that may run the drill, the owner first; empty: open to every
        facilitator (a drill from before owners, or made from the shell)."""
        async with self.sessions() as session:
            drill = await session.get(Drill, drill_id)
            if drill is None:
                raise DrillNotFound(drill_id)
            rows = await session.execute(
                select(User.username)
                .join(DrillFacilitator, DrillFacilitator.user_id == User.id)
                .where(DrillFacilitator.drill_id == drill_id)
                .order_by(DrillFacilitator.added_at, User.username)
            )
            names = [name for (name,) in rows.all()]
        owner = drill.created_by
        return sorted(names, key=lambda name: name != owner)

    async def may_facilitate(self, drill_id: str, user_id: int) -> bool:
        async with self.sessions() as session:
            return await repo.may_facilitate(session, drill_id, user_id)

    async def add_facilitator(self, drill_id: str, username: str, by: str) -> None:
        """A co-facilitator: an account that runs drills (not a reviewer)."""
        async with self._write_session() as session:
            user = await session.scalar(select(User).where(User.username == username))
            if user is None or user.disabled_at is not None:
                raise DomainError(Code.invalid_input, f"there is no active account {username!r}")
            if user.role not in ("admin", "facilitator"):
                raise DomainError(
                    Code.invalid_input,
                    f"{username!r} is a {user.role}; only facilitators and admins run drills",
                )
            if await session.get(DrillFacilitator, (drill_id, user.id)) is not None:
                raise DomainError(Code.invalid_input, f"{username!r} already runs this drill")
            session.add(
                DrillFacilitator(
                    drill_id=drill_id, user_id=user.id, added_by=by, added_at=self.clock()
                )
            )
            await self._commit(session)

    async def remove_facilitator(self, drill_id: str, username: str) -> None:
        """Remove a co-facilitator: their open sockets on the drill close (4001) and a
        command they sent after is refused (credentials.holding reads the row)."""
        async with self._write_session() as session:
            drill = await session.get(Drill, drill_id)
            if drill is not None and drill.created_by == username:
                raise DomainError(Code.invalid_input, "the drill's owner cannot be removed")
            user = await session.scalar(select(User).where(User.username == username))
            row = None if user is None else await session.get(DrillFacilitator, (drill_id, user.id))
            if user is None or row is None:
                raise DomainError(Code.invalid_input, f"{username!r} is not running this drill")
            await session.delete(row)
            await self._commit(session)
            user_id = user.id
        await self.announce_revoked([facilitator_key(drill_id, user_id)])

    async def execute(
        self,
        drill_id: str,
        command: c.Command,
        actor: c.Actor = c.FACILITATOR_ACTOR,
        key: str | None = None,
        also: list[object] | None = None,
        *,
        same_command: bool = True,
        credential: Credential | None = None,
    ) -> Outcome:
        """Decide and append one command's events; a repeated `key` is applied once.
        `also`: rows written in the same transaction (a participant with its join).
        `same_command`: a key sent again with a different command is refused
        (`command_id_reused`); False: it is a repeat whatever the command."""
        if key is not None and not key:
            raise DomainError(Code.invalid_input, "a command id is 1 to 128 characters")
        key = None if key is None else stored_key(key)
        await self.tick(drill_id)
        live = await self._get_live(drill_id)
        digest = command_digest(command) if same_command else None
        request = _Request(command, actor, key, also or [], digest, credential)
        live.pending.append(request)
        async with live.lock:
            if not request.done.done():
                batch = live.pending[:MAX_BATCH]
                del live.pending[:MAX_BATCH]
                await self._execute_batch(drill_id, live, batch)
        outcome = request.done.result()  # or raises its DomainError / StorageUnavailable
        if not outcome.repeated:
            await self._notify(drill_id, outcome.last_seq)
            try:
                await self.tick(drill_id)
            except StorageUnavailable as exc:
                # The command is committed and must be acknowledged as such; what fell due
                # is the clock runner's to fire once the database answers again.
                log.warning("drill %s: could not fire what fell due: %s", drill_id, exc)
        return outcome

    async def _execute_batch(self, drill_id: str, live: _Live, batch: list[_Request]) -> None:
        """Group commit: every command waiting for this drill is decided in order against
        the state the ones before it leave, and all their events and receipts go in ONE
        transaction. Under load the batches grow by themselves, so the database's round
        trips are shared instead of queued behind the drill's lock."""
        try:
            if self._write_lock is not None and await self._write_shared(drill_id, live, batch):
                return
            for attempt in range(MAX_WRITE_ATTEMPTS):
                async with self._write_session() as session:
                    # The first try uses the cached state when it is fresh: a stale one
                    # cannot write (the unique seq refuses it) and the retry catches up.
                    fresh = attempt == 0 and self._fresh(drill_id, live)
                    if not fresh:
                        await self._catch_up(session, drill_id, live)
                    # Senders whose credential was revoked are refused here, inside the
                    # transaction that would write their events (credentials.holding).
                    refused = await self._revoked(session, [(drill_id, batch)])
                    valid = [r for r in batch if r not in refused]
                    keys = [r.key for r in valid if r.key is not None]
                    releases = any(isinstance(r.command, c.ReleaseScores) for r in valid)
                    # Releasing scores: the event carries the scorecard of the whole log.
                    log = await repo.load_events(session, drill_id) if releases else []
                    # On a fresh state a key is taken as new without reading the receipts:
                    # its receipt is claimed with its events, a repeat's claim fails on
                    # the key (IntegrityError, nothing written) and the retry reads them.
                    # A refusal is checked first: it may be the repeat of an applied
                    # command, whose answer is its first outcome, not an error.
                    applied: dict[str, repo.Receipt] = {}
                    plan = self._plan(drill_id, live, valid, {}, log) if fresh else None
                    if plan is None or plan.refuses_a_key():
                        applied = await repo.find_receipts(session, drill_id, keys)
                        hashes = {k: r.command_hash for k, r in applied.items()}
                        plan = self._plan(drill_id, live, valid, hashes, log)
                    plan.results.update(refused)
                    for request, key in plan.repeats:
                        receipt = applied[key]
                        events = await repo.load_events(session, drill_id, receipt.first_seq - 1)
                        events = [e for e in events if e.seq <= receipt.last_seq]
                        plan.results[request] = Outcome(
                            drill_id, receipt.first_seq, receipt.last_seq, events, repeated=True
                        )
                    if plan.events:
                        session.add_all(plan.rows_to_add(batch))
                        written = await self._write(
                            session, drill_id, live, plan.events, plan.receipts, plan.state
                        )
                        if not written:
                            continue
                    plan.answer()
                    return
            raise StorageUnavailable("the drill is too busy right now; try again")
        except BaseException as exc:
            live.distrust()
            failure = (
                exc
                if isinstance(exc, StorageUnavailable)
                else StorageUnavailable("the command was interrupted; send it again")
            )
            for request in batch:
                if not request.done.done():
                    request.done.set_exception(failure)
            if not isinstance(exc, StorageUnavailable):
                raise

    async def _write_shared(self, drill_id: str, live: _Live, batch: list[_Request]) -> bool:
        """SQLite's group commit across drills: this batch waits for the one writer with
        the other drills' batches, and whoever takes the writer writes them all in one
        transaction (50 drills' injects at once: 2 transactions, not 50). True when the
        batch was written so (its requests answered); False when it is to be written
        alone, the usual way."""
        if not self._fresh(drill_id, live):
            return False
        assert self._write_lock is not None
        share = _Share(drill_id, live, batch)
        self._sharing.append(share)
        try:
            async with self._write_lock:
                if share.written.done():
                    return share.written.result()
                # Not answered: still waiting (a writer answers every share it takes,
                # written or not, even when it fails), so this one is among them.
                shares, self._sharing = self._sharing, []
                written = False
                try:
                    written = await self._write_together(shares)
                finally:
                    for each in shares:
                        if not each.written.done():
                            each.written.set_result(written)
                return written
        finally:
            if share in self._sharing:  # cancelled while waiting: nobody writes it
                self._sharing.remove(share)

    async def _write_together(self, shares: list[_Share]) -> bool:
        """One transaction for the batches of `shares` (the write lock is held). Each is
        decided as `_execute_batch` would on a fresh state; False, with nothing written,
        when any needs more (a stale state, the receipts read for a refusal, the whole
        log for released scores, a key or seq taken, the database refusing): each is then
        written alone, which knows how."""
        staged: list[tuple[_Share, _Plan]] = []
        async with self.sessions() as session:
            try:
                if not all(self._fresh(share.drill_id, share.live) for share in shares):
                    return False
                refused = await self._revoked(session, [(s.drill_id, s.batch) for s in shares])
                for share in shares:
                    valid = [r for r in share.batch if r not in refused]
                    if any(isinstance(r.command, c.ReleaseScores) for r in valid):
                        return False
                    plan = self._plan(share.drill_id, share.live, valid, {}, [])
                    if plan.refuses_a_key():
                        return False
                    plan.results.update((r, refused[r]) for r in share.batch if r in refused)
                    staged.append((share, plan))
                writing = [(share, plan) for share, plan in staged if plan.events]
                for share, plan in writing:
                    session.add_all(plan.rows_to_add(share.batch))
                    if snapshots.due(share.live.state.seq, plan.state.seq):
                        await session.merge(snapshots.stored(share.drill_id, plan.state))
                await repo.append_logs(session, {s.drill_id: p.events for s, p in writing})
                await repo.add_receipts_of(session, {s.drill_id: p.receipts for s, p in writing})
                await repo.set_drills_progress(
                    session,
                    [
                        (s.drill_id, str(p.state.status), p.state.seq, self._ended_at(p.state))
                        for s, p in writing
                    ],
                )
                await self._commit(session)
            except IntegrityError:
                await _rollback(session)
                return False
            except (StorageUnavailable, SQLAlchemyError, OSError) as exc:
                # Each batch alone meets the same refusal and reports it as it should.
                if StorageUnavailable.behind(exc) is None:
                    raise
                await _rollback(session)
                return False
        for share, plan in staged:
            if plan.events:
                share.live.state = plan.state
                share.live.remember(plan.events)
            plan.answer()
        return True

    async def _revoked(
        self, session: AsyncSession, batches: list[tuple[str, list[_Request]]]
    ) -> dict[_Request, DomainError]:
        """The requests (of each drill's batch) whose sender's credential no longer holds,
        each with its refusal. One read per sender, however many commands and drills."""
        wanted = {
            (request.credential, drill_id)
            for drill_id, batch in batches
            for request in batch
            if request.credential is not None
        }
        holding = await credentials.holding(session, wanted, self.clock()) if wanted else set()
        return {
            request: DomainError(
                Code.credential_revoked,
                "your session or participant token has ended; sign in or join again",
            )
            for drill_id, batch in batches
            for request in batch
            if request.credential is not None and (request.credential, drill_id) not in holding
        }

    async def announce_revoked(self, keys: list[str]) -> None:
        """Tell the listeners (the hub, the bus) that these credentials ended; called once
        the revocation is committed."""
        for listener in self.revocation_listeners:
            try:
                await listener(keys)
            except Exception as exc:  # committed already; the command path refuses anyway
                log.warning("could not announce a revocation: %s", exc)

    def _plan(
        self,
        drill_id: str,
        live: _Live,
        batch: list[_Request],
        applied: dict[str, str | None],
        log: list[Event],
    ) -> _Plan:
        """Decide a batch in order on a copy of the state (pure apart from the clock).
        `applied`: the keys already written, with their commands' hashes (None: a receipt
        older than the hashes, taken as the same command). `log`: the drill's log as
        written, when the batch releases the scores (their event carries the scorecard)."""
        plan = _Plan(live.state.copy())
        now = self.clock()
        # What fell due while the batch waited for the drill's lock is the clock's: fired
        # first, at the scenario time it was due (not the batch's), so the log's story
        # times go forward and no command acts on a decision whose time ran out.
        plan.events.extend(advance(live.scenario, plan.state, now))
        in_batch: dict[str, tuple[Outcome, str | None]] = {}
        for request in batch:
            key = request.key
            if key is not None and key in applied:
                if None not in (applied[key], request.digest) and applied[key] != request.digest:
                    plan.results[request] = _reused()
                else:
                    plan.repeats.append((request, key))
                continue
            if key is not None and key in in_batch:
                earlier, digest = in_batch[key]
                same = None in (digest, request.digest) or digest == request.digest
                plan.results[request] = replace(earlier, repeated=True) if same else _reused()
                continue
            command = request.command
            if isinstance(command, c.ReleaseScores) and not plan.state.scores_released:
                card = scoring.scorecard(live.scenario, log + plan.events)
                command = replace(command, scorecard=card.model_dump(mode="json"))
            try:
                events = decide(live.scenario, plan.state, command, now, request.actor)
            except DomainError as exc:
                plan.results[request] = exc
                continue
            for event in events:
                apply(live.scenario, plan.state, event)
            first = events[0].seq if events else plan.state.seq
            outcome = Outcome(drill_id, first, plan.state.seq, events)
            plan.events.extend(events)
            plan.results[request] = outcome
            if key is not None:
                in_batch[key] = (outcome, request.digest)
                plan.receipts.append((key, outcome.first_seq, outcome.last_seq, request.digest))
        return plan

    async def tick(self, drill_id: str) -> list[Event]:
        """Fire whatever has fallen due. Safe to call from any number of places; reads
        the database only when something is due or the cached state may be stale."""
        live = await self._get_live(drill_id)
        if self._fresh(drill_id, live) and not self._anything_due(live):
            return []
        caught: list[Event] = []
        async with live.lock:
            try:
                for _attempt in range(MAX_WRITE_ATTEMPTS):
                    async with self._write_session() as session:
                        caught += await self._catch_up(session, drill_id, live)
                        events = due(live.scenario, live.state, self.clock())
                        if not events or await self._write(session, drill_id, live, events, []):
                            break
                else:
                    raise StorageUnavailable("could not write the drill's due events")
            except StorageUnavailable:
                live.distrust()
                raise
        # Events found in the log that nobody announced (a commit whose answer was lost
        # with its connection) are published too, so connected clients get them now.
        written = events or caught
        if written:
            await self._notify(drill_id, written[-1].seq)
        return events

    async def _write(
        self,
        session: AsyncSession,
        drill_id: str,
        live: _Live,
        events: list[Event],
        receipts: list[tuple[str, int, int, str | None]],
        candidate: DrillState | None = None,
    ) -> bool:
        """Append in one transaction; False when another writer got there first.
        `candidate`: the state after `events`, when the caller has it already."""
        if candidate is None:
            candidate = live.state.copy()
            for event in events:
                apply(live.scenario, candidate, event)
        try:
            await repo.append_events(session, drill_id, events)
            await repo.add_receipts(session, drill_id, receipts)
            if snapshots.due(live.state.seq, candidate.seq):
                await session.merge(snapshots.stored(drill_id, candidate))
            await repo.set_drill_progress(
                session,
                drill_id,
                str(candidate.status),
                candidate.seq,
                self._ended_at(candidate),
            )
            await self._commit(session)
        except IntegrityError:
            await session.rollback()
            return False
        live.state = candidate
        live.remember(events)
        return True

    @staticmethod
    def _ended_at(state: DrillState) -> datetime | None:
        if state.status is not Status.ended:
            return None
        return datetime.fromtimestamp(state.anchor_wall, UTC)

    async def _commit(self, session: AsyncSession) -> None:
        """Flush, then COMMIT, so that a failure is known to have written nothing unless
        it came during the COMMIT itself (then, on PostgreSQL, the outcome is unknown)."""
        for committing in (False, True):
            try:
                await (session.commit() if committing else session.flush())
            except IntegrityError:
                raise
            except (SQLAlchemyError, OSError) as exc:
                if not is_unavailable(exc):
                    raise
                await _rollback(session)
                in_doubt = committing and self._commit_can_be_lost
                raise StorageUnavailable.from_error(exc, in_doubt=in_doubt) from exc

    async def _catch_up(self, session: AsyncSession, drill_id: str, live: _Live) -> list[Event]:
        """Apply what other workers (or an earlier life of this one) wrote since."""
        events = await repo.load_events(session, drill_id, live.state.seq)
        for event in events:
            apply(live.scenario, live.state, event)
        live.remember(events)
        return events

    def _fresh(self, drill_id: str, live: _Live) -> bool:
        """The cached state is as new as anything this process has heard of, and was
        read or written recently. On SQLite this process is the drills' only writer (one
        process serves a SQLite file; the command line only adds drills of its own), so
        its cache holds until a write fails (`distrust`): an idle drill's clock does not
        read the database four times a second to learn that nothing changed."""
        if live.state.seq < self._known_seq.get(drill_id, 0):
            return False
        if self._write_lock is not None:
            return live.checked > -math.inf
        return time.monotonic() - live.checked < FRESH_SECONDS

    def _anything_due(self, live: _Live) -> bool:
        state = live.state
        if state.status is not Status.running:
            return False
        return state.next_timer(limit=state.scenario_now(self.clock())) is not None

    def heard_of(self, drill_id: str, seq: int) -> None:
        """Another worker (or this one) committed up to `seq`: the cache is stale below it."""
        if seq > self._known_seq.get(drill_id, 0):
            self._known_seq[drill_id] = seq

    async def _get_live(self, drill_id: str) -> _Live:
        live = self._live.get(drill_id)
        if live is not None:
            return live
        return self._live.setdefault(drill_id, await self._load_live(drill_id))

    async def _load_live(self, drill_id: str) -> _Live:
        """The drill as the database holds it: its scenario and its log folded, from its
        last snapshot when there is one this engine can use."""
        async with self.sessions() as session:
            drill = await repo.get_drill(session, drill_id)
            if drill is None:
                raise DrillNotFound(drill_id)
            scenario = await self._scenario(session, drill.scenario_version_id)
            kept = snapshots.usable(await repo.stored_snapshot(session, drill_id))
            state = DrillState() if kept is None else kept

            def fold(events: list[Event]) -> list[Event]:
                for event in events:
                    apply(scenario, state, event)
                return events[-TAIL_EVENTS:]

            tail = await repo.with_events(session, drill_id, fold, state.seq)
        live = _Live(scenario, state)
        live.remember(tail)
        return live

    # ------------------------------------------------------------------ participants

    def join_code(self, drill_id: str) -> str:
        """The code people type to join: derived from the drill id, never stored."""
        return join_code_for(self.secret_key, drill_id)

    def white_cell_code(self, drill_id: str) -> str:
        """The code the white cell joins with, to play the outside parties."""
        return join_code_for(self.secret_key, drill_id, "white-cell")

    def is_white_cell_code(self, drill: Drill, typed: str) -> bool:
        code = normalise_join_code(typed)
        return bool(code) and drill.white_cell_code_hash == token_hash(code)

    async def ensure_white_cell_code(self, drill_id: str) -> None:
        """A drill made before the white cell gets its code's hash on first need."""
        async with self._write_session() as session:
            drill = await session.get(Drill, drill_id)
            if drill is not None and drill.white_cell_code_hash is None:
                drill.white_cell_code_hash = token_hash(self.white_cell_code(drill_id))
                await self._commit(session)

    async def drill_for_code(self, typed: str) -> Drill | None:
        code = normalise_join_code(typed)
        if not code:
            return None
        async with self.sessions() as session:
            return await repo.drill_by_join_code_hash(session, token_hash(code))

    async def join(
        self,
        drill_id: str,
        name: str,
        role: str | None,
        attempt: str | None = None,
        parties: tuple[str, ...] = (),
    ) -> tuple[str, str]:
        """A new participant: their id and their secret token (kept only as a hash).

        `attempt`: the client's id for this join (the join page puts a random one in its
        form). Sent again, after a 503 or an answer lost on the way, it joins the same
        participant once and hands out a new token for them (the first one's answer never
        arrived), never a second participant with the same name."""
        participant_id = str(
            uuid.uuid5(_JOIN_ATTEMPTS, f"{drill_id}:{attempt}") if attempt else uuid.uuid4()
        )
        token = new_token()
        row = ParticipantRow(
            id=participant_id,
            drill_id=drill_id,
            token_hash=token_hash(token),
            name=" ".join(name.split())[:80],
            role=role,
            parties=",".join(dict.fromkeys(parties)) or None,
        )
        outcome = await self.execute(
            drill_id,
            c.Join(participant_id, name, role, parties),
            c.Actor(participant_id),
            key=f"join:{attempt}" if attempt else None,
            also=[row],
            # The attempt is the join, whatever the form said the second time (a name
            # corrected after a lost answer): the first one stands.
            same_command=False,
        )
        if outcome.repeated:
            async with self._write_session() as session:
                old = await session.get(ParticipantRow, participant_id)
                replaced = None if old is None else old.token_hash
                await session.execute(
                    update(ParticipantRow)
                    .where(ParticipantRow.id == participant_id)
                    .values(token_hash=row.token_hash)
                )
                await self._commit(session)
            # The token the first answer carried is dead: its sockets close everywhere.
            if replaced is not None and replaced != row.token_hash:
                await self.announce_revoked([token_key(replaced)])
        return participant_id, token

    async def remove_participant(
        self, drill_id: str, participant_id: str, actor: c.Actor = c.FACILITATOR_ACTOR
    ) -> None:
        """The facilitator takes someone off the roster: their token dies (replaced by a
        hash nobody holds, committed first, so no command of theirs is logged after), their
        sockets close with 4001 on every worker, and the log records `participant_left`
        (nothing more if they had left already)."""
        async with self._write_session() as session:
            row = await session.get(ParticipantRow, participant_id)
            if row is None or row.drill_id != drill_id:
                raise DomainError(Code.unknown_participant, "no such participant in this drill")
            row.token_hash = token_hash(new_token())
            await self._commit(session)
        await self.announce_revoked([participant_key(participant_id)])
        try:
            await self.execute(drill_id, c.Leave(participant_id), actor)
        except DomainError as exc:
            if exc.code is not Code.unknown_participant:  # left already: nothing to log
                raise

    async def rerole_participant(
        self,
        drill_id: str,
        participant_id: str,
        role: str | None,
        actor: c.Actor = c.FACILITATOR_ACTOR,
    ) -> str:
        """The facilitator gives a participant another role (None: observer). The log has
        no event for a change of role, so it records what happened in its own words: the
        participant (under a new id) joins with the new role and the old id leaves. Their
        cookie stays good and now names the new id (a reload shows the new role); every
        socket opened as the old id closes with 4001, and no command of the old id is
        logged once the change commits (the token names another id from then on).
        Returns the new participant id."""
        async with self.sessions() as session:
            old = await session.get(ParticipantRow, participant_id)
        if old is None or old.drill_id != drill_id:
            raise DomainError(Code.unknown_participant, "no such participant in this drill")
        _, state = await self.state(drill_id)
        if state.status is Status.ended:
            raise DomainError(Code.drill_ended, "the drill has ended; roles no longer change")
        here = state.participants.get(participant_id)
        if here is None or not here.present:
            raise DomainError(Code.unknown_participant, "no such participant in this drill")
        if role is not None and role not in state.roles:
            raise DomainError(
                Code.unknown_role,
                f"{role!r} is not in play in this drill; choose from {', '.join(state.roles)}",
            )
        held = old.token_hash
        new_id = str(uuid.uuid4())
        # The old row lets go of the token first (it is unique), then the join's own
        # transaction gives it to the new id.
        async with self._write_session() as session:
            row = await session.get(ParticipantRow, participant_id)
            assert row is not None
            row.token_hash = token_hash(new_token())
            await self._commit(session)
        await self.announce_revoked([participant_key(participant_id)])
        moved = ParticipantRow(
            id=new_id, drill_id=drill_id, token_hash=held, name=old.name, role=role
        )
        await self.execute(drill_id, c.Join(new_id, old.name, role), c.Actor(new_id), also=[moved])
        await self.execute(drill_id, c.Leave(participant_id), actor)
        return new_id

    async def participant_for_token(self, drill_id: str, token: str) -> ParticipantRow | None:
        if not token:
            return None
        async with self.sessions() as session:
            row = await repo.participant_by_token_hash(session, token_hash(token))
            if row is None or row.drill_id != drill_id:
                return None
            drill = await session.get(Drill, drill_id)
        if drill is not None and drill.ended_at is not None:
            ended = drill.ended_at.replace(tzinfo=drill.ended_at.tzinfo or UTC).timestamp()
            if self.clock() > ended + self.participant_seconds_after_end:
                return None  # the drill is over, and so is the token
        return row

    # ------------------------------------------------------------------ reads

    async def state(self, drill_id: str) -> tuple[Scenario, DrillState]:
        live = self._live.get(drill_id)
        if live is None:
            loaded = await self._load_live(drill_id)
            live = self._live.setdefault(drill_id, loaded)
            if live is loaded:
                # Its whole log was read just now: as new as a catch-up would make it, and
                # no other task has seen it yet (so no lock is needed).
                return live.scenario, live.state.copy()
        # Reads always catch up: another worker may have written a moment ago.
        async with live.lock, self.sessions() as session:
            await self._catch_up(session, drill_id, live)
        return live.scenario, live.state.copy()

    async def events(
        self, drill_id: str, after_seq: int = 0, limit: int | None = None
    ) -> list[Event]:
        """The log after `after_seq`: recent events from memory when this process is up
        to date with the drill, else from the database."""
        live = self._live.get(drill_id)
        if live is not None and limit is None and self._fresh(drill_id, live):
            recent = live.recent(after_seq)
            if recent is not None:
                return recent
        async with self.sessions() as session:
            if await repo.get_drill(session, drill_id) is None:
                raise DrillNotFound(drill_id)
            return await repo.load_events(session, drill_id, after_seq, limit)

    async def with_log(self, drill: Drill, use: Callable[[Scenario, list[Event]], T]) -> T:
        """`use(scenario, log)`: the drill's scenario and whole log, read in one session and
        not folded, and what `use` returns. For what reviews score and report from (`state`
        would fold the log and keep the drill in memory, which a page listing a year of
        finished drills has no use for); the log is gone when `use` returns, so the
        collector has nothing of it to look at (`repo.with_events`).

        `use` runs in a worker thread, after the session is closed: a long drill's report
        takes a fifth of a second to build, and the live drills this event loop serves go
        on meanwhile (the interpreter switches threads every few milliseconds) instead of
        waiting for it. It must touch nothing the event loop mutates unlocked."""
        async with self.sessions() as session:
            scenario = await self._scenario(session, drill.scenario_version_id)
            rows = await repo.log_rows(session, drill.id)
        return await asyncio.to_thread(repo.use_log_rows, rows, partial(use, scenario))

    async def scenario_of(self, drill: Drill) -> Scenario:
        """The scenario a drill plays (parsed once per version in this process)."""
        cached = self._scenarios.get(drill.scenario_version_id)
        if cached is not None:  # the usual case: no session to open
            return cached
        async with self.sessions() as session:
            return await self._scenario(session, drill.scenario_version_id)

    async def regulatory(
        self, drill_id: str
    ) -> tuple[Scenario, DrillState, list[RegimeInPlay], float]:
        """The drill's regimes with every duty's clock as of now, the state (its notice
        drafts) and that scenario time."""
        scenario, state = await self.state(drill_id)
        now = state.scenario_now(self.clock())
        shown = filled_scenario(scenario, state.variables)  # parties named as in this drill
        return shown, state, regimes_in_play(shown, await self.events(drill_id), now), now

    async def scorecard(self, drill_id: str) -> scoring.Scorecard:
        """The drill's scores as of now, folded from its whole log (every view: console,
        participants after release, reviewers, the report)."""
        scenario, state = await self.state(drill_id)
        now = state.scenario_now(self.clock())
        return scoring.scorecard(scenario, await self.events(drill_id), now)

    async def scenario_assets(self, drill_id: str) -> list[ScenarioAsset]:
        """Every file of the bundle the drill's scenario came with (none for a YAML)."""
        drill = await self.drill(drill_id)
        async with self.sessions() as session:
            return await repo.scenario_assets(session, drill.scenario_version_id)

    async def attachment(self, drill_id: str, file: str) -> ScenarioAsset | None:
        """A file of the bundle the drill's scenario came with."""
        async with self.sessions() as session:
            drill = await repo.get_drill(session, drill_id)
            if drill is None:
                raise DrillNotFound(drill_id)
            return await session.scalar(
                select(ScenarioAsset).where(
                    ScenarioAsset.scenario_version_id == drill.scenario_version_id,
                    ScenarioAsset.path == file,
                )
            )

    async def drill(self, drill_id: str) -> Drill:
        async with self.sessions() as session:
            drill = await repo.get_drill(session, drill_id)
            if drill is None:
                raise DrillNotFound(drill_id)
            return drill

    async def scenario_source(self, drill_id: str) -> ScenarioVersion:
        async with self.sessions() as session:
            drill = await repo.get_drill(session, drill_id)
            if drill is None:
                raise DrillNotFound(drill_id)
            version = await repo.get_scenario_version(session, drill.scenario_version_id)
            assert version is not None
            return version

    async def list_drills(
        self, statuses: list[str] | None = None, run_by: int | None = None
    ) -> list[Drill]:
        async with self.sessions() as session:
            return await repo.list_drills(session, statuses, run_by)

    async def running_drill_ids(self) -> list[str]:
        """Asked by the clock every second: the ids alone, not the drills' rows."""
        async with self.sessions() as session:
            return await repo.drill_ids_with_status(session, str(Status.running))

    def next_wake(self, drill_id: str) -> float | None:
        """Wall time at which this drill next has something due, if it is cached."""
        live = self._live.get(drill_id)
        if live is None or live.state.status is not Status.running:
            return None
        upcoming = next_due(live.state)
        return None if upcoming is None else live.state.wall_time_of(upcoming)

    # ------------------------------------------------------------------ internals

    def writing(self) -> asyncio.Lock | _NoLock:
        """Held around every write to SQLite, which has one writer at a time: a write
        that slipped between another's read and write would fail at once ("database is
        locked") instead of waiting. Other writers to the same file (clock leases) take it
        too. On PostgreSQL it is a no-op."""
        return self._write_lock if self._write_lock is not None else _NO_LOCK

    @contextlib.asynccontextmanager
    async def _write_session(self) -> AsyncIterator[AsyncSession]:
        """A session for writing, under the write lock; a database that refuses or fails
        anywhere in it (a flush, a query, the commit) becomes StorageUnavailable, with
        nothing written."""
        async with self.writing(), self.sessions() as session:
            try:
                yield session
            except (SQLAlchemyError, OSError) as exc:
                # Not only OperationalError (SQLite's "locked", "full"): a PostgreSQL that
                # restarts drops connections with InterfaceError, bare DBAPIErrors and
                # socket errors (see is_unavailable). Anything else is a bug: raised as is.
                if not is_unavailable(exc):
                    raise
                await _rollback(session)
                raise StorageUnavailable.from_error(exc) from exc

    async def _notify(self, drill_id: str, seq: int) -> None:
        for listener in self.listeners:
            try:
                await listener(drill_id, seq)
            except (StorageUnavailable, SQLAlchemyError, OSError) as exc:
                if StorageUnavailable.behind(exc) is None:
                    raise
                # The events are committed; a listener that could not read them now (the
                # database went away just after) delivers them with the next notice. The
                # command that wrote them succeeded and must not be reported as failed.
                log.warning("drill %s: could not publish seq %d: %s", drill_id, seq, exc)


async def _rollback(session: AsyncSession) -> None:
    """Roll back after a database failure; on a dropped connection there is nothing to
    roll back and the attempt fails too (the pool discards the connection)."""
    with contextlib.suppress(SQLAlchemyError, OSError):
        await session.rollback()


class _NoLock:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NO_LOCK = _NoLock()
