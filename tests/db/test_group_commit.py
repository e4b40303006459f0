"""Group commit: commands that arrive together are decided in order and written in one
transaction, each with its own outcome (real SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path

import pytest
import sqlalchemy.event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.models import CommandReceipt, DrillEvent
from app.engine import commands as c
from app.engine.errors import Code, DomainError
from app.engine.events import EventType
from app.services.accounts import AccountRole, AccountService
from app.services.credentials import Credential
from app.services.drills import DrillService, Outcome
from app.services.security import token_hash

MINI = (Path(__file__).parents[1] / "fixtures" / "mini.yaml").read_text()


async def _running_drill(service: DrillService) -> str:
    drill_id = await service.create_drill(MINI, "mini.yaml", c.CreateDrill("g-1", "Group"))
    for n, role in enumerate(["incident_manager", "executive", "legal"]):
        await service.execute(drill_id, c.Join(f"p{n}", f"P{n}", role), c.Actor(f"p{n}"))
    await service.execute(drill_id, c.StartClock())
    return drill_id


def _message(n: int) -> c.SendMessage:
    return c.SendMessage(to=["legal"], body=f"update {n}")


async def test_concurrent_commands_each_get_their_outcome_and_the_log_stays_contiguous(
    service: DrillService, engine: AsyncEngine
) -> None:
    drill_id = await _running_drill(service)
    before = (await service.drill(drill_id)).last_seq
    # Every COMMIT the database is sent, counted where SQLAlchemy sends it.
    commits: list[int] = []
    sqlalchemy.event.listen(engine.sync_engine, "commit", lambda _conn: commits.append(1))
    sends = [service.execute(drill_id, _message(n), c.Actor("p0"), key=f"k{n}") for n in range(40)]
    # one that the rules refuse, in the same burst: only it fails
    refused = service.execute(drill_id, c.Answer("no-such", "x"), c.Actor("p1"), key="bad")
    # the same key twice in the burst: applied once
    again = service.execute(drill_id, _message(0), c.Actor("p0"), key="k0")
    results = await asyncio.gather(*sends, refused, again, return_exceptions=True)
    outcomes, failure, repeat = results[:40], results[40], results[41]
    assert isinstance(failure, DomainError)
    assert not isinstance(repeat, BaseException) and repeat.repeated
    assert all(not isinstance(o, BaseException) and not o.repeated for o in outcomes)
    log = await service.events(drill_id)
    seqs = [e.seq for e in log]
    assert seqs == list(range(1, len(seqs) + 1))
    sent = [e for e in log if e.seq > before and e.type is EventType.message_sent]
    assert sorted(e.data["body"] for e in sent) == sorted(f"update {n}" for n in range(40))
    drill = await service.drill(drill_id)
    assert drill.last_seq == seqs[-1]
    # The 41 commands (40 written, one repeated) shared a few transactions instead of taking
    # one each; the reads since (the log, the drill) commit nothing.
    assert 1 <= len(commits) <= 5, len(commits)
    async with service.sessions() as session:
        receipts = await session.scalar(
            select(func.count())
            .select_from(CommandReceipt)
            .where(CommandReceipt.drill_id == drill_id)
        )
    assert receipts == 40  # neither the refused command nor the repeat left a receipt


@pytest.mark.parametrize("burst", [1, 25])
async def test_a_replayed_burst_is_acknowledged_again_and_applied_once(
    service: DrillService, burst: int
) -> None:
    drill_id = await _running_drill(service)

    async def send_all() -> list[int]:
        outcomes = await asyncio.gather(
            *(
                service.execute(drill_id, _message(n), c.Actor("p0"), key=f"r{n}")
                for n in range(burst)
            )
        )
        return [o.last_seq for o in outcomes]

    first = await send_all()
    replayed = await send_all()
    assert replayed == first
    async with service.sessions() as session:
        stored = await session.scalar(
            select(func.count()).select_from(DrillEvent).where(DrillEvent.drill_id == drill_id)
        )
    assert stored == (await service.drill(drill_id)).last_seq


async def test_a_join_sent_twice_in_one_burst_writes_one_participant(
    service: DrillService,
) -> None:
    from app.db.models import ParticipantRow

    drill_id = await _running_drill(service)

    async def join() -> Outcome:
        row = ParticipantRow(id="p-twice", drill_id=drill_id, token_hash="h" * 64, name="Twice")
        command = c.Join("p-twice", "Twice", "legal")
        return await service.execute(
            drill_id, command, c.Actor("p-twice"), key="join-1", also=[row]
        )

    # The first command holds the drill while the two joins queue: they share one batch.
    filler = service.execute(drill_id, _message(0), c.Actor("p0"), key="filler")
    _, first, second = await asyncio.gather(filler, join(), join())
    assert [first.repeated, second.repeated] == [False, True]
    async with service.sessions() as session:
        rows = await session.scalar(
            select(func.count()).select_from(ParticipantRow).where(ParticipantRow.id == "p-twice")
        )
    assert rows == 1


async def _running_drills(service: DrillService, count: int) -> list[str]:
    drills = []
    for n in range(count):
        drill_id = await service.create_drill(MINI, "mini.yaml", c.CreateDrill(f"x-{n}", "X"))
        await service.execute(drill_id, c.Join("p0", "P0", "incident_manager"), c.Actor("p0"))
        await service.execute(drill_id, c.StartClock(confirm_unfilled=True))
        drills.append(drill_id)
    return drills


async def _queued_behind_the_writer(
    service: DrillService, sends: Sequence[Awaitable[Outcome]]
) -> list[Outcome | BaseException]:
    """Send while SQLite's one writer is held (as by another drill's write), so that every
    command waits for it at once, then let it go."""
    async with service.writing():
        tasks = [asyncio.ensure_future(send) for send in sends]
        for _ in range(200):  # until each drill's batch waits for the writer
            await asyncio.sleep(0.005)
            if len(service._sharing) == len(tasks):
                break
    return list(await asyncio.gather(*tasks, return_exceptions=True))


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
async def test_drills_waiting_for_the_sqlite_writer_share_one_transaction(
    service: DrillService, engine: AsyncEngine
) -> None:
    drills = await _running_drills(service, 6)
    commits: list[int] = []
    sqlalchemy.event.listen(engine.sync_engine, "commit", lambda _conn: commits.append(1))
    sends = [
        service.execute(drill_id, _message(n), c.Actor("p0"), key=f"m{n}")
        for n, drill_id in enumerate(drills)
    ]
    outcomes = await _queued_behind_the_writer(service, sends)
    assert len(commits) == 1
    for n, (drill_id, outcome) in enumerate(zip(drills, outcomes, strict=True)):
        assert isinstance(outcome, Outcome) and not outcome.repeated
        log = await service.events(drill_id)
        assert [e.seq for e in log] == list(range(1, len(log) + 1))
        assert log[-1].seq == outcome.last_seq == (await service.drill(drill_id)).last_seq
        assert log[-1].data["body"] == f"update {n}"
    # Each drill's receipt was claimed in that transaction: sent again, a repeat.
    again = await service.execute(drills[2], _message(2), c.Actor("p0"), key="m2")
    assert again.repeated and again.last_seq == outcomes[2].last_seq  # type: ignore[union-attr]


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
async def test_a_repeat_among_the_waiting_drills_gets_its_first_outcome(
    service: DrillService,
) -> None:
    """A drill's batch that the rules refuse may be the repeat of a command applied
    before (its receipt is read to know): the waiting drills are then written one by one,
    and each command gets its own answer."""
    drills = await _running_drills(service, 4)
    paused = await service.execute(drills[1], c.PauseClock(), key="pause")
    sends = [
        service.execute(drill_id, _message(n), c.Actor("p0"), key=f"m{n}")
        for n, drill_id in enumerate(drills)
        if n != 1
    ]
    sends.append(service.execute(drills[1], c.PauseClock(), key="pause"))
    *outcomes, repeat = await _queued_behind_the_writer(service, sends)
    assert isinstance(repeat, Outcome) and repeat.repeated
    assert repeat.last_seq == paused.last_seq
    for n, (drill_id, outcome) in enumerate(zip(drills[:1] + drills[2:], outcomes, strict=True)):
        assert isinstance(outcome, Outcome) and not outcome.repeated
        log = await service.events(drill_id)
        assert [e.seq for e in log] == list(range(1, len(log) + 1))
        body = f"update {0 if n == 0 else n + 1}"
        assert [e.data.get("body") for e in log].count(body) == 1


async def test_an_idle_drill_s_clock_reads_the_database_only_where_others_may_write(
    service: DrillService, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock ticks every running drill four times a second. On SQLite this process is
    the only writer, so an idle drill's cached state holds and a tick reads nothing; on
    PostgreSQL other workers may have written, so a state older than FRESH_SECONDS is read
    again."""
    drill_id = await _running_drill(service)
    statements: list[str] = []
    sqlalchemy.event.listen(
        engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2])
    )
    an_hour_on = time.monotonic() + 3600
    monkeypatch.setattr("app.services.drills.time.monotonic", lambda: an_hour_on)
    for _ in range(8):
        assert await service.tick(drill_id) == []
    if engine.dialect.name == "sqlite":
        assert statements == []
    else:
        assert any("drill_events" in s for s in statements)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
async def test_the_waiting_drills_read_each_credential_once_and_refuse_only_where_it_ended(
    service: DrillService, engine: AsyncEngine
) -> None:
    """A facilitator running several drills from one API token: their commands waiting for
    the writer together are checked with one read of the token, and each is still refused
    exactly where the token no longer holds (a drill they were removed from, a revoked
    token) while the others are written."""
    accounts = AccountService(service.sessions, writing=service.writing)
    fac = await accounts.create_user("fac", "a long enough password 1", AccountRole.facilitator)
    await accounts.create_user("other", "a long enough password 2", AccountRole.facilitator)
    secret = await accounts.create_api_token("bot", "fac")
    stale = await accounts.create_api_token("old-bot", "fac")
    assert await accounts.revoke_api_token("old-bot")
    drills = await _running_drills(service, 4)
    for drill_id in drills[:3]:
        await service.add_facilitator(drill_id, "fac", by="admin")
    await service.add_facilitator(drills[3], "other", by="admin")

    def api(token: str, drill_id: str) -> Credential:
        return Credential("api", token_hash(token), user_id=fac.id, drill_id=drill_id)

    token_reads: list[str] = []

    def count_token_reads(*args: object) -> None:
        statement = str(args[2])
        if "FROM api_tokens" in statement:
            token_reads.append(statement)

    sqlalchemy.event.listen(engine.sync_engine, "before_cursor_execute", count_token_reads)
    sends = [
        service.execute(d, c.AddNote(f"note {n}"), key=f"m{n}", credential=api(secret, d))
        for n, d in enumerate(drills)
    ]
    sends.append(
        service.execute(drills[0], c.AddNote("note 9"), key="m9", credential=api(stale, drills[0]))
    )
    outcomes = await _queued_behind_the_writer(service, sends)
    *running, removed, revoked = outcomes
    assert all(isinstance(o, Outcome) and not o.repeated for o in running), running
    for refusal in (removed, revoked):
        assert isinstance(refusal, DomainError) and refusal.code is Code.credential_revoked
    assert len(token_reads) == 2  # one per token, not one per drill
    for n, drill_id in enumerate(drills):
        notes = [e.data.get("text") for e in await service.events(drill_id)]
        assert (f"note {n}" in notes) is (n < 3)
    assert "note 9" not in [e.data.get("text") for e in await service.events(drills[0])]
