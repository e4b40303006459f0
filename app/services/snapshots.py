"""Stored snapshots: a drill's folded state every SNAPSHOT_EVERY events, so that a restarted
server folds the log after the last one instead of the whole log (10,000 events in a
long drill: a tenth of them at most, instead of all).

A snapshot is written in the transaction of the events that reach it, so it never runs
ahead of the log, and it is used only when the engine that folded it is this one: the
digest of the code that decides (the same files as a stored scorecard's, see
app/services/scorecards), so an upgrade that changes how the log folds folds it whole
again, by itself. One that cannot be read back is passed over for the whole log."""

from __future__ import annotations

import json
import logging

from app.db.models import StoredSnapshot
from app.engine.snapshot import restore, snapshot
from app.engine.state import DrillState
from app.services.scorecards import scoring_digest

log = logging.getLogger(__name__)

SNAPSHOT_EVERY = 1000
"""Events between snapshots: a restarted server folds at most this many of a drill's log
(about 10 ms), and a drill's writes pay for one snapshot (a few ms) per this many."""


def due(before_seq: int, after_seq: int) -> bool:
    """Events `before_seq` + 1 to `after_seq` take the log past a multiple of
    SNAPSHOT_EVERY: the state after them is to be kept."""
    return after_seq // SNAPSHOT_EVERY > before_seq // SNAPSHOT_EVERY


def stored(drill_id: str, state: DrillState) -> StoredSnapshot:
    """The row that keeps `state` as drill `drill_id`'s snapshot (merged over the one
    before)."""
    return StoredSnapshot(
        drill_id=drill_id,
        seq=state.seq,
        engine=scoring_digest(),
        data=json.dumps(snapshot(state), separators=(",", ":")),
    )


def usable(row: StoredSnapshot | None) -> DrillState | None:
    """The state the row keeps, when this engine folded it and it reads back."""
    if row is None or row.engine != scoring_digest():
        return None
    try:
        state = restore(json.loads(row.data))
    except (ValueError, KeyError, TypeError) as exc:
        log.warning(
            "drill %s: its snapshot at seq %d is unreadable: %s", row.drill_id, row.seq, exc
        )
        return None
    return state if state.seq == row.seq else None
