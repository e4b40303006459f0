"""The scenario library: the shipped files and the scenarios uploaded through the web.

One lookup for every adapter (pages, JSON API). Shipped files are addressed by their file
name; uploads by "upload-" and the start of their SHA-256, which never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.authoring.bundle import Asset, Bundle
from app.authoring.loader import (
    Loaded,
    load_bundle,
    load_scenario_path,
    load_scenario_text,
    scenario_files,
)
from app.db import repository as repo
from app.db.models import ScenarioVersion
from app.services.drills import DrillService

UPLOAD_PREFIX = "upload-"
UPLOAD_KEY_CHARS = 12


@dataclass(frozen=True, slots=True)
class Found:
    """A scenario of the library: its key in URLs, its exact text and where it came from."""

    key: str
    source: str
    origin: str
    loaded: Loaded

    @property
    def uploaded_as(self) -> str | None:
        """The uploaded file's name, or None for a shipped file."""
        if not self.origin.startswith(repo.UPLOAD_ORIGIN):
            return None
        return self.origin.removeprefix(repo.UPLOAD_ORIGIN)


def upload_key(sha256: str) -> str:
    return UPLOAD_PREFIX + sha256[:UPLOAD_KEY_CHARS]


async def library(folder: Path, service: DrillService) -> list[Found]:
    """Every scenario that validates: the shipped files, then the newest of each upload."""
    found = []
    for path in scenario_files([folder]):
        loaded = load_scenario_path(path)
        if loaded.ok and loaded.scenario is not None:
            found.append(Found(path.name, loaded.source, path.name, loaded))
    async with service.sessions() as session:
        rows = await repo.uploaded_scenarios(session)
    for row in rows:
        loaded = await _load_stored(service, row)
        if loaded.ok and loaded.scenario is not None:
            found.append(Found(upload_key(row.sha256), row.source, row.origin, loaded))
    return found


async def _load_stored(service: DrillService, row: ScenarioVersion) -> Loaded:
    """An uploaded version, with the bundle files stored with it, if any."""
    async with service.sessions() as session:
        stored = await repo.scenario_assets(session, row.id)
    if not stored:
        return load_scenario_text(row.source, row.origin)
    assets = {a.path: Asset(a.path, a.media_type, a.data) for a in stored}
    return load_bundle(Bundle(row.origin, row.source, assets, {}))


async def find(folder: Path, service: DrillService, key: str) -> Found | None:
    """One scenario by its key; None unless it exists and validates. A shipped file's key
    is its name (mini.yaml); its name without the extension (mini) finds it too."""
    if key.startswith(UPLOAD_PREFIX):
        prefix = key.removeprefix(UPLOAD_PREFIX)
        if len(prefix) != UPLOAD_KEY_CHARS:
            return None
        async with service.sessions() as session:
            row = await repo.uploaded_scenario_by_sha_prefix(session, prefix)
        if row is None:
            return None
        loaded = await _load_stored(service, row)
        source, origin = row.source, row.origin
    else:
        files = list(scenario_files([folder]))
        path = next((p for p in files if p.name == key), None) or next(
            (p for p in files if p.stem == key), None
        )
        if path is None:
            return None
        loaded = load_scenario_path(path)
        source, origin = loaded.source, path.name
    if not loaded.ok or loaded.scenario is None:
        return None
    return Found(key, source, origin, loaded)
