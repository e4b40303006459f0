"""A snapshot of the fold: the state as plain data and back, equal field for field, and a
fold that starts from it ends where the whole log's fold ends."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path

import pytest

from app.authoring.loader import scenario_files
from app.engine.core import apply
from app.engine.events import Event
from app.engine.scenario import Scenario
from app.engine.snapshot import FORMAT, restore, snapshot
from app.engine.state import (
    DecisionState,
    DrillState,
    ExpectationState,
    NoticeDraft,
    Participant,
    ReplyThread,
    Status,
    Timer,
    TimerKind,
)
from app.loadtest.bench.restart import generate_events, load_shipped

SHIPPED = sorted(p.name for p in scenario_files([Path(__file__).parents[2] / "scenarios"]))


def _through_json(state: DrillState) -> DrillState:
    """As the service keeps it: the standard library's JSON text, read back."""
    return restore(json.loads(json.dumps(snapshot(state), separators=(",", ":"))))


def _every_field_set() -> DrillState:
    """A state with no field at its default, each record with every field set."""
    return DrillState(
        drill_id="d-1",
        name="Friday drill",
        seq=4321,
        status=Status.paused,
        speed=120.0,
        anchor_wall=1_800_000_000.25,
        anchor_scenario=3600.5,
        last_scenario_time=3700.125,
        started=True,
        variables={"im_name": "Joost Bakker", "csirt": "NCSC-NL"},
        roles=["incident_manager", "legal", "soc_manager"],
        backups={"incident_manager": "soc_manager"},
        unavailable={"incident_manager", "hr"},
        participants={
            "p1": Participant("p1", "Ana", "legal", 3),
            "p2": Participant("p2", "Wes", None, 9, present=False, parties=("press", "police")),
        },
        timers={
            "inject:a": Timer(60.0, TimerKind.inject, "a", 0),
            "decision:b": Timer(math.inf, TimerKind.decision, "b", 2),
        },
        armed={"a", "c"},
        delivered={"a": 12},
        skipped={"c": "suppressed"},
        suppressed={"esxi-encrypted"},
        decisions={
            "b": DecisionState(
                "b", 10.0, 3610.0, ("legal", "hr"), 14, (("legal", "yes"),), True, True
            )
        },
        chosen={"b.yes"},
        flags={"wan_isolated": True, "paid": False},
        sent_pairs={("legal", "regulator"), ("hr", "staff")},
        first_sent={("legal", "regulator"): 4200.0},
        expectations={
            "e1": ExpectationState("e1", 0.0, 3600.0, math.inf, 77, "late", 2.5),
        },
        points={"contain": -3.0, "detect": 1.75},
        end_reason="inject z",
        scores_released=True,
        feedback_from={"p1"},
        notices={
            "gdpr.art33": NoticeDraft(
                {"nature": "Ransomware", "dpo": ""},
                {"nature": "legal"},
                True,
                40,
                signed_off_by="legal",
                signed_seq=40,
                filed_seq=41,
            )
        },
        reply_threads={"press.statement": ReplyThread("communications", 33, "Your statement")},
        suggested={"press.statement"},
        last_to_party={("legal", "regulator"): 55},
    )


def test_every_field_survives_the_round_trip() -> None:
    state = _every_field_set()
    default = DrillState()
    assert [
        f.name for f in fields(DrillState) if getattr(state, f.name) == getattr(default, f.name)
    ] == []
    assert set(snapshot(state)) == {"format"} | {f.name for f in fields(DrillState)}
    restored = _through_json(state)
    assert restored == state
    assert snapshot(restored) == snapshot(state)  # the same orders of keys and records too


def test_a_snapshot_of_another_format_is_refused() -> None:
    data = snapshot(DrillState(drill_id="d-1"))
    data["format"] = FORMAT + 1
    with pytest.raises(ValueError, match="format"):
        restore(data)


def _fold(scenario: Scenario, events: list[Event], state: DrillState | None = None) -> DrillState:
    state = DrillState() if state is None else state
    for event in events:
        apply(scenario, state, event)
    return state


@pytest.mark.parametrize("name", SHIPPED)
def test_a_fold_from_a_snapshot_ends_where_the_whole_log_s_fold_ends(name: str) -> None:
    """Each shipped scenario, played by the bench's player (people joining, messages,
    decisions, the clock paused and jumped, notes, adjustments, the end): cut anywhere,
    kept and read back, then the rest folded on top."""
    _, _, scenario = load_shipped(name)
    log = generate_events(scenario, 1200, f"d-{name}", seed=3)
    whole = _fold(scenario, log)
    for cut in (1, 2, 17, 250, 999, len(log) - 1, len(log)):
        kept = _through_json(_fold(scenario, log[:cut]))
        assert kept.seq == log[cut - 1].seq
        assert _fold(scenario, log[cut:], kept) == whole, cut
