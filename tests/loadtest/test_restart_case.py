"""The restart case of `tabletop bench`: the generated drill is one the rules produce, it
survives the database unchanged, a fresh service rebuilds the same state from it, and its
report names everyone. Timings are only checked to be there: never how fast."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.authoring.loader import scenario_files
from app.db.repository import _decode_json
from app.db.session import make_sessionmaker
from app.engine.core import replay
from app.engine.events import Event, EventType
from app.engine.state import Status
from app.loadtest.bench.restart import (
    RestartFigures,
    generate_events,
    load_shipped,
    restart_case,
)
from app.reports.build import DrillMeta, Inputs, build_report
from app.reports.render import render_html
from app.services.drills import DrillService
from tests.conftest import POSTGRES_URL, require_postgres

SHIPPED = sorted(p.stem for p in scenario_files([Path(__file__).parents[2] / "scenarios"]))
NOW = 1_800_100_000.0


def _check_figures(figures: RestartFigures, events: int, repeats: int) -> None:
    assert figures.events == events
    assert figures.repeats == repeats
    for key, timing in figures.timings().items():
        assert 0 < timing.median_ms <= timing.max_ms, key
    rows = figures.rows()
    assert len(rows) == 7
    assert rows[0][0].startswith("rebuild")
    shown = figures.as_dict()
    assert shown["events"] == events
    assert set(shown["ms"]) == {
        "rebuild",
        "rebuild_from_log",
        "scenario",
        "scorecard",
        "report",
        "report_unscored",
        "html",
    }


async def test_the_restart_case_measures_a_drill_of_the_size_asked_on_sqlite(
    tmp_path: Path,
) -> None:
    figures = await restart_case(f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}", 600, 2)
    assert figures.backend == "sqlite"
    assert figures.scenario_id == "ransomware-holiday-weekend"
    _check_figures(figures, 600, 2)


@pytest.mark.postgres
async def test_the_restart_case_runs_on_postgresql_in_a_schema_it_drops() -> None:
    await require_postgres()
    figures = await restart_case(POSTGRES_URL, 300, 1)
    assert figures.backend == "postgresql"
    _check_figures(figures, 300, 1)


@pytest.mark.parametrize("name", SHIPPED)
def test_the_generated_log_replays_under_the_rules(name: str) -> None:
    _, _, scenario = load_shipped(name)
    events = generate_events(scenario, 700, seed=7)
    assert [e.seq for e in events] == list(range(1, 701))
    state = replay(scenario, events)  # raises on a log the rules would not produce
    kinds = Counter(e.type for e in events)
    # Messages are the bulk; everyone plays; the story moves and decisions get answered.
    assert kinds[EventType.message_sent] > 0.6 * len(events)
    assert {p.role for p in state.participants.values()} >= set(state.roles)
    assert kinds[EventType.clock_started] == 1
    assert kinds[EventType.inject_delivered] > 0
    assert kinds[EventType.decision_answered] > 0
    assert kinds[EventType.note_added] > 0
    assert state.status is Status.ended


@pytest.mark.parametrize("count", [1, 5, 20, 601])
def test_the_log_holds_exactly_the_events_asked_for(count: int) -> None:
    _, _, scenario = load_shipped()
    events = generate_events(scenario, count)
    assert len(events) == count
    replay(scenario, events)


def test_the_same_seed_gives_the_same_drill() -> None:
    _, _, scenario = load_shipped()
    assert generate_events(scenario, 300, seed=3) == generate_events(scenario, 300, seed=3)
    assert generate_events(scenario, 300, seed=3) != generate_events(scenario, 300, seed=4)


async def test_a_fresh_service_rebuilds_the_state_the_log_replays_to(engine: AsyncEngine) -> None:
    source, origin, scenario = load_shipped()
    events = generate_events(scenario, 600, "bench-drill")
    sqlite = engine.dialect.name == "sqlite"
    writer = DrillService(make_sessionmaker(engine), sqlite=sqlite)
    await writer.import_events(source, origin, "bench-drill", events)

    restarted = DrillService(make_sessionmaker(engine), sqlite=sqlite)
    _, rebuilt = await restarted.state("bench-drill")
    expected = replay(scenario, events)
    assert rebuilt.seq == expected.seq == 600
    assert rebuilt.status is expected.status
    assert rebuilt.participants == expected.participants
    assert rebuilt.decisions == expected.decisions
    assert rebuilt == expected
    # The log reads back exactly as written, whole and in pages.
    assert await restarted.events("bench-drill") == events
    assert await restarted.events("bench-drill", 100, 50) == events[100:150]


async def test_a_long_log_reads_back_as_the_events_written(engine: AsyncEngine) -> None:
    """The log reader builds its events by `stored_event`; on a 10,000-event drill (every
    type such a drill logs) they equal, event by event, the events written and the
    ones `Event` itself makes from the same fields."""
    source, origin, scenario = load_shipped()
    events = generate_events(scenario, 10_000, "long-drill")
    writer = DrillService(make_sessionmaker(engine), sqlite=engine.dialect.name == "sqlite")
    await writer.import_events(source, origin, "long-drill", events)

    restarted = DrillService(make_sessionmaker(engine), sqlite=engine.dialect.name == "sqlite")
    read = await restarted.events("long-drill")
    assert len({e.type for e in read}) >= 10
    assert all(type(e) is Event for e in read)
    assert read == events
    assert read == [Event.from_dict(e.to_dict()) for e in read]
    assert [repr(e) for e in read] == [repr(e) for e in events]


def test_the_generated_drills_report_names_every_participant() -> None:
    _, _, scenario = load_shipped()
    events = generate_events(scenario, 800)
    report = build_report(Inputs(scenario, events, DrillMeta(facilitator="bench")), NOW)
    joined = {e.data["name"] for e in events if e.type is EventType.participant_joined}
    assert len(joined) == len(replay(scenario, events).participants) > len(scenario.roles)
    assert {p.name for p in report.overview.participants} == joined
    assert {h.name for h in report.hot_wash} == joined
    html = render_html(report, scenario)
    for name in joined:
        assert name in html


@pytest.mark.parametrize(
    "text",
    ['{"a": [1, 2.5, null], "b": "x"}', ' {"a": 1} ', '{"a": 1}\n', "[]", '"text"', "null"],
)
def test_event_payloads_decode_as_json_loads_would(text: str) -> None:
    assert _decode_json(text) == json.loads(text)


def test_a_payload_that_is_not_json_fails_as_json_loads_does() -> None:
    for text in ("", "{", '{"a": 1} x'):
        with pytest.raises(json.JSONDecodeError):
            _decode_json(text)
