"""A command id names one command: sent again with the same command it is acknowledged as
a repeat; with another command it is refused (`command_id_reused`) and nothing is written.
Receipts from before the command hash was kept dedupe as they always did. Real SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from app.db.models import CommandReceipt
from app.engine import commands as c
from app.engine.errors import Code, DomainError
from app.services.drills import DrillService
from tests.db.test_group_commit import _running_drill

NOTE = c.AddNote("Legal was told late")
OTHER = c.AddNote("Legal was told on time")


async def test_a_reused_id_with_another_command_is_refused_and_writes_nothing(
    service: DrillService,
) -> None:
    drill_id = await _running_drill(service)
    first = await service.execute(drill_id, NOTE, key="fac:n1")
    again = await service.execute(drill_id, NOTE, key="fac:n1")
    assert again.repeated and again.last_seq == first.last_seq
    with pytest.raises(DomainError) as refused:
        await service.execute(drill_id, OTHER, key="fac:n1")
    assert refused.value.code is Code.command_id_reused
    log = await service.events(drill_id)
    assert log[-1].seq == first.last_seq
    assert [e.data.get("text") for e in log].count("Legal was told on time") == 0


async def test_a_reused_id_with_another_command_in_the_same_burst_is_refused(
    service: DrillService,
) -> None:
    drill_id = await _running_drill(service)
    results = await asyncio.gather(
        service.execute(drill_id, NOTE, key="fac:b1"),
        service.execute(drill_id, OTHER, key="fac:b1"),
        service.execute(drill_id, NOTE, key="fac:b1"),
        return_exceptions=True,
    )
    applied, other, repeat = results
    assert not isinstance(applied, BaseException) and not applied.repeated
    assert isinstance(other, DomainError) and other.code is Code.command_id_reused
    assert not isinstance(repeat, BaseException) and repeat.repeated


async def test_a_receipt_without_a_hash_still_dedupes(service: DrillService) -> None:
    """Receipts written before the hash was kept (an upgraded database) hold NULL."""
    drill_id = await _running_drill(service)
    first = await service.execute(drill_id, NOTE, key="fac:old")
    async with service.sessions() as session:
        await session.execute(
            update(CommandReceipt)
            .where(CommandReceipt.drill_id == drill_id, CommandReceipt.key == "fac:old")
            .values(command_hash=None)
        )
        await session.commit()
    again = await service.execute(drill_id, OTHER, key="fac:old")
    assert again.repeated and again.last_seq == first.last_seq


async def test_a_repeat_the_drill_would_now_refuse_gets_its_first_outcome(
    service: DrillService,
) -> None:
    """A warm service takes a key as new without reading the receipts; a refusal is
    checked against them first: pausing twice with one id is the same pause, not "the
    clock is not running"."""
    drill_id = await _running_drill(service)
    first = await service.execute(drill_id, c.PauseClock(), key="fac:pause")
    again = await service.execute(drill_id, c.PauseClock(), key="fac:pause")
    assert again.repeated
    assert (again.first_seq, again.last_seq) == (first.first_seq, first.last_seq)
    assert [e.seq for e in again.events] == [e.seq for e in first.events]
    with pytest.raises(DomainError) as refused:
        await service.execute(drill_id, c.PauseClock(), key="fac:pause-2")
    assert refused.value.code is not Code.command_id_reused


async def test_a_repeat_the_drill_would_accept_again_writes_nothing(
    service: DrillService,
) -> None:
    """Taken as new, the repeat's events and receipt are written together; the receipt's
    key refuses the whole write and the retry answers with the first outcome."""
    drill_id = await _running_drill(service)
    first = await service.execute(drill_id, NOTE, key="fac:twice")
    later = await service.execute(drill_id, OTHER, key="fac:other")
    again = await service.execute(drill_id, NOTE, key="fac:twice")
    assert again.repeated and again.last_seq == first.last_seq
    log = await service.events(drill_id)
    assert log[-1].seq == later.last_seq
    assert [e.data.get("text") for e in log].count(NOTE.text) == 1
