"""Opening the services on a configured database: connect, migrate, hand out the drills
service. The server's lifespan and every command that touches the database start here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.config import Settings
from app.db.migrate import upgrade
from app.db.session import is_sqlite, make_engine, make_sessionmaker
from app.services.drills import DrillService


@asynccontextmanager
async def open_service(settings: Settings) -> AsyncIterator[DrillService]:
    """Connect, migrate to the latest schema, and hand out the drills service."""
    url = settings.resolved_database_url()
    if is_sqlite(url):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url, settings.sqlite_busy_timeout_ms)
    try:
        await upgrade(engine)
        yield DrillService(
            make_sessionmaker(engine),
            sqlite=is_sqlite(url),
            secret_key=settings.resolved_secret_key(),
            participant_seconds_after_end=settings.participant_hours_after_end * 3600,
        )
    finally:
        await engine.dispose()
