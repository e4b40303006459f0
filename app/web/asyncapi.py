"""`/asyncapi.json`: the websocket protocol's AsyncAPI 3.0 document (app/realtime/asyncapi),
beside FastAPI's own /openapi.json for the HTTP API."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter
from fastapi.responses import Response

from app.realtime.asyncapi import asyncapi_json

router = APIRouter(tags=["documentation"])


@cache
def _document() -> str:
    return asyncapi_json()


@router.get("/asyncapi.json", include_in_schema=False)
async def asyncapi() -> Response:
    """The websocket protocol, as docs/asyncapi.json has it."""
    return Response(_document(), media_type="application/json")
