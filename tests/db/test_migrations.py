"""The migrations build exactly the tables the models describe, on each database."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.migrate import current, upgrade
from app.db.models import Base

VERSIONS = Path(__file__).parents[2] / "alembic" / "versions"


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


def _newest_revision() -> str:
    """Read from the migration files themselves: the one revision no other follows."""
    found: dict[str, str | None] = {}
    for path in VERSIONS.glob("*.py"):
        text = path.read_text()
        revision = re.search(r'^revision = "([^"]+)"', text, re.M)
        down = re.search(r'^down_revision = (?:"([^"]+)"|None)', text, re.M)
        assert revision and down, path
        found[revision.group(1)] = down.group(1)
    heads = set(found) - set(found.values())
    assert len(heads) == 1, f"the migrations branch: {sorted(heads)}"
    return heads.pop()


async def test_upgrading_twice_is_harmless_and_reaches_head(engine: AsyncEngine) -> None:
    await upgrade(engine)
    assert await current(engine) == _newest_revision()
