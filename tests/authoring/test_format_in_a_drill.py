"""The new format keys in a real drill: the drills service on a real database, its log
replayed after a restart, and the scorecard every view reads."""

from __future__ import annotations

from app.engine import commands as c
from app.engine.core import replay
from app.engine.events import EventType
from app.services.drills import DrillService
from tests.conftest import FakeClock
from tests.engine.test_format_features import AWAY, NEWSROOM


async def test_a_role_away_from_the_start_is_away_in_the_stored_log(
    service: DrillService, clock: FakeClock
) -> None:
    drill_id = await service.create_drill(AWAY, "away.yaml", c.CreateDrill("away-1", "Plane"))
    log = await service.events(drill_id)
    assert [e.type for e in log] == [EventType.drill_created, EventType.role_unavailable]
    await service.execute(drill_id, c.Join("boss", "Dana", "executive"), c.Actor("boss"))
    await service.execute(drill_id, c.StartClock())
    clock.advance(60)
    await service.tick(drill_id)
    scenario, state = await service.state(drill_id)
    assert state.decisions["convene"].roles == ("executive",)
    await service.execute(drill_id, c.Answer("convene", "convene"), c.Actor("boss"))
    _, state = await service.state(drill_id)
    assert replay(scenario, await service.events(drill_id)) == state


async def test_an_answer_that_sends_is_scored_as_the_message_it_is(
    service: DrillService, clock: FakeClock
) -> None:
    drill_id = await service.create_drill(
        NEWSROOM, "newsroom.yaml", c.CreateDrill("news-1", "Leak")
    )
    await service.execute(drill_id, c.Join("lawyer", "Lee", "legal"), c.Actor("lawyer"))
    await service.execute(drill_id, c.StartClock())
    clock.advance(10 * 60)
    await service.tick(drill_id)
    await service.execute(drill_id, c.Answer("notify", "now"), c.Actor("lawyer"))
    card = await service.scorecard(drill_id)
    [regulator] = [r for r in card.communications if r.expectation_id == "tell-regulator"]
    assert regulator.status == "on_time"
    assert regulator.sent_by_role == "legal"
    assert regulator.sent_at is not None and regulator.sent_at <= regulator.deadline
