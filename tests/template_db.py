"""A migrated SQLite database made once per test process and copied for each test that
needs an empty one: migrating from nothing costs far more than copying the file."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from pathlib import Path

from app.db.migrate import upgrade
from app.db.session import make_engine

_TEMPLATE: list[Path] = []
_LOCK = threading.Lock()


def _migrate(path: Path) -> None:
    async def run() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{path.as_posix()}")
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    # Its own thread, so callers may already be inside a running event loop.
    worker = threading.Thread(target=asyncio.run, args=(run(),))
    worker.start()
    worker.join()
    if not path.exists():
        raise RuntimeError(f"migrating the template database at {path} failed")


def migrated_sqlite(target: Path) -> Path:
    """Put an empty, fully migrated SQLite database at `target` (a copy of the template)."""
    with _LOCK:
        if not _TEMPLATE:
            path = Path(tempfile.mkdtemp(prefix="tabletop-template-")) / "tabletop.db"
            _migrate(path)
            _TEMPLATE.append(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_TEMPLATE[0], target)
    return target
