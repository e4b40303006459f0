"""Clock leases on each database: one holder per running drill, lapsing and handed back."""

from __future__ import annotations

import logging

import pytest

from app.db.session import make_engine, make_sessionmaker
from app.engine import commands as c
from app.services.clock import ClockRunner, claim_leases, release_leases
from app.services.drills import DrillService, new_drill_id
from tests.live import FIXTURES

MINI = (FIXTURES / "mini.yaml").read_text()


async def new_drill(service: DrillService, start: bool) -> str:
    drill_id = await service.create_drill(MINI, "mini.yaml", c.CreateDrill(new_drill_id(), "D"))
    if start:
        await service.execute(drill_id, c.StartClock())
    return drill_id


async def test_a_running_drill_has_one_holder_until_its_lease_lapses(
    service: DrillService,
) -> None:
    running = await new_drill(service, start=True)
    await new_drill(service, start=False)  # in the lobby: nobody's clock ticks it
    sessions = service.sessions
    assert await claim_leases(sessions, "a", 100.0, 5) == [running]
    assert await claim_leases(sessions, "b", 101.0, 5) == []
    assert await claim_leases(sessions, "a", 102.0, 5) == [running]  # renewed until 107
    assert await claim_leases(sessions, "b", 106.0, 5) == []
    assert await claim_leases(sessions, "b", 107.5, 5) == [running]  # lapsed: taken over
    assert await claim_leases(sessions, "a", 108.0, 5) == []
    await release_leases(sessions, "b")
    assert await claim_leases(sessions, "a", 108.0, 5) == [running]
    drill = await service.drill(running)
    assert (drill.clock_holder, drill.clock_lease_until) == ("a", 113.0)


async def test_two_clocks_tick_a_drill_in_one_and_stopping_hands_it_to_the_other(
    service: DrillService,
) -> None:
    running = await new_drill(service, start=True)
    first, second = ClockRunner(service, 0.05), ClockRunner(service, 0.05)
    assert first.shared  # leases on SQLite too, though the server uses them only on PostgreSQL
    assert await first.renew() and first.held == [running]
    assert await second.renew() and second.held == []
    await first.stop()  # a clean shutdown: no waiting for the lease to lapse
    assert await second.renew() and second.held == [running]
    assert (await service.drill(running)).clock_holder == second.worker_id


async def test_a_clock_without_its_database_warns_once_and_keeps_trying(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    clock = ClockRunner(DrillService(make_sessionmaker(engine), sqlite=False), 0.05)
    try:
        with caplog.at_level(logging.WARNING, "tabletop.clock"):
            assert not await clock.renew()
            assert not await clock.renew()
        assert clock.held == []
        warnings = [r.getMessage() for r in caplog.records if r.name == "tabletop.clock"]
        assert len(warnings) == 1 and "the clock will retry" in warnings[0]
    finally:
        await engine.dispose()


async def test_on_sqlite_one_clock_holds_every_running_drill_without_writing_leases(
    service: DrillService,
) -> None:
    running = await new_drill(service, start=True)
    await new_drill(service, start=False)
    clock = ClockRunner(service, 0.05, shared=False)
    assert await clock.renew() and clock.held == [running]
    await clock.stop()
    assert (await service.drill(running)).clock_holder is None
