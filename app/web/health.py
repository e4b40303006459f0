"""Operations' routes: is the process alive (`/healthz`), can it serve (`/readyz`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.web.deps import drills

WORKER_HEADER = "X-Tabletop-Worker"

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready"}})
async def readyz(request: Request) -> JSONResponse:
    """The database answers. The X-Tabletop-Worker header names the worker that
    answered (its clock_holder in the drills table), to tell apart the workers
    behind one address."""
    worker = {WORKER_HEADER: request.app.state.clock.worker_id}
    try:
        async with drills(request).sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means not ready
        return JSONResponse(
            {"status": "unavailable", "detail": type(exc).__name__}, 503, headers=worker
        )
    return JSONResponse({"status": "ok"}, headers=worker)
