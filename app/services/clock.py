"""The server's clock: fires what falls due in the running drills this worker holds.

Several workers may share a PostgreSQL database; each drill's clock runs in one of them
at a time. About once a second every runner claims or renews its drills' leases in one
UPDATE (app/db/leases.py) and then ticks only the drills it holds. A worker that dies
stops renewing; its leases lapse after `lease_seconds` and another worker takes the
drills over. SQLite serves one process, which holds every running drill without leases:
a lease write every second would collide with the drills service's transactions there
(SQLite refuses a write from a transaction that read before another write committed).

After a restart the first pass catches each running drill up from its log: what fell due
while the server was down fires once, in order, stamped with the scenario time it was due.
A single `tabletop serve` holds its leases under a name stable across its restarts (its
host name and port: no other live process can listen there), so after a crash it takes its
own drills back at the first round instead of waiting `lease_seconds` for them to lapse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import leases
from app.services.drills import DrillService, StorageUnavailable

log = logging.getLogger("tabletop.clock")
ROUND_SECONDS = 1.0
"""How often the running drills are listed and leases renewed (more often for very
short leases)."""
DATABASE_ERRORS = (StorageUnavailable, SQLAlchemyError, OSError)


class ClockRunner:
    def __init__(
        self,
        service: DrillService,
        tick_seconds: float,
        lease_seconds: float = 5.0,
        *,
        shared: bool = True,
        worker_id: str = "",
    ) -> None:
        """`shared`: other workers may use the same database (PostgreSQL), so hold
        drills by lease; False (SQLite): this process holds every running drill.
        `worker_id`: the name leases are held under; empty, a new one. A name the same
        process had before a restart (`tabletop serve`'s, from its host and port) renews
        that process's leases at the first round: its clocks go on at once."""
        self.service = service
        self.tick_seconds = tick_seconds
        self.lease_seconds = lease_seconds
        self.shared = shared
        self.worker_id = worker_id or uuid.uuid4().hex
        # Renew well before the lease lapses, so one slow round does not lose it.
        self.round_seconds = min(ROUND_SECONDS, lease_seconds / 3)
        self._held: list[str] = []
        self._round_at = 0.0
        self._database_down = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def held(self) -> list[str]:
        """The drills whose clock runs here, as of the last round."""
        return list(self._held)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="tabletop-clock")

    async def stop(self) -> None:
        """Stop ticking and hand this worker's drills back at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._held = []
        if not self.shared:
            return
        try:
            await release_leases(self.service.sessions, self.worker_id)
        except DATABASE_ERRORS as exc:
            log.warning(
                "could not hand back the drill clocks (%s); other workers take them over "
                "when the leases lapse in %.0f s",
                exc,
                self.lease_seconds,
            )

    def watch(self, drill_id: str) -> None:
        """A drill just started here: claim it now rather than at the next round (the
        round claims every free running drill, this one included)."""
        self._round_at = 0.0
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick_all()
            except Exception:
                # Whatever broke this pass, the loop must live: a clock task that died
                # would stop every drill's injects until the server was restarted.
                log.exception("a clock pass failed; the clock goes on")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick_seconds)
            self._wake.clear()

    async def tick_all(self) -> None:
        if time.monotonic() >= self._round_at:
            await self.renew()
        for drill_id in self._held:
            try:
                await self.service.tick(drill_id)
            except DATABASE_ERRORS as exc:
                if StorageUnavailable.behind(exc) is None:
                    log.exception("drill %s: tick failed", drill_id)
                    continue
                # The database went away between rounds (a restart): what is due stays
                # due and fires, once, on the first tick after it is back.
                if not self._database_down:
                    log.warning("drill %s: %s; the clock will retry", drill_id, exc)
                self._database_down = True
            except Exception:  # a broken drill must not stop the others' clocks
                log.exception("drill %s: tick failed", drill_id)

    async def renew(self) -> bool:
        """Learn which running drills tick here: claim or renew this worker's leases
        (shared), or list them all. False when the database could not be asked."""
        self._round_at = time.monotonic() + self.round_seconds
        try:
            if self.shared:
                held = await claim_leases(
                    self.service.sessions, self.worker_id, time.time(), self.lease_seconds
                )
            else:
                held = sorted(await self.service.running_drill_ids())
        except DATABASE_ERRORS as exc:
            # Unrenewed leases lapse and may pass to another worker: stop ticking them.
            self._held = []
            if not self._database_down:
                log.warning("database unavailable (%s); the clock will retry", exc)
            self._database_down = True
            return False
        if self._database_down:
            log.warning("database available again; the clock goes on")
        self._database_down = False
        self._held = held
        return True


async def claim_leases(
    sessions: async_sessionmaker[AsyncSession], holder: str, now: float, seconds: float
) -> list[str]:
    """Claim or renew `holder`'s leases (`app.db.leases.claim`), committed at once so the
    other workers see them."""
    async with sessions() as session:
        held = await leases.claim(session, holder, now, seconds)
        await session.commit()
    return held


async def release_leases(sessions: async_sessionmaker[AsyncSession], holder: str) -> None:
    """Give up `holder`'s leases (a clean shutdown): another worker takes over at once."""
    async with sessions() as session:
        await leases.release(session, holder)
        await session.commit()
