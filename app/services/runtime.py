"""Opening the services on a configured database: connect, migrate, hand out the drills
service. The server's lifespan and every command that touches the database start here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.config import Settings
from app.db.migrate import upgrade
from app.db.session import is_sqlite, make_engine, make_sessionmaker
from app.services.drills import DrillService


def private_data_dir(settings: Settings) -> None:
    """The data folder (0700) and the database file (0600) readable by this user alone:
    they hold every drill, account hash and session. SQLite gives its -wal and -shm files
    the database file's mode."""
    folder = settings.data_dir
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    if created:
        folder.chmod(0o700)
    database = folder / "tabletop.db"
    if not database.exists():
        database.touch(mode=0o600)


@asynccontextmanager
async def open_service(settings: Settings) -> AsyncIterator[DrillService]:
    """Connect, migrate to the latest schema, and hand out the drills service."""
    url = settings.resolved_database_url()
    if is_sqlite(url) and not settings.database_url:
        private_data_dir(settings)
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
