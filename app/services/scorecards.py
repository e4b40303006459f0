"""Stored scorecards: a copy of each drill's scores as of its last seq, so that a page
over many finished drills (the programme) reads one row per drill instead of loading and
scoring each drill's log after every restart.

A copy is used only while it still says what the log says: for the drill's current last
seq, and made by the same scoring code. The code is named by a digest of the files that
score (the engine, the regimes whose duties it scores, and the loader that reads a
scenario's text into what the engine scores against), so an upgrade that changes how
a drill is scored rescores every drill the next time it is listed, by itself."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from app.db.models import StoredScorecard
from app.engine.scoring import Scorecard

SCORING_PACKAGES = ("app.engine", "app.regimes", "app.authoring")


@cache
def scoring_digest() -> str:
    """sha256 over every file of the packages that decide a score, in a fixed order."""
    digest = hashlib.sha256()
    for package in SCORING_PACKAGES:
        for path, data in sorted(_files(files(package), package)):
            digest.update(path.encode() + b"\0" + data + b"\0")
    return digest.hexdigest()


def _files(folder: Traversable, prefix: str) -> list[tuple[str, bytes]]:
    found = []
    for entry in folder.iterdir():
        where = f"{prefix}/{entry.name}"
        if entry.is_dir():
            if entry.name != "__pycache__":
                found.extend(_files(entry, where))
        elif not entry.name.endswith(".pyc"):
            found.append((where, entry.read_bytes()))
    return found


def stored(drill_id: str, last_seq: int, scores: Scorecard) -> StoredScorecard:
    """The row that keeps `scores` as the drill's scorecard at `last_seq`."""
    return StoredScorecard(
        drill_id=drill_id,
        last_seq=last_seq,
        scoring=scoring_digest(),
        data=scores.model_dump_json(),
    )


def still_true(row: StoredScorecard | None, last_seq: int) -> Scorecard | None:
    """The stored scorecard, when it is of this last seq and this scoring code."""
    if row is None or row.last_seq != last_seq or row.scoring != scoring_digest():
        return None
    return Scorecard.model_validate_json(row.data)
