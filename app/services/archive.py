"""One drill as one JSON file: `tabletop export-drill` and `tabletop import-drill`.

The file carries what cannot be rebuilt: the exact scenario text, the whole event log, the
reviewer's review and the improvement items, plus the drill row's metadata. It never
carries secrets: participants are written without their token hashes, and on import each
gets a fresh random one (old links die; people rejoin with the join code).

The log goes back in through `DrillService.import_events`, which replays it through the
engine and refuses one the rules would not produce. Everything is checked before anything
is written; then the drill, its log and its other rows (participants, the review, the
improvement items) are written in ONE transaction, so a failed import leaves nothing.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import Base64Bytes, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.authoring.bundle import MAX_ENTRIES, Asset, Bundle, bundle_sha256, sniff
from app.authoring.loader import Loaded, load_bundle, load_scenario_text
from app.db.models import (
    Drill,
    ImprovementItemRow,
    ParticipantRow,
    ReportReview,
)
from app.engine.core import replay
from app.engine.errors import DomainError
from app.engine.events import Event
from app.engine.payloads import DrillCreatedData, drill_created, stored
from app.reports.model import Element, ItemStatus, Review
from app.services.drills import DrillService, ScenarioInvalid, StorageUnavailable, new_drill_id
from app.services.reviews import ReviewService
from app.services.security import new_token, token_hash

FORMAT_KEY = "tabletop_drill_export"
FORMAT_VERSION = 1


class ArchiveError(ValueError):
    """A file that cannot be imported, with a one-line message that says why."""


class DrillExists(ArchiveError):
    """The drill id is taken: import under a fresh one with --as-new."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExportedDrillRow(_Strict):
    id: str = Field(min_length=1, max_length=36)
    name: str
    status: str
    created_by: str | None = None
    created_at: datetime
    ended_at: datetime | None = None


class ExportedAsset(_Strict):
    """A bundle file the scenario came with, base64 in the JSON."""

    path: str = Field(max_length=200)
    media_type: str = Field(max_length=100)
    data: Base64Bytes


class ExportedScenario(_Strict):
    source: str
    origin: str = ""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """Of the text, or for a bundle of the text and every file (app/authoring/bundle)."""
    assets: list[ExportedAsset] = Field(default_factory=list, max_length=MAX_ENTRIES)


class ExportedEvent(_Strict):
    seq: int
    type: str
    at: float
    scenario_time: float
    actor: str
    data: dict[str, Any]


class ExportedParticipant(_Strict):
    """No token, no token hash: the file is not a key to anyone's seat."""

    id: str = Field(min_length=1, max_length=36)
    name: str = Field(max_length=80)
    role: str | None = None
    created_at: datetime | None = None


class ExportedReview(_Strict):
    data: dict[str, Any]
    updated_by: str
    updated_at: float


class ExportedItem(_Strict):
    id: str = Field(min_length=1, max_length=36)
    scenario_id: str
    objective_id: str | None = None
    capability: str
    issue: str
    corrective_action: str
    element: Element
    responsible: str
    contact: str
    start: date | None = None
    due: date | None = None
    status: ItemStatus
    created_by: str | None = None
    created_at: float
    closed_by: str | None = None
    closed_at: float | None = None


class DrillExport(_Strict):
    """The file, as pydantic checks it: a bad one fails with the field's path."""

    tabletop_drill_export: Literal[1]
    exported_at: datetime | None = None
    drill: ExportedDrillRow
    scenario: ExportedScenario
    events: list[ExportedEvent] = Field(min_length=1)
    participants: list[ExportedParticipant]
    review: ExportedReview | None
    items: list[ExportedItem]


# ---------------------------------------------------------------------------- export


async def export_drill(
    service: DrillService, reviews: ReviewService, drill_id: str
) -> dict[str, Any]:
    """The drill as a JSON-ready dict (raises DrillNotFound). `reviews` is taken so the
    export reads through the same services the report does."""
    drill = await service.drill(drill_id)
    version = await service.scenario_source(drill_id)
    events = await service.events(drill_id)
    async with reviews.sessions() as session:
        participants = list(
            await session.scalars(
                select(ParticipantRow)
                .where(ParticipantRow.drill_id == drill_id)
                .order_by(ParticipantRow.created_at, ParticipantRow.id)
            )
        )
        review = await session.get(ReportReview, drill_id)
        items = list(
            await session.scalars(
                select(ImprovementItemRow)
                .where(ImprovementItemRow.drill_id == drill_id)
                .order_by(ImprovementItemRow.created_at, ImprovementItemRow.id)
            )
        )
    export = DrillExport(
        tabletop_drill_export=FORMAT_VERSION,
        exported_at=datetime.now().astimezone(),
        drill=ExportedDrillRow(
            id=drill.id,
            name=drill.name,
            status=drill.status,
            created_by=drill.created_by,
            created_at=drill.created_at,
            ended_at=drill.ended_at,
        ),
        scenario=ExportedScenario(
            source=version.source,
            origin=version.origin,
            sha256=version.sha256,
            assets=[
                # Base64Bytes takes the encoded form, as it reads it from a file.
                ExportedAsset(path=a.path, media_type=a.media_type, data=base64.b64encode(a.data))
                for a in await service.scenario_assets(drill_id)
            ],
        ),
        events=[ExportedEvent.model_validate(e.to_dict()) for e in events],
        participants=[
            ExportedParticipant(id=p.id, name=p.name, role=p.role, created_at=p.created_at)
            for p in participants
        ],
        review=None
        if review is None
        else ExportedReview(
            data=review.data, updated_by=review.updated_by, updated_at=review.updated_at
        ),
        items=[_exported_item(row) for row in items],
    )
    return export.model_dump(mode="json")


def _exported_item(row: ImprovementItemRow) -> ExportedItem:
    """The model reads the row's columns by name (element and status become enums)."""
    return ExportedItem.model_validate(row, from_attributes=True)


# ---------------------------------------------------------------------------- import


def parse_export(data: Any) -> DrillExport:
    """Check the file's shape: the marker first (so a stranger's JSON gets a plain
    answer), then every field, reported as `path: problem` on one line."""
    if not isinstance(data, dict) or FORMAT_KEY not in data:
        raise ArchiveError(f"not a Tabletop drill export (no {FORMAT_KEY!r} marker)")
    if data[FORMAT_KEY] != FORMAT_VERSION:
        raise ArchiveError(
            f"unsupported export version {data[FORMAT_KEY]!r}; this Tabletop reads version "
            f"{FORMAT_VERSION}"
        )
    try:
        export = DrillExport.model_validate(data)
        if export.review is not None:
            Review.model_validate(export.review.data)
    except ValidationError as exc:
        raise ArchiveError(f"invalid drill export: {_first_errors(exc)}") from None
    return export


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    shown = [
        f"{'.'.join(str(part) for part in err['loc']) or '(top)'}: {err['msg']}"
        for err in exc.errors()[:limit]
    ]
    more = exc.error_count() - len(shown)
    return "; ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def _events(export: DrillExport, drill_id: str) -> list[Event]:
    """The log as engine events, the creation event renamed to `drill_id` (as a saved
    dry run is), and replayed here first so a bad log is refused with a clear reason."""
    try:
        events = [Event.from_dict(e.model_dump()) for e in export.events]
    except ValueError as exc:
        raise ArchiveError(f"the event log has an unknown event: {exc}") from None
    # In a log the engine wrote the first event is drill_created; a file may hold anything.
    first = events[0]
    claimed: str = drill_created(first).get("drill_id", export.drill.id)
    if claimed != export.drill.id:
        raise ArchiveError("the event log belongs to another drill than the file's drill.id")
    renamed: DrillCreatedData = {**drill_created(first), "drill_id": drill_id}
    events[0] = replace(first, data=stored(renamed))
    loaded = _loaded(export)
    if not loaded.ok or loaded.scenario is None:
        raise ArchiveError("the scenario text in the file does not validate")
    try:
        replay(loaded.scenario, events)
    except (DomainError, ValueError, LookupError, TypeError, AttributeError) as exc:
        raise ArchiveError(f"the event log does not replay: {exc}") from None
    return events


def _assets(export: DrillExport) -> dict[str, Asset]:
    """The bundle files of the export, each checked by its content again."""
    found: dict[str, Asset] = {}
    for item in export.scenario.assets:
        media_type, why = sniff(item.path, item.data)
        if media_type is None:
            raise ArchiveError(f"the file's asset {item.path} is refused: {why}")
        found[item.path] = Asset(item.path, media_type, item.data)
    return found


def _loaded(export: DrillExport) -> Loaded:
    origin = export.scenario.origin or "export"
    assets = _assets(export)
    if assets:
        return load_bundle(Bundle(origin, export.scenario.source, assets, {}))
    return load_scenario_text(export.scenario.source, origin)


async def import_drill(
    service: DrillService, reviews: ReviewService, data: Any, as_new: bool = False
) -> str:
    """Restore an export into this database; returns the drill's id (fresh with
    `as_new`). Raises ArchiveError (DrillExists for a taken id) with nothing written."""
    export = parse_export(data)
    source = export.scenario.source
    assets = _assets(export)
    if bundle_sha256(source, assets) != export.scenario.sha256:
        raise ArchiveError("the scenario text does not match its sha256: the file was edited")
    drill_id = new_drill_id() if as_new else export.drill.id
    events = _events(export, drill_id)
    async with reviews.sessions() as session:
        if await session.get(Drill, drill_id) is not None:
            raise DrillExists(f"drill {drill_id} already exists here; import a copy with --as-new")
        taken = await _taken_ids(session, export)
    if taken and not as_new:
        raise DrillExists(
            f"participant or item ids of this drill already exist here ({taken[0]}); "
            "import a copy with --as-new"
        )
    meta = export.drill
    try:
        await service.import_events(
            source,
            export.scenario.origin,
            drill_id,
            events,
            created_by=meta.created_by,
            created_at=_aware(meta.created_at),
            also=_rows(export, drill_id, set(taken)),
            assets=assets,
        )
    except ScenarioInvalid:
        raise ArchiveError("the scenario text in the file does not validate") from None
    except IntegrityError as exc:  # the whole transaction rolled back: nothing written
        raise ArchiveError(
            f"the file's rows clash (a repeated id?), nothing was imported: {exc.orig}"
        ) from None
    except StorageUnavailable as exc:
        raise ArchiveError(f"{exc}; nothing was imported, try again") from None
    return drill_id


async def _taken_ids(session: AsyncSession, export: DrillExport) -> list[str]:
    """Participant and item ids of the file that rows here already use (ids are global)."""
    people = [p.id for p in export.participants]
    items = [i.id for i in export.items]
    found = list(
        await session.scalars(select(ParticipantRow.id).where(ParticipantRow.id.in_(people)))
    )
    found += await session.scalars(
        select(ImprovementItemRow.id).where(ImprovementItemRow.id.in_(items))
    )
    return found


def _rows(export: DrillExport, drill_id: str, taken: set[str]) -> list[object]:
    """Participants (each with a fresh secret), the review and the items, written in the
    drill's own transaction. A taken id (only with --as-new) gets a fresh one."""
    rows: list[object] = []
    for p in export.participants:
        row = ParticipantRow(
            id=str(uuid.uuid4()) if p.id in taken else p.id,
            drill_id=drill_id,
            token_hash=token_hash(new_token()),
            name=p.name,
            role=p.role,
        )
        if p.created_at is not None:
            row.created_at = _aware(p.created_at)
        rows.append(row)
    if export.review is not None:
        rows.append(
            ReportReview(
                drill_id=drill_id,
                data=Review.model_validate(export.review.data).model_dump(
                    mode="json", exclude={"updated_by", "updated_at"}
                ),
                updated_by=export.review.updated_by,
                updated_at=export.review.updated_at,
            )
        )
    for item in export.items:
        fields = item.model_dump(exclude={"id"})
        fields["element"], fields["status"] = item.element.value, item.status.value
        new_id = str(uuid.uuid4()) if item.id in taken else item.id
        rows.append(ImprovementItemRow(id=new_id, drill_id=drill_id, **fields))
    return rows


def _aware(moment: datetime) -> datetime:
    """SQLite hands back its UTC timestamps without a zone; PostgreSQL wants one."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


__all__ = [
    "ArchiveError",
    "DrillExists",
    "DrillExport",
    "export_drill",
    "import_drill",
    "parse_export",
]
