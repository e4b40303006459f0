"""Reviews and improvement plans on real databases: edits persist, items outlive drills."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.engine import commands as c
from app.reports.model import ItemStatus, Rating
from app.services.drills import DrillService
from app.services.reviews import ItemDraft, ReviewError, ReviewService, add_months, days_late
from tests.conftest import FakeClock

MINI = (Path(__file__).parents[1] / "fixtures" / "mini.yaml").read_text()


async def _ended_drill(service: DrillService, clock: FakeClock, drill_id: str) -> str:
    """A mini drill: the executive refuses to pay (decide +10), nobody tells legal."""
    await service.create_drill(MINI, "mini.yaml", c.CreateDrill(drill_id, f"Drill {drill_id}"))
    await service.execute(drill_id, c.Join("p-ex", "Dana Exec", "executive"), c.Actor("p-ex"))
    await service.execute(drill_id, c.StartClock())
    clock.advance(60)  # speed 10: scenario 10 minutes, the note opens `pay`
    await service.tick(drill_id)
    await service.execute(drill_id, c.Answer("pay", "no"), c.Actor("p-ex"))
    clock.advance(360)  # an hour on: tell-legal (30m + 30m grace) is missed
    await service.tick(drill_id)
    await service.execute(drill_id, c.EndDrill())
    return drill_id


def _draft(**changes: object) -> ItemDraft:
    fields: dict[str, object] = {
        "capability": "Operational communications",
        "issue": "Legal was never told",
        "corrective_action": "Put legal on the first-hour call list",
        "element": "planning",
        "responsible": "SOC",
        "contact": "Dana Exec",
        "objective_id": "comms",
        "start": date(2027, 1, 4),
        "due": date(2027, 2, 1),
    }
    fields.update(changes)
    return ItemDraft(**fields)  # type: ignore[arg-type]


async def test_the_report_shows_the_scores_and_the_reviewers_rating(
    service: DrillService, clock: FakeClock
) -> None:
    reviews = ReviewService(service.sessions, service, clock)
    drill_id = await _ended_drill(service, clock, "d-1")
    report = await reviews.report(drill_id)
    decide = next(o for o in report.objectives if o.id == "decide")
    comms = next(o for o in report.objectives if o.id == "comms")
    assert (decide.score.points, decide.score.max_points, decide.rating) == (10, 10, Rating.P)
    assert (comms.score.points, comms.score.max_points, comms.rating) == (0, 10, Rating.U)
    assert [p.name for p in report.overview.participants] == ["Dana Exec"]

    await reviews.edit_objective(
        drill_id, "comms", "rita", rating="M", strengths="", improvements="- Tell legal\n\n* early"
    )
    edited = next(o for o in (await reviews.report(drill_id)).objectives if o.id == "comms")
    assert edited.rating is Rating.M and edited.derived_rating is Rating.U and edited.rating_edited
    assert edited.improvements == ["Tell legal", "early"] and edited.strengths == []
    # An empty rating goes back to the one derived from the score.
    await reviews.edit_objective(
        drill_id, "comms", "rita", rating="", strengths="", improvements=""
    )
    back = next(o for o in (await reviews.report(drill_id)).objectives if o.id == "comms")
    assert back.rating is Rating.U and not back.rating_edited


async def test_bad_edits_are_refused_with_a_reason(service: DrillService, clock: FakeClock) -> None:
    reviews = ReviewService(service.sessions, service, clock)
    drill_id = await _ended_drill(service, clock, "d-1")
    with pytest.raises(ReviewError, match="not an objective"):
        await reviews.edit_objective(
            drill_id, "nope", "rita", rating="P", strengths="", improvements=""
        )
    with pytest.raises(ReviewError, match="P, S, M or U"):
        await reviews.edit_objective(
            drill_id, "comms", "rita", rating="A", strengths="", improvements=""
        )
    for bad, message in (
        (_draft(issue="  "), "fill in the issue"),
        (_draft(element="money"), "capability element"),
        (_draft(due=date(2026, 1, 1)), "before the start"),
        (_draft(objective_id="nope"), "not an objective"),
        (_draft(status="done"), "status is one of"),
        (_draft(issue="x" * 3000), "too long"),
    ):
        with pytest.raises(ReviewError, match=message):
            await reviews.add_item(drill_id, bad, "rita")
    assert await reviews.items(drill_id=drill_id) == []


async def test_items_outlive_their_drill_until_closed_and_show_as_retested(
    service: DrillService, clock: FakeClock
) -> None:
    reviews = ReviewService(service.sessions, service, clock)
    first = await _ended_drill(service, clock, "d-1")
    item = await reviews.add_item(first, _draft(), "rita")
    assert item.status is ItemStatus.open and item.created_by == "rita"
    clock.advance(86400)
    second = await _ended_drill(service, clock, "d-2")
    report = await reviews.report(second)
    assert [i.id for i in report.retested] == [item.id]
    assert report.improvement_plan == []

    closed = await reviews.set_item_status(item.id, "closed", "carol")
    assert closed.closed_by == "carol" and closed.closed_at == clock()
    assert (await reviews.report(second)).retested == []
    reopened = await reviews.set_item_status(item.id, "open", "carol")
    assert reopened.closed_by is None and reopened.closed_at is None


def test_lateness_and_the_next_drill_date() -> None:
    item = _draft()
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
    assert add_months(date(2026, 5, 15), 6) == date(2026, 11, 15)
    from app.reports.model import Element, ImprovementItem

    row = ImprovementItem(
        id="i",
        drill_id="d",
        scenario_id="mini",
        capability=item.capability,
        issue=item.issue,
        corrective_action=item.corrective_action,
        element=Element.planning,
        responsible="SOC",
        contact="Dana",
        due=date(2027, 2, 1),
    )
    assert days_late(row, date(2027, 2, 11)) == 10
    assert days_late(row, date(2027, 1, 11)) == 0
    assert days_late(row.model_copy(update={"status": ItemStatus.closed}), date(2028, 1, 1)) == 0
