"""The server's clock: fires what falls due in every running drill.

After a restart the first pass catches each running drill up from its log: what fell due
while the server was down fires once, in order, stamped with the scenario time it was due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from app.drills import DrillService, StorageUnavailable

log = logging.getLogger("tabletop.clock")
REFRESH_SECONDS = 2.0


class ClockRunner:
    def __init__(self, service: DrillService, tick_seconds: float) -> None:
        self.service = service
        self.tick_seconds = tick_seconds
        self._running: set[str] = set()
        self._refreshed = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="tabletop-clock")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def watch(self, drill_id: str) -> None:
        """A drill just started here: tick it without waiting for the next refresh."""
        self._running.add(drill_id)

    async def _loop(self) -> None:
        while True:
            await self.tick_all()
            await asyncio.sleep(self.tick_seconds)

    async def tick_all(self) -> None:
        now = time.monotonic()
        if now - self._refreshed >= REFRESH_SECONDS:
            try:
                self._running = set(await self.service.running_drill_ids())
                self._refreshed = now
            except StorageUnavailable:
                log.warning("database unavailable; the clock will retry")
                return
        for drill_id in list(self._running):
            try:
                await self.service.tick(drill_id)
            except StorageUnavailable as exc:
                log.warning("drill %s: %s", drill_id, exc)
            except Exception:  # a broken drill must not stop the others' clocks
                log.exception("drill %s: tick failed", drill_id)
