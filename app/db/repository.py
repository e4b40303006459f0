"""Reads and writes of the tables. Never commits: the drills service owns transactions."""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    ColumnElement,
    Result,
    Row,
    Select,
    Table,
    Text,
    bindparam,
    cast,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import (
    ApiToken,
    CommandReceipt,
    Drill,
    DrillEvent,
    DrillFacilitator,
    ParticipantRow,
    ScenarioAsset,
    ScenarioVersion,
    StoredScorecard,
    StoredSnapshot,
    User,
    WebSession,
)
from app.engine.events import Event, event_type, stored_event
from app.heap import collector_held

T = TypeVar("T")


async def scenario_by_sha(session: AsyncSession, sha256: str) -> ScenarioVersion | None:
    return await session.scalar(select(ScenarioVersion).where(ScenarioVersion.sha256 == sha256))


async def get_scenario_version(session: AsyncSession, version_id: int) -> ScenarioVersion | None:
    return await session.get(ScenarioVersion, version_id)


async def add_scenario_version(session: AsyncSession, version: ScenarioVersion) -> ScenarioVersion:
    session.add(version)
    await session.flush()
    return version


async def get_drill(session: AsyncSession, drill_id: str) -> Drill | None:
    return await session.get(Drill, drill_id)


async def list_drills(
    session: AsyncSession, statuses: Sequence[str] | None = None, run_by: int | None = None
) -> list[Drill]:
    """`run_by`: only the drills this account may run (its own, those it co-facilitates,
    and those open to every facilitator)."""
    query = select(Drill).order_by(Drill.created_at.desc(), Drill.id)
    if statuses is not None:
        query = query.where(Drill.status.in_(statuses))
    if run_by is not None:
        runs = select(DrillFacilitator.drill_id).where(DrillFacilitator.drill_id == Drill.id)
        query = query.where(
            or_(~runs.exists(), runs.where(DrillFacilitator.user_id == run_by).exists())
        )
    return list(await session.scalars(query))


def add_drill(session: AsyncSession, drill: Drill) -> None:
    session.add(drill)


async def load_events(
    session: AsyncSession, drill_id: str, after_seq: int = 0, limit: int | None = None
) -> list[Event]:
    """The drill's events after `after_seq`, in order."""
    result = await _event_rows(session, drill_id, after_seq, limit)
    with collector_held():  # 10,000 events and their payloads, all kept
        return [_decoded(row) for row in result.all()]


async def with_events(
    session: AsyncSession, drill_id: str, use: Callable[[list[Event]], T], after_seq: int = 0
) -> T:
    """`use(events)`, the drill's log after `after_seq` (by default all of it), and what it
    returns.

    For work that needs a long log only while it runs (a restarted server's fold, a
    report's build): the rows are decoded and used with the collector held, and the
    events are gone, but for what `use` keeps, when it resumes; its one pass then looks at
    what `use` made, not at 10,000 events about to be freed (as `load_events` and then
    the work would: a sixth of a long drill's rebuild)."""
    return use_log_rows(await log_rows(session, drill_id, after_seq), use)


async def log_rows(session: AsyncSession, drill_id: str, after_seq: int = 0) -> list[Any]:
    """The drill's log after `after_seq` as stored rows, not yet decoded: for
    `use_log_rows`, which may run where no session is (a worker thread)."""
    return list((await _event_rows(session, drill_id, after_seq, None)).all())


def use_log_rows(rows: list[Any], use: Callable[[list[Event]], T]) -> T:
    """`use(events)` on `rows` decoded, with the collector held (see `with_events`)."""
    with collector_held():
        return use([_decoded(row) for row in rows])


async def _event_rows(
    session: AsyncSession, drill_id: str, after_seq: int, limit: int | None
) -> Result[Any]:
    """A restarted server folds a drill's whole log (10,000 events in a long drill), so rows
    are read as plain columns, not ORM entities (an entity costs several times a row: the
    identity map, instance state), and the JSON payload is read as text and decoded by
    `_decoded`, at a quarter of the cost of the column type's `json.loads` per row."""
    if session.autoflush and session.new:  # as an ORM query would: see events just added
        await session.flush()
    columns = DrillEvent.__table__.c
    query = (
        select(
            columns.seq,
            columns.type,
            columns.at,
            columns.scenario_time,
            columns.actor,
            cast(columns.data, Text),
        )
        .where(columns.drill_id == drill_id, columns.seq > after_seq)
        .order_by(columns.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    return await session.execute(query)


def _decoded(row: Sequence[Any]) -> Event:
    seq, kind, at, scenario_time, actor, data = row
    return stored_event(seq, event_type(kind), at, scenario_time, actor, _decode_json(data))


def _decode_json(text: str) -> Any:
    """`json.loads(text)` for what our JSON columns hold, by orjson: half the standard
    library's time on an event's payload, which a log read decodes 10,000 times. What
    orjson refuses and `json` reads (NaN, integers beyond 64 bits: `json.dumps` writes
    both) takes the standard library's way."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


async def last_seq(session: AsyncSession, drill_id: str) -> int:
    found = await session.scalar(
        select(func.max(DrillEvent.seq)).where(DrillEvent.drill_id == drill_id)
    )
    return int(found or 0)


def to_event(row: DrillEvent) -> Event:
    return Event(row.seq, event_type(row.type), row.at, row.scenario_time, row.actor, row.data)


_EVENTS = typing.cast(Table, DrillEvent.__table__)
_RECEIPTS = typing.cast(Table, CommandReceipt.__table__)
_DRILLS = typing.cast(Table, Drill.__table__)
_IDS_WITH_STATUS = select(_DRILLS.c.id).where(_DRILLS.c.status == bindparam("status"))


async def drill_ids_with_status(session: AsyncSession, status: str) -> list[str]:
    return list(await session.scalars(_IDS_WITH_STATUS, {"status": status}))


_PROGRESS = (
    update(_DRILLS)
    .where(_DRILLS.c.id == bindparam("drill"))
    .values(
        status=bindparam("new_status"),
        last_seq=bindparam("new_last_seq"),
        ended_at=bindparam("new_ended_at"),
    )
)
"""Built once: every write of every drill runs it."""


async def set_drill_progress(
    session: AsyncSession, drill_id: str, status: str, last_seq: int, ended_at: datetime | None
) -> None:
    """Mirror the log's status and last seq on the drill's row: one UPDATE, no SELECT."""
    await set_drills_progress(session, [(drill_id, status, last_seq, ended_at)])


async def set_drills_progress(
    session: AsyncSession, rows: Sequence[tuple[str, str, int, datetime | None]]
) -> None:
    """set_drill_progress for several drills in one statement: (drill id, status, last
    seq, ended at) each."""
    if not rows:
        return
    await session.execute(
        _PROGRESS,
        [
            {"drill": drill_id, "new_status": status, "new_last_seq": seq, "new_ended_at": ended}
            for drill_id, status, seq, ended in rows
        ],
    )


async def append_events(session: AsyncSession, drill_id: str, events: Sequence[Event]) -> None:
    """Insert the events at once, as plain rows: a command's write is the hot path of
    every drill, and the ORM's unit of work costs more than the insert itself. A seq
    another writer took raises IntegrityError here."""
    await append_logs(session, {drill_id: events})


async def append_logs(session: AsyncSession, logs: Mapping[str, Sequence[Event]]) -> None:
    """append_events for several drills in one statement: their new events, by drill id."""
    rows = [
        {
            "drill_id": drill_id,
            "seq": e.seq,
            "type": str(e.type),
            "at": e.at,
            "scenario_time": e.scenario_time,
            "actor": e.actor,
            "data": e.data,
        }
        for drill_id, events in logs.items()
        for e in events
    ]
    if rows:
        await session.execute(insert(_EVENTS), rows)


_RECEIPTS_OF = select(
    _RECEIPTS.c.key, _RECEIPTS.c.first_seq, _RECEIPTS.c.last_seq, _RECEIPTS.c.command_hash
).where(
    _RECEIPTS.c.drill_id == bindparam("drill"),
    _RECEIPTS.c.key.in_(bindparam("keys", expanding=True)),
)


Receipt = Row[str, int, int, str | None]
"""A command receipt's key, first_seq, last_seq and command_hash."""


async def find_receipts(
    session: AsyncSession, drill_id: str, keys: list[str]
) -> dict[str, Receipt]:
    """The receipts of those command keys that were already applied, by key: each with
    key, first_seq, last_seq and command_hash."""
    if not keys:
        return {}
    rows = await session.execute(_RECEIPTS_OF, {"drill": drill_id, "keys": keys})
    return {row.key: row for row in rows}


async def add_receipts(
    session: AsyncSession, drill_id: str, receipts: Sequence[tuple[str, int, int, str | None]]
) -> None:
    """Claim command keys: (key, first seq, last seq, command hash) each, as plain rows.
    A key already claimed raises IntegrityError here."""
    await add_receipts_of(session, {drill_id: receipts})


async def add_receipts_of(
    session: AsyncSession, receipts: Mapping[str, Sequence[tuple[str, int, int, str | None]]]
) -> None:
    """add_receipts for several drills in one statement: their receipts, by drill id."""
    rows = [
        {
            "drill_id": drill_id,
            "key": key,
            "first_seq": first_seq,
            "last_seq": last_seq,
            "command_hash": command_hash,
        }
        for drill_id, claimed in receipts.items()
        for key, first_seq, last_seq, command_hash in claimed
    ]
    if rows:
        await session.execute(insert(_RECEIPTS), rows)


async def drill_by_join_code_hash(session: AsyncSession, code_hash: str) -> Drill | None:
    """The drill whose team code or white-cell code this is."""
    return await session.scalar(
        select(Drill).where(
            or_(Drill.join_code_hash == code_hash, Drill.white_cell_code_hash == code_hash)
        )
    )


async def may_facilitate(session: AsyncSession, drill_id: str, user_id: int) -> bool:
    """The account runs this drill, or the drill has no facilitators (open to all): the
    rule a command's credential is checked by too (`_runs_the_drill`)."""
    runs = await session.scalar(_MAY_FACILITATE, {"drill_id": drill_id, "user_id": user_id})
    return bool(runs)


_FACILITATORS = typing.cast(Table, DrillFacilitator.__table__)
_USERS = typing.cast(Table, User.__table__)
_API_TOKENS = typing.cast(Table, ApiToken.__table__)
_WEB_SESSIONS = typing.cast(Table, WebSession.__table__)
_PARTICIPANTS = typing.cast(Table, ParticipantRow.__table__)


def _runs_the_drill(
    user_id: ColumnElement[int], drill_id: ColumnElement[str]
) -> ColumnElement[bool]:
    """The account runs the drill, or the drill has no facilitators (open to all):
    may_facilitate as a column. Each facilitator row read is read FOR SHARE, so a removal
    waits for the command that read it (credentials.holding)."""
    rows = select(_FACILITATORS.c.user_id).where(_FACILITATORS.c.drill_id == drill_id)
    runs = rows.where(_FACILITATORS.c.user_id == user_id).with_for_update(read=True).exists()
    anyone = rows.with_for_update(read=True).exists()
    return or_(runs, ~anyone).label("runs_the_drill")


_MAY_FACILITATE = select(_runs_the_drill(bindparam("user_id"), bindparam("drill_id")))


# A command's credential is read again in the transaction that writes it: one statement
# each, built once (a command's write is the hot path, and building and keying a
# statement costs more than SQLite running it). The credential's and its account's rows
# are read FOR SHARE (PostgreSQL; SQLite has its one write lock): a revocation waits for
# a command that read them, and a command after the revocation finds it.
def _account_standing(credentials: Table, *columns: ColumnElement[Any]) -> Select[Any]:
    """An account's credential (a row of `credentials`, by `:token_hash`) on each drill of
    `:drill_ids`: one row per drill, with the drill's id, the credential's user_id,
    `columns`, the account's disabled_at, and runs_the_drill. One statement however many
    drills: SQLite's group commit checks a facilitator's commands on all their drills at
    once."""
    drills = _DRILLS.c.id.in_(bindparam("drill_ids", expanding=True))
    return (
        select(
            _DRILLS.c.id.label("drill_id"),
            credentials.c.user_id,
            *columns,
            _USERS.c.disabled_at,
            _runs_the_drill(credentials.c.user_id, _DRILLS.c.id),
        )
        .join_from(credentials, _USERS, _USERS.c.id == credentials.c.user_id)
        .join(_DRILLS, drills)
        .where(credentials.c.token_hash == bindparam("token_hash"))
        .with_for_update(read=True, of=[credentials, _USERS])
    )


_API_TOKEN_STANDING = _account_standing(_API_TOKENS, _API_TOKENS.c.revoked_at)
_SESSION_STANDING = _account_standing(
    _WEB_SESSIONS,
    _WEB_SESSIONS.c.expires_at,
    _WEB_SESSIONS.c.created_at,
    _WEB_SESSIONS.c.last_seen_at,
)
_PARTICIPANT_STANDING: Select[Any] = (
    select(_PARTICIPANTS.c.id, _PARTICIPANTS.c.drill_id, _PARTICIPANTS.c.role)
    .where(_PARTICIPANTS.c.token_hash == bindparam("token_hash"))
    .with_for_update(read=True)
)


async def api_token_standing(
    session: AsyncSession, token_hash: str, drill_ids: Sequence[str]
) -> dict[str, Row[Any]]:
    """An API token with its account, by drill id (none: no such token): user_id,
    revoked_at, disabled_at, runs_the_drill."""
    found = await session.execute(
        _API_TOKEN_STANDING, {"token_hash": token_hash, "drill_ids": list(drill_ids)}
    )
    return {row.drill_id: row for row in found}


async def session_standing(
    session: AsyncSession, token_hash: str, drill_ids: Sequence[str]
) -> dict[str, Row[Any]]:
    """A signed-in session with its account, by drill id (none: no such session): user_id,
    expires_at, created_at, last_seen_at, disabled_at, runs_the_drill."""
    found = await session.execute(
        _SESSION_STANDING, {"token_hash": token_hash, "drill_ids": list(drill_ids)}
    )
    return {row.drill_id: row for row in found}


async def participant_standing(session: AsyncSession, token_hash: str) -> Row[Any] | None:
    """A participant token's holder: id, drill_id, role."""
    found = await session.execute(_PARTICIPANT_STANDING, {"token_hash": token_hash})
    row: Row[Any] | None = found.first()
    return row


async def participant_by_token_hash(session: AsyncSession, digest: str) -> ParticipantRow | None:
    return await session.scalar(select(ParticipantRow).where(ParticipantRow.token_hash == digest))


UPLOAD_ORIGIN = "upload:"


async def uploaded_scenarios(session: AsyncSession) -> list[ScenarioVersion]:
    """Scenarios uploaded through the web page: the newest version of each scenario id."""
    rows = await session.scalars(
        select(ScenarioVersion)
        .where(ScenarioVersion.origin.startswith(UPLOAD_ORIGIN, autoescape=True))
        .order_by(ScenarioVersion.id.desc())
    )
    newest: dict[str, ScenarioVersion] = {}
    for row in rows:
        newest.setdefault(row.scenario_id, row)
    return sorted(newest.values(), key=lambda r: r.title.lower())


async def uploaded_scenario_by_sha_prefix(
    session: AsyncSession, prefix: str
) -> ScenarioVersion | None:
    """An uploaded scenario by the start of its sha256 (the key the pages address it by)."""
    if not prefix or any(ch not in "0123456789abcdef" for ch in prefix):
        return None
    rows = list(
        await session.scalars(
            select(ScenarioVersion)
            .where(
                ScenarioVersion.sha256.startswith(prefix),
                ScenarioVersion.origin.startswith(UPLOAD_ORIGIN, autoescape=True),
            )
            .limit(2)
        )
    )
    return rows[0] if len(rows) == 1 else None


async def scenario_assets(session: AsyncSession, version_id: int) -> list[ScenarioAsset]:
    """The bundle files stored with a scenario version (none for a plain YAML)."""
    rows = await session.scalars(
        select(ScenarioAsset)
        .where(ScenarioAsset.scenario_version_id == version_id)
        .order_by(ScenarioAsset.path)
    )
    return list(rows)


async def stored_snapshot(session: AsyncSession, drill_id: str) -> StoredSnapshot | None:
    return await session.get(StoredSnapshot, drill_id)


async def stored_scorecard(session: AsyncSession, drill_id: str) -> StoredScorecard | None:
    return await session.get(StoredScorecard, drill_id)


async def stored_scorecards(session: AsyncSession) -> dict[str, StoredScorecard]:
    """Every stored scorecard, by drill id."""
    return {row.drill_id: row for row in await session.scalars(select(StoredScorecard))}
