"""Reviews, improvement plans and the drill programme: the application service around the
after-action report.

The report itself is rebuilt from the drill's log every time (`app.reports.build`); what
is stored here is only what people add after the drill: a reviewer's ratings and texts,
and improvement items, which outlive their drill until someone closes them. Like the
accounts service, it owns its own short transactions; no drill's log is ever touched.
"""

from __future__ import annotations

import calendar
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import repository as repo
from app.db.models import Drill, ImprovementItemRow, ReportReview, StoredScorecard
from app.engine.events import Event
from app.engine.filled import drill_values, filled_scenario
from app.engine.scenario import Scenario
from app.engine.scoring import Dimension, Scorecard, ScoreItem, scorecard, total
from app.regimes.library import regime
from app.reports.build import DrillMeta, Inputs, build_report
from app.reports.model import (
    Element,
    ImprovementItem,
    ItemStatus,
    ObjectiveReview,
    Rating,
    Report,
    Review,
)
from app.services import scorecards
from app.services.drills import DrillService

log = logging.getLogger("tabletop.reviews")

MAX_TEXT = 2_000
MAX_LINES = 30


def _scored(scenario: Scenario, events: list[Event]) -> tuple[Scenario, int, Scorecard | None]:
    """A drill's scores and the last seq they are of (none for an empty log)."""
    if not events:
        return scenario, 0, None
    return scenario, events[-1].seq, scorecard(scenario, events)


class ReviewError(ValueError):
    """A refused edit, with a message that says how to fix it."""


@dataclass(frozen=True, slots=True)
class ItemDraft:
    """An improvement item as a reviewer types it, before it is checked."""

    capability: str
    issue: str
    corrective_action: str
    element: str
    responsible: str
    contact: str
    objective_id: str | None = None
    start: date | None = None
    due: date | None = None
    status: str = ItemStatus.open.value


@dataclass(frozen=True, slots=True)
class DrillRecord:
    """One drill of the programme, with its scores."""

    drill: Drill
    scenario: Scenario
    scores: Scorecard


def _clean(text: str, what: str, required: bool = True, limit: int = MAX_TEXT) -> str:
    cleaned = text.strip()
    if required and not cleaned:
        raise ReviewError(f"fill in the {what}")
    if len(cleaned) > limit:
        raise ReviewError(f"the {what} is too long (at most {limit:,} characters)")
    return cleaned


def lines_of(text: str) -> list[str]:
    """A textarea's bullet points: one per line, leading '-' or '*' dropped."""
    found = [line.strip().lstrip("-*• ").strip() for line in text.splitlines()]
    kept = [line for line in found if line]
    if len(kept) > MAX_LINES:
        raise ReviewError(f"keep it to {MAX_LINES} points")
    for line in kept:
        _clean(line, "point", limit=MAX_TEXT)
    return kept


def _item(row: ImprovementItemRow) -> ImprovementItem:
    """The model reads the row's columns by name (element and status become enums)."""
    return ImprovementItem.model_validate(row, from_attributes=True)


class ReviewService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        drills: DrillService,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessions = sessions
        self.drills = drills
        self.clock = clock
        self._scored: dict[str, tuple[int, Scenario, Scorecard]] = {}
        """Drill id -> (its last seq, scenario, scorecard): a log's scores change only
        with a new event, so the programme page and its charts reuse them."""

    # ------------------------------------------------------------------ the report

    async def report(self, drill_id: str) -> Report:
        report, _ = await self.report_with_scenario(drill_id)
        return report

    async def report_with_scenario(self, drill_id: str) -> tuple[Report, Scenario]:
        """The report and the scenario it was built from (renderers draw its graph). The
        scores come from the drill's stored scorecard while it holds (a reviewer opens,
        exports and edits a finished drill's report many times); else they are scored
        here and stored."""
        drill = await self.drills.drill(drill_id)
        review = await self.review(drill_id)
        items = await self.items(drill_id=drill_id)
        started = {d.id: d.created_at for d in await self.drills.list_drills()}
        earlier = [
            item
            for item in await self.items(status_open=True)
            if item.drill_id != drill_id
            and started.get(item.drill_id, drill.created_at) <= drill.created_at
        ]
        files = await self.drills.scenario_assets(drill_id)
        async with self.sessions() as session:
            stored = await repo.stored_scorecard(session, drill_id)

        def build(scenario: Scenario, events: list[Event]) -> tuple[Report, Scenario, int, bool]:
            # The log is needed only here: the report keeps what it shows of it.
            last_seq = events[-1].seq if events else 0
            scores = self._scores_held(drill_id, last_seq, stored)
            # Everything the report and its renderers show is the drill's text, variables
            # filled.
            filled = filled_scenario(
                scenario, drill_values(scenario, events[0].data if events else None)
            )
            inputs = Inputs(
                filled,
                events,
                DrillMeta(facilitator=drill.created_by),
                review,
                items,
                earlier,
                {f.path: (f.media_type, f.data) for f in files},
                scores,
            )
            return build_report(inputs, self.clock()), filled, last_seq, scores is None

        report, scenario, last_seq, scored = await self.drills.with_log(drill, build)
        if scored:
            await self._store_scorecards([(drill_id, last_seq, report.scores)])
        return report, scenario

    def _scores_held(
        self, drill_id: str, last_seq: int, stored: StoredScorecard | None
    ) -> Scorecard | None:
        """The drill's scorecard at `last_seq` from this process or its `stored` copy,
        when either still holds."""
        known = self._scored.get(drill_id)
        if known is not None and known[0] == last_seq:
            return known[2]
        return scorecards.still_true(stored, last_seq)

    # ------------------------------------------------------------------ reviewer's edits

    async def review(self, drill_id: str) -> Review:
        async with self.sessions() as session:
            row = await session.get(ReportReview, drill_id)
        if row is None:
            return Review()
        try:
            stored = Review.model_validate(row.data)
        except ValidationError:  # written by this service only; never let it break a report
            return Review()
        return stored.model_copy(
            update={"updated_by": row.updated_by, "updated_at": row.updated_at}
        )

    async def edit_objective(
        self,
        drill_id: str,
        objective_id: str,
        user: str,
        *,
        rating: str | None,
        strengths: str,
        improvements: str,
    ) -> Review:
        """Set an objective's rating ('' goes back to the derived one) and its texts."""
        scenario, _ = await self.drills.state(drill_id)
        if objective_id not in scenario.objectives:
            raise ReviewError(
                f"{objective_id!r} is not an objective of this drill's scenario; "
                f"choose from {', '.join(scenario.objectives)}"
            )
        chosen = None
        if rating:
            try:
                chosen = Rating(rating)
            except ValueError:
                raise ReviewError("rate it P, S, M or U") from None
        current = await self.review(drill_id)
        objectives = dict(current.objectives)
        objectives[objective_id] = ObjectiveReview(
            rating=chosen, strengths=lines_of(strengths), improvements=lines_of(improvements)
        )
        return await self._save(
            drill_id, current.model_copy(update={"objectives": objectives}), user
        )

    async def edit_summary(self, drill_id: str, summary: str, user: str) -> Review:
        await self.drills.drill(drill_id)
        text = _clean(summary, "summary", required=False, limit=10 * MAX_TEXT)
        current = await self.review(drill_id)
        return await self._save(
            drill_id, current.model_copy(update={"summary": text or None}), user
        )

    async def _save(self, drill_id: str, review: Review, user: str) -> Review:
        data = review.model_dump(mode="json", exclude={"updated_by", "updated_at"})
        now = self.clock()
        async with self.drills.writing(), self.sessions() as session, session.begin():
            row = await session.get(ReportReview, drill_id)
            if row is None:
                session.add(
                    ReportReview(drill_id=drill_id, data=data, updated_by=user, updated_at=now)
                )
            else:
                row.data, row.updated_by, row.updated_at = data, user, now
        return review.model_copy(update={"updated_by": user, "updated_at": now})

    # ------------------------------------------------------------------ improvement items

    async def items(
        self, drill_id: str | None = None, status_open: bool = False
    ) -> list[ImprovementItem]:
        query = select(ImprovementItemRow).order_by(
            ImprovementItemRow.created_at, ImprovementItemRow.id
        )
        if drill_id is not None:
            query = query.where(ImprovementItemRow.drill_id == drill_id)
        if status_open:
            query = query.where(ImprovementItemRow.status != ItemStatus.closed.value)
        async with self.sessions() as session:
            return [_item(row) for row in await session.scalars(query)]

    async def add_item(self, drill_id: str, draft: ItemDraft, user: str) -> ImprovementItem:
        scenario, _ = await self.drills.state(drill_id)
        row = ImprovementItemRow(
            id=str(uuid.uuid4()),
            drill_id=drill_id,
            scenario_id=scenario.id,
            created_by=user,
            created_at=self.clock(),
        )
        self._fill(row, draft, scenario, user)
        async with self.drills.writing(), self.sessions() as session, session.begin():
            session.add(row)
        return _item(row)

    async def update_item(self, item_id: str, draft: ItemDraft, user: str) -> ImprovementItem:
        async with self.drills.writing(), self.sessions() as session, session.begin():
            row = await self._row(session, item_id)
            scenario, _ = await self.drills.state(row.drill_id)
            self._fill(row, draft, scenario, user)
            return _item(row)

    async def set_item_status(self, item_id: str, status: str, user: str) -> ImprovementItem:
        """Close (recording who and when) or reopen an item."""
        new = _status(status)
        async with self.drills.writing(), self.sessions() as session, session.begin():
            row = await self._row(session, item_id)
            self._move(row, new, user)
            return _item(row)

    async def _row(self, session: AsyncSession, item_id: str) -> ImprovementItemRow:
        row = await session.get(ImprovementItemRow, item_id)
        if row is None:
            raise ReviewError("no such improvement item; reload the page")
        return row

    def _fill(
        self, row: ImprovementItemRow, draft: ItemDraft, scenario: Scenario, user: str
    ) -> None:
        if draft.objective_id and draft.objective_id not in scenario.objectives:
            raise ReviewError(
                f"{draft.objective_id!r} is not an objective of this drill's scenario"
            )
        try:
            element = Element(draft.element)
        except ValueError:
            raise ReviewError(
                f"choose a capability element: {', '.join(e.value for e in Element)}"
            ) from None
        if draft.start and draft.due and draft.due < draft.start:
            raise ReviewError("the due date is before the start date")
        row.objective_id = draft.objective_id or None
        row.capability = _clean(draft.capability, "capability", limit=300)
        row.issue = _clean(draft.issue, "issue")
        row.corrective_action = _clean(draft.corrective_action, "corrective action")
        row.element = element.value
        row.responsible = _clean(draft.responsible, "responsible team", limit=200)
        row.contact = _clean(draft.contact, "point of contact", limit=200)
        row.start, row.due = draft.start, draft.due
        self._move(row, _status(draft.status), user)

    def _move(self, row: ImprovementItemRow, new: ItemStatus, user: str) -> None:
        if new is ItemStatus.closed and row.status != ItemStatus.closed.value:
            row.closed_by, row.closed_at = user, self.clock()
        elif new is not ItemStatus.closed:
            row.closed_by, row.closed_at = None, None
        row.status = new.value

    # ------------------------------------------------------------------ the programme

    async def records(self) -> list[DrillRecord]:
        """Every drill that started, oldest first, with its scores. A drill is loaded and
        scored only when neither this process nor the database (app/services/scorecards)
        holds its scorecard for its current last seq; what is scored here is stored."""
        records = []
        scored: list[tuple[str, int, Scorecard]] = []
        stored: dict[str, StoredScorecard] | None = None
        for drill in sorted(await self.drills.list_drills(), key=lambda d: d.created_at):
            if drill.status in ("new", "lobby"):  # not started: nothing to score, skip loading
                continue
            known = self._scored.get(drill.id)
            if known is not None and known[0] == drill.last_seq:
                records.append(DrillRecord(drill, known[1], known[2]))
                continue
            if stored is None:  # one read for every drill this process has not seen
                stored = await self._stored_scorecards()
            scores = scorecards.still_true(stored.get(drill.id), drill.last_seq)
            if scores is not None:
                scenario = await self.drills.scenario_of(drill)
            else:
                scenario, last_seq, scores = await self.drills.with_log(drill, _scored)
                if scores is None:  # pragma: no cover - deleted between the two reads
                    continue
                if last_seq != drill.last_seq:  # moved meanwhile
                    records.append(DrillRecord(drill, scenario, scores))
                    continue
                scored.append((drill.id, drill.last_seq, scores))
            self._scored[drill.id] = (drill.last_seq, scenario, scores)
            records.append(DrillRecord(drill, scenario, scores))
        if scored:
            await self._store_scorecards(scored)
        return records

    async def _stored_scorecards(self) -> dict[str, StoredScorecard]:
        async with self.sessions() as session:
            return await repo.stored_scorecards(session)

    async def _store_scorecards(self, scored: list[tuple[str, int, Scorecard]]) -> None:
        """Keep what was just scored. Only a copy: when the database cannot take it now,
        the page still shows the scores, and the next view scores those drills again."""
        try:
            async with self.drills.writing(), self.sessions() as session, session.begin():
                for drill_id, last_seq, scores in scored:
                    await session.merge(scorecards.stored(drill_id, last_seq, scores))
        except SQLAlchemyError:
            log.warning("could not store %d scorecards; they are scored again", len(scored))


def _status(value: str) -> ItemStatus:
    try:
        return ItemStatus(value)
    except ValueError:
        raise ReviewError(f"status is one of {', '.join(s.value for s in ItemStatus)}") from None


def days_late(item: ImprovementItem, today: date) -> int:
    """Whole days past the due date for an item still open; 0 if not late."""
    if item.status is ItemStatus.closed or item.due is None:
        return 0
    return max(0, (today - item.due).days)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Aug + 6 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def utc_date(moment: datetime | float) -> date:
    if isinstance(moment, datetime):
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()
    return datetime.fromtimestamp(moment, UTC).date()


def regime_trends(records: Sequence[DrillRecord]) -> dict[str, list[float | None]]:
    """Per notification regime (by name), the share of its duties' points each drill
    earned, as a percentage; None where a drill did not play the regime or settled none
    of its duties."""
    series: dict[str, list[float | None]] = {}
    for i, record in enumerate(records):
        by_regime: dict[str, list[ScoreItem]] = {}
        for item in record.scores.items:
            if item.dimension is Dimension.regulatory:
                by_regime.setdefault(item.ref.partition(".")[0], []).append(item)
        for regime_id, items in by_regime.items():
            name = regime(regime_id).name
            series.setdefault(name, [None] * len(records))[i] = total(items).percent
    return series


def programme_trends(
    records: Sequence[DrillRecord],
) -> tuple[list[str], dict[str, list[float | None]], dict[str, list[float | None]]]:
    """Score trends across drills: labels, per objective (by capability) and per role
    (by title), as percentages, None where a drill did not exercise it."""
    labels = [f"{r.drill.name} ({utc_date(r.drill.created_at).isoformat()})" for r in records]
    objectives: dict[str, list[float | None]] = {}
    roles: dict[str, list[float | None]] = {}
    for i, record in enumerate(records):
        for objective_id, score in record.scores.objectives.items():
            spec = record.scenario.objectives[objective_id]
            key = spec.capability or spec.title
            objectives.setdefault(key, [None] * len(records))[i] = score.percent
        for role, score in record.scores.roles.items():
            key = record.scenario.role_title(role)
            roles.setdefault(key, [None] * len(records))[i] = score.percent
    return labels, objectives, roles
