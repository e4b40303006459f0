"""Reads and writes of the tables. Never commits: the drills service owns transactions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import CommandReceipt, Drill, DrillEvent, ParticipantRow, ScenarioVersion
from app.engine.events import Event, EventType


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


async def list_drills(session: AsyncSession, statuses: Sequence[str] | None = None) -> list[Drill]:
    query = select(Drill).order_by(Drill.created_at.desc(), Drill.id)
    if statuses is not None:
        query = query.where(Drill.status.in_(statuses))
    return list(await session.scalars(query))


def add_drill(session: AsyncSession, drill: Drill) -> None:
    session.add(drill)


async def load_events(
    session: AsyncSession, drill_id: str, after_seq: int = 0, limit: int | None = None
) -> list[Event]:
    query = (
        select(DrillEvent)
        .where(DrillEvent.drill_id == drill_id, DrillEvent.seq > after_seq)
        .order_by(DrillEvent.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = await session.scalars(query)
    return [to_event(row) for row in rows]


async def last_seq(session: AsyncSession, drill_id: str) -> int:
    found = await session.scalar(
        select(func.max(DrillEvent.seq)).where(DrillEvent.drill_id == drill_id)
    )
    return int(found or 0)


def to_event(row: DrillEvent) -> Event:
    return Event(row.seq, EventType(row.type), row.at, row.scenario_time, row.actor, row.data)


def append_events(session: AsyncSession, drill_id: str, events: Sequence[Event]) -> None:
    session.add_all(
        DrillEvent(
            drill_id=drill_id,
            seq=e.seq,
            type=str(e.type),
            at=e.at,
            scenario_time=e.scenario_time,
            actor=e.actor,
            data=e.data,
        )
        for e in events
    )


async def find_receipt(session: AsyncSession, drill_id: str, key: str) -> CommandReceipt | None:
    return await session.get(CommandReceipt, (drill_id, key))


def add_receipt(
    session: AsyncSession, drill_id: str, key: str, first_seq: int, last_seq: int
) -> None:
    session.add(CommandReceipt(drill_id=drill_id, key=key, first_seq=first_seq, last_seq=last_seq))


async def drill_by_join_code_hash(session: AsyncSession, code_hash: str) -> Drill | None:
    return await session.scalar(select(Drill).where(Drill.join_code_hash == code_hash))


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
