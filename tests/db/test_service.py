"""The drills service on real databases: one commit per command, idempotent, restartable."""

from __future__ import annotations

import asyncio
import gc
import json
import math
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.authoring.loader import parse_stored_scenario
from app.db.models import DrillEvent, ScenarioVersion, StoredSnapshot
from app.db.repository import _decode_json, with_events
from app.db.session import make_sessionmaker
from app.engine import commands as c
from app.engine.core import replay
from app.engine.errors import Code, DomainError
from app.engine.events import Event, EventType
from app.engine.snapshot import snapshot
from app.engine.state import DrillState, Status
from app.loadtest.bench.restart import generate_events, load_shipped
from app.services import snapshots
from app.services.drills import DrillNotFound, DrillService, ScenarioInvalid
from app.services.snapshots import SNAPSHOT_EVERY
from tests.conftest import FakeClock

MINI = (Path(__file__).parents[1] / "fixtures" / "mini.yaml").read_text()


async def _drill(service: DrillService) -> str:
    return await service.create_drill(MINI, "mini.yaml", c.CreateDrill("d-1", "Friday drill"))


async def _log_types(service: DrillService, drill_id: str) -> list[str]:
    return [str(e.type) for e in await service.events(drill_id)]


async def test_a_drill_keeps_the_exact_scenario_text_it_was_created_from(
    service: DrillService,
) -> None:
    drill_id = await _drill(service)
    stored = await service.scenario_source(drill_id)
    assert stored.source == MINI
    # Creating a second drill from the same text stores it once.
    await service.create_drill(MINI, "mini.yaml", c.CreateDrill("d-2", "Second"))
    async with service.sessions() as session:
        assert len(list(await session.scalars(select(ScenarioVersion)))) == 1


async def test_commands_append_contiguous_events_and_the_clock_fires_injects(
    service: DrillService,
    clock: FakeClock,
) -> None:
    drill_id = await _drill(service)
    await service.execute(drill_id, c.Join("p-exec", "Dana", "executive"), c.Actor("p-exec"))
    await service.execute(drill_id, c.StartClock())
    clock.advance(60)  # speed 10: ten scenario minutes
    await service.tick(drill_id)
    _, state = await service.state(drill_id)
    assert "note" in state.delivered and "pay" in state.decisions
    outcome = await service.execute(drill_id, c.Answer("pay", "no"), c.Actor("p-exec"))
    assert outcome.events[0].type is EventType.decision_answered
    seqs = [e.seq for e in await service.events(drill_id)]
    assert seqs == list(range(1, len(seqs) + 1))
    drill = await service.drill(drill_id)
    assert drill.status == "running" and drill.last_seq == seqs[-1]


async def test_a_repeated_command_id_is_applied_once_and_answered_the_same(
    service: DrillService,
) -> None:
    drill_id = await _drill(service)
    first = await service.execute(
        drill_id, c.Join("p1", "Ana", "legal"), c.Actor("p1"), key="cmd-1"
    )
    again = await service.execute(
        drill_id, c.Join("p1", "Ana", "legal"), c.Actor("p1"), key="cmd-1"
    )
    assert again.repeated and (again.first_seq, again.last_seq) == (first.first_seq, first.last_seq)
    assert (await _log_types(service, drill_id)).count("participant_joined") == 1


async def test_a_refused_command_writes_nothing(service: DrillService) -> None:
    drill_id = await _drill(service)
    before = await service.events(drill_id)
    with pytest.raises(DomainError) as refused:
        await service.execute(drill_id, c.Answer("pay", "yes", role="executive"))
    assert refused.value.code is Code.drill_not_running
    assert await service.events(drill_id) == before


async def test_unknown_drill_and_invalid_scenario_are_clear_errors(service: DrillService) -> None:
    with pytest.raises(DrillNotFound):
        await service.execute("nope", c.StartClock())
    with pytest.raises(ScenarioInvalid) as invalid:
        await service.create_drill("id: x\n", "bad.yaml", c.CreateDrill("d-x", "X"))
    assert "bad.yaml:1:1: error" in str(invalid.value)


async def test_a_restarted_server_catches_up_in_order_at_the_times_things_fell_due(
    engine: AsyncEngine,
    service: DrillService,
    clock: FakeClock,
) -> None:
    drill_id = await _drill(service)
    await service.execute(drill_id, c.StartClock())
    # The server "dies" here: a new service instance knows nothing but the database.
    clock.advance(6 * 60)  # one real hour at 10x: the decision times out, the leak post lands
    reborn = DrillService(
        make_sessionmaker(engine), sqlite=service._write_lock is not None, clock=clock
    )
    fired = await reborn.tick(drill_id)
    kinds = [(str(e.type), e.data.get("inject_id") or e.data.get("decision_id")) for e in fired]
    # Everything that fell due between T+0 and T+60m, in order, each at its own time.
    assert [
        (kind, ref, e.scenario_time / 60) for (kind, ref), e in zip(kinds, fired, strict=True)
    ] == [
        ("inject_delivered", "note", 10.0),
        ("decision_opened", "pay", 10.0),
        ("inject_delivered", "nudge", 30.0),  # nobody told legal, so the nudge arrives
        ("decision_timed_out", "pay", 40.0),
    ]
    assert await reborn.tick(drill_id) == []  # nothing fires twice


async def test_two_workers_on_one_database_never_write_the_same_seq(
    engine: AsyncEngine,
    service: DrillService,
    clock: FakeClock,
) -> None:
    drill_id = await _drill(service)
    other = DrillService(
        make_sessionmaker(engine), sqlite=service._write_lock is not None, clock=clock
    )
    await service.execute(drill_id, c.Join("a", "Ann", "legal"), c.Actor("a"))
    await other.execute(drill_id, c.Join("b", "Bob", "executive"), c.Actor("b"))
    await service.execute(drill_id, c.Join("c", "Cy", "incident_manager"), c.Actor("c"))
    async with service.sessions() as session:
        rows = list(
            await session.scalars(
                select(DrillEvent).where(DrillEvent.drill_id == drill_id).order_by(DrillEvent.seq)
            )
        )
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    _, state = await other.state(drill_id)
    assert set(state.participants) == {"a", "b", "c"}


async def test_ending_a_drill_is_recorded_on_the_drill(service: DrillService) -> None:
    drill_id = await _drill(service)
    await service.execute(drill_id, c.StartClock())
    await service.execute(drill_id, c.EndDrill("time for the hot wash"))
    drill = await service.drill(drill_id)
    assert drill.status == str(Status.ended) and drill.ended_at is not None
    with pytest.raises(DomainError) as refused:
        await service.execute(drill_id, c.PauseClock())
    assert refused.value.code is Code.drill_ended


async def test_a_timer_due_while_a_command_waited_keeps_its_own_time(
    service: DrillService, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command ticks, then waits for the drill's lock; a timer that falls due in that
    wait is the clock's: it keeps the scenario time it was due at and comes before the
    command in the log (the SIGKILL soak saw the 10-minute inject stamped 600.28 s)."""
    drill_id = await _drill(service)
    await service.execute(drill_id, c.Join("p-exec", "Dana", "executive"), c.Actor("p-exec"))
    await service.execute(drill_id, c.StartClock())
    clock.advance(59.9)  # speed 10: 599 scenario seconds, the note is due at 600
    real_tick = service.tick

    async def tick_then_wait(drill: str) -> list[Event]:
        fired = await real_tick(drill)
        clock.advance(0.2)  # the command waits for the lock: the note falls due meanwhile
        return fired

    monkeypatch.setattr(service, "tick", tick_then_wait)
    message = c.SendMessage(["incident_manager"], "Where are we?")
    outcome = await service.execute(drill_id, message, c.Actor("p-exec"))
    monkeypatch.undo()
    log = await service.events(drill_id)
    (note,) = [
        e for e in log if e.type is EventType.inject_delivered and e.data["inject_id"] == "note"
    ]
    assert note.scenario_time == 600.0
    assert note.seq < outcome.first_seq
    assert outcome.events[0].scenario_time == pytest.approx(601.0)
    times = [e.scenario_time for e in log]
    assert times == sorted(times), "the log's story times go forward"


async def test_a_payload_reads_back_exactly_as_written(
    service: DrillService, engine: AsyncEngine
) -> None:
    """The log's payloads are decoded by orjson, with the standard library for what it
    refuses: every value reads back as it was written, from a service that starts cold."""
    drill_id = await _drill(service)
    text = 'Ünïcode ✓, "quotes", a \\ and\na new line'
    await service.execute(drill_id, c.AddNote(text))
    async with service.sessions() as session:
        row = await session.scalar(
            select(DrillEvent)
            .where(DrillEvent.drill_id == drill_id)
            .order_by(DrillEvent.seq.desc())
        )
        assert row is not None
        row.data = {**row.data, "big": 2**70, "exact": 0.1 + 0.2}
        await session.commit()
    cold = DrillService(make_sessionmaker(engine), sqlite=engine.dialect.name == "sqlite")
    note = (await cold.events(drill_id))[-1]
    assert note.data["text"] == text
    assert note.data["big"] == 2**70 and note.data["exact"] == 0.1 + 0.2


def test_json_the_fast_decoder_refuses_is_read_the_standard_way() -> None:
    """`json.dumps` writes NaN for a float that is not a number; orjson refuses it."""
    assert math.isnan(_decode_json('{"a": NaN}')["a"])
    assert _decode_json(' {"a": [1, 2.5, null]} ') == {"a": [1, 2.5, None]}


async def _cold_state(engine: AsyncEngine, drill_id: str) -> DrillState:
    cold = DrillService(make_sessionmaker(engine), sqlite=engine.dialect.name == "sqlite")
    return (await cold.state(drill_id))[1]


async def test_a_restarted_server_reads_the_scenario_kept_as_json_or_its_text(
    service: DrillService, engine: AsyncEngine, clock: FakeClock
) -> None:
    """The scenario's data is kept as JSON beside its text; a version stored before that
    (NULL) is parsed from its text, and gets its JSON when the same text is stored again.
    Either way a restarted server folds the log to the state the live server has."""
    drill_id = await _drill(service)
    await service.execute(drill_id, c.Join("p-exec", "Dana", "executive"), c.Actor("p-exec"))
    await service.execute(drill_id, c.StartClock())
    clock.advance(60)
    await service.tick(drill_id)
    _, live = await service.state(drill_id)
    async with service.sessions() as session:
        version = await session.scalar(select(ScenarioVersion))
        assert version is not None and version.data_json is not None
        version.data_json = None  # as a version stored before the JSON was kept
        await session.commit()
    parse_stored_scenario.cache_clear()
    assert await _cold_state(engine, drill_id) == live
    await service.create_drill(MINI, "mini.yaml", c.CreateDrill("d-2", "Second"))
    async with service.sessions() as session:
        version = await session.scalar(select(ScenarioVersion))
        assert version is not None and version.data_json is not None
    parse_stored_scenario.cache_clear()
    assert await _cold_state(engine, drill_id) == live


async def test_a_rebuild_folds_every_event_and_keeps_the_log_s_tail(
    service: DrillService, engine: AsyncEngine
) -> None:
    drill_id = await _drill(service)
    for n in range(12):
        await service.execute(drill_id, c.AddNote(f"note {n}"))
    written = await service.events(drill_id)
    async with make_sessionmaker(engine)() as session:
        assert await with_events(session, drill_id, lambda events: events[-5:]) == written[-5:]
    _, state = await service.state(drill_id)
    assert await _cold_state(engine, drill_id) == state
    # And the log it gives is the one written.
    cold = DrillService(make_sessionmaker(engine), sqlite=engine.dialect.name == "sqlite")
    assert await cold.events(drill_id) == written


async def test_a_long_log_is_used_with_the_collector_held_and_let_go_after(
    service: DrillService, engine: AsyncEngine
) -> None:
    """`with_events` runs its work with the garbage collector held (no pass over the
    events mid-build) and resumes it after, whatever the work returned."""
    drill_id = await _drill(service)
    seen: list[bool] = []

    def use(events: list[Event]) -> int:
        seen.append(gc.isenabled())
        return len(events)

    async with make_sessionmaker(engine)() as session:
        assert await with_events(session, drill_id, use) == len(await service.events(drill_id))
    assert seen == [False]
    assert gc.isenabled()


async def test_a_report_s_use_of_the_log_leaves_the_event_loop_serving(
    service: DrillService,
) -> None:
    """A long drill's report takes a fifth of a second to build: the live drills this
    loop serves must not wait for it. Here the build, once begun, waits for the loop to
    answer; run on the loop itself, it would wait out its timeout instead."""
    drill_id = await _drill(service)
    drill = await service.drill(drill_id)
    loop = asyncio.get_running_loop()
    begun, answered = asyncio.Event(), threading.Event()

    def build(_scenario: object, events: list[Event]) -> tuple[bool, int]:
        loop.call_soon_threadsafe(begun.set)
        return answered.wait(timeout=5), len(events)

    building = asyncio.create_task(service.with_log(drill, build))
    await begun.wait()
    answered.set()  # only a loop that is free to run gets here while the build waits
    loop_answered_in_time, count = await building
    assert loop_answered_in_time
    assert count == len(await service.events(drill_id))
    assert gc.isenabled()


# --------------------------------------------------------------------------- snapshots


async def _snapshot_row(engine: AsyncEngine, drill_id: str) -> StoredSnapshot | None:
    async with make_sessionmaker(engine)() as session:
        return await session.get(StoredSnapshot, drill_id)


async def test_a_restarted_server_folds_from_the_last_snapshot_of_this_engine(
    service: DrillService, engine: AsyncEngine
) -> None:
    """An imported drill keeps its state at its last seq; a restarted server starts
    there (a snapshot marked so shows through), unless another engine folded it."""
    source, origin, scenario = load_shipped()
    log = generate_events(scenario, SNAPSHOT_EVERY + 200, "d-long", seed=5)
    drill_id = await service.import_events(source, origin, "d-long", log)
    row = await _snapshot_row(engine, drill_id)
    assert row is not None and row.seq == log[-1].seq
    assert await _cold_state(engine, drill_id) == replay(scenario, log)

    marked = snapshot(replay(scenario, log))
    marked["name"] = "Folded from the snapshot"
    async with make_sessionmaker(engine)() as session, session.begin():
        await session.execute(
            update(StoredSnapshot)
            .where(StoredSnapshot.drill_id == drill_id)
            .values(data=json.dumps(marked))
        )
    assert (await _cold_state(engine, drill_id)).name == "Folded from the snapshot"
    async with make_sessionmaker(engine)() as session, session.begin():
        await session.execute(
            update(StoredSnapshot)
            .where(StoredSnapshot.drill_id == drill_id)
            .values(engine="0" * 64)
        )
    assert await _cold_state(engine, drill_id) == replay(scenario, log)


async def test_live_writes_keep_a_snapshot_that_never_runs_ahead_of_the_log(
    service: DrillService, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every few events (five here) the state is kept with the events that reach it:
    commands one by one, a burst written together, the clock's injects."""
    monkeypatch.setattr(snapshots, "SNAPSHOT_EVERY", 5)
    drill_id = await _drill(service)
    for n, role in enumerate(["executive", "legal", "incident_manager"]):
        await service.execute(drill_id, c.Join(f"p{n}", f"P{n}", role), c.Actor(f"p{n}"))
    await service.execute(drill_id, c.StartClock())
    await asyncio.gather(*(service.execute(drill_id, c.AddNote(f"n{n}")) for n in range(23)))
    for n in range(7):
        await service.execute(drill_id, c.AddNote(f"later {n}"))
    log = await service.events(drill_id)
    row = await _snapshot_row(engine, drill_id)
    assert row is not None and log[-1].seq - 5 < row.seq <= log[-1].seq
    parsed = (await service.state(drill_id))[0]
    kept = snapshots.usable(row)
    assert kept == replay(parsed, log[: row.seq])
    _, live = await service.state(drill_id)
    assert await _cold_state(engine, drill_id) == live
