"""Clock leases: which worker process runs each running drill's clock.

Several workers may serve the same drills; exactly one of them should fire what falls
due, so each drill row carries a lease (`clock_holder`, `clock_lease_until`). A worker
claims or renews its leases about once a second with ONE conditional UPDATE; a lease it
stops renewing (the worker died) lapses and the next worker to ask takes the drill over.

The statements only: the clock service (app/services/clock.py) runs each in its own short
transaction and commits it, since a lease must be visible to the other workers at once.
A lease is bookkeeping about processes, not part of any drill's story: it writes no event
and touches only the two lease columns. Correctness never rests on it: if two clocks ever
overlap, the unique (drill_id, seq) in the log still lets only one of two racing writers
append.
"""

from __future__ import annotations

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Drill
from app.engine.state import Status


async def claim(session: AsyncSession, holder: str, now: float, seconds: float) -> list[str]:
    """Claim every running drill that is free, lapsed or already `holder`'s, until
    `now + seconds`; returns the ids `holder` now holds. On PostgreSQL a racing claim
    waits for the row and re-checks the condition, so one worker wins each drill."""
    statement = (
        update(Drill)
        .where(
            Drill.status == str(Status.running),
            or_(
                Drill.clock_holder == holder,
                Drill.clock_holder.is_(None),
                Drill.clock_lease_until < now,
            ),
        )
        .values(clock_holder=holder, clock_lease_until=now + seconds)
        .returning(Drill.id)
        .execution_options(synchronize_session=False)
    )
    return sorted((await session.scalars(statement)).all())


async def release(session: AsyncSession, holder: str) -> None:
    """Give up `holder`'s leases (a clean shutdown): another worker takes over at once
    instead of waiting for them to lapse."""
    statement = (
        update(Drill)
        .where(Drill.clock_holder == holder)
        .values(clock_holder=None, clock_lease_until=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(statement)
