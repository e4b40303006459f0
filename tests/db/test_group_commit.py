"""Group commit: commands that arrive together are decided in order and written in one
transaction, each with its own outcome (real SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy.event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.models import CommandReceipt, DrillEvent
from app.engine import commands as c
from app.engine.errors import DomainError
from app.engine.events import EventType
from app.services.drills import DrillService, Outcome

MINI = (Path(__file__).parents[1] / "fixtures" / "mini.yaml").read_text()


async def _running_drill(service: DrillService) -> str:
    drill_id = await service.create_drill(MINI, "mini.yaml", c.CreateDrill("g-1", "Group"))
    for n, role in enumerate(["incident_manager", "executive", "legal"]):
        await service.execute(drill_id, c.Join(f"p{n}", f"P{n}", role), c.Actor(f"p{n}"))
    await service.execute(drill_id, c.StartClock())
    return drill_id


def _message(n: int) -> c.SendMessage:
    return c.SendMessage(to=["legal"], body=f"update {n}")


async def test_concurrent_commands_each_get_their_outcome_and_the_log_stays_contiguous(
    service: DrillService, engine: AsyncEngine
) -> None:
    drill_id = await _running_drill(service)
    before = (await service.drill(drill_id)).last_seq
    # Every COMMIT the database is sent, counted where SQLAlchemy sends it.
    commits: list[int] = []
    sqlalchemy.event.listen(engine.sync_engine, "commit", lambda _conn: commits.append(1))
    sends = [service.execute(drill_id, _message(n), c.Actor("p0"), key=f"k{n}") for n in range(40)]
    # one that the rules refuse, in the same burst: only it fails
    refused = service.execute(drill_id, c.Answer("no-such", "x"), c.Actor("p1"), key="bad")
    # the same key twice in the burst: applied once
    again = service.execute(drill_id, _message(0), c.Actor("p0"), key="k0")
    results = await asyncio.gather(*sends, refused, again, return_exceptions=True)
    outcomes, failure, repeat = results[:40], results[40], results[41]
    assert isinstance(failure, DomainError)
    assert not isinstance(repeat, BaseException) and repeat.repeated
    assert all(not isinstance(o, BaseException) and not o.repeated for o in outcomes)
    log = await service.events(drill_id)
    seqs = [e.seq for e in log]
    assert seqs == list(range(1, len(seqs) + 1))
    sent = [e for e in log if e.seq > before and e.type is EventType.message_sent]
    assert sorted(e.data["body"] for e in sent) == sorted(f"update {n}" for n in range(40))
    drill = await service.drill(drill_id)
    assert drill.last_seq == seqs[-1]
    # The 41 commands (40 written, one repeated) shared a few transactions instead of taking
    # one each; the reads since (the log, the drill) commit nothing.
    assert 1 <= len(commits) <= 5, len(commits)
    async with service.sessions() as session:
        receipts = await session.scalar(
            select(func.count())
            .select_from(CommandReceipt)
            .where(CommandReceipt.drill_id == drill_id)
        )
    assert receipts == 40  # neither the refused command nor the repeat left a receipt


@pytest.mark.parametrize("burst", [1, 25])
async def test_a_replayed_burst_is_acknowledged_again_and_applied_once(
    service: DrillService, burst: int
) -> None:
    drill_id = await _running_drill(service)

    async def send_all() -> list[int]:
        outcomes = await asyncio.gather(
            *(
                service.execute(drill_id, _message(n), c.Actor("p0"), key=f"r{n}")
                for n in range(burst)
            )
        )
        return [o.last_seq for o in outcomes]

    first = await send_all()
    replayed = await send_all()
    assert replayed == first
    async with service.sessions() as session:
        stored = await session.scalar(
            select(func.count()).select_from(DrillEvent).where(DrillEvent.drill_id == drill_id)
        )
    assert stored == (await service.drill(drill_id)).last_seq


async def test_a_join_sent_twice_in_one_burst_writes_one_participant(
    service: DrillService,
) -> None:
    from app.db.models import ParticipantRow

    drill_id = await _running_drill(service)

    async def join() -> Outcome:
        row = ParticipantRow(id="p-twice", drill_id=drill_id, token_hash="h" * 64, name="Twice")
        command = c.Join("p-twice", "Twice", "legal")
        return await service.execute(
            drill_id, command, c.Actor("p-twice"), key="join-1", also=[row]
        )

    # The first command holds the drill while the two joins queue: they share one batch.
    filler = service.execute(drill_id, _message(0), c.Actor("p0"), key="filler")
    _, first, second = await asyncio.gather(filler, join(), join())
    assert [first.repeated, second.repeated] == [False, True]
    async with service.sessions() as session:
        rows = await session.scalar(
            select(func.count()).select_from(ParticipantRow).where(ParticipantRow.id == "p-twice")
        )
    assert rows == 1
