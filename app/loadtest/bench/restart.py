"""The "restart cost" case of `tabletop bench`: what a long drill costs a restarted server.

A restarted server keeps no state: the first time a drill is used again, the drills
service loads the drill, parses its stored scenario text and folds its log from the
drill's last snapshot (`DrillService._get_live`; app/services/snapshots). This case plays a
realistic long drill with the pure engine (participants in every role, injects, decisions,
many messages, notes), stores it through `DrillService.import_events`, keeps its snapshot
where a drill played live may have it last (SNAPSHOT_EVERY - 1 events before the end: the
most a restarted server folds), and then, on a fresh service each time (new engine and
sessions, the scenario cache emptied), measures:

- rebuild: `await service.state(drill_id)` from nothing; and once more with no snapshot
  (the whole log folded, as after an upgrade that changes the engine);
- scorecard: `await service.scorecard(drill_id)` (loads the log again and folds it);
- report: the after-action report through `ReviewService.report`, its scores read from
  the stored scorecard; and once more with none stored (the log scored, and stored);
- html: rendering that report to the HTML export.

The goals these figures are held to are `tabletop bench`'s (app/loadtest/bench/run.py).
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.authoring import loader as scenario_loading
from app.authoring.loader import load_scenario_path
from app.db import repository as repo
from app.db.migrate import upgrade
from app.db.models import StoredScorecard, StoredSnapshot
from app.db.session import is_sqlite, make_engine, make_sessionmaker
from app.engine import commands as c
from app.engine.core import advance, apply, decide
from app.engine.errors import DomainError
from app.engine.events import Event
from app.engine.scenario import Scenario, Statement, fill
from app.engine.simulate import DRY_RUN_EPOCH
from app.engine.state import DrillState, Status
from app.reports.render import render_html
from app.resources import resource_dir
from app.services import snapshots
from app.services.drills import DrillService
from app.services.reviews import ReviewService
from app.web.main import settle_heap

SCENARIOS = resource_dir("scenarios")
DEFAULT_SCENARIO = "ransomware-holiday-weekend"
SCENARIO_FILL = 0.9
"""The generated drill's last message comes at this share of the scenario's end."""
DEFAULT_SPAN = 24 * 3600.0
"""Scenario seconds to spread a drill over when its scenario has no end."""
ANSWER_AFTER = 0.3
"""Decisions are answered after this share of their time limit, on average."""

T = TypeVar("T")

FIRST_NAMES = (
    "Sanne Visser",
    "Joost Bakker",
    "Lotte de Jong",
    "Pieter Smit",
    "Anouk Mulder",
    "Daan Meijer",
    "Femke Bos",
    "Ruben Vos",
    "Iris Peters",
    "Thijs Hendriks",
    "Noor Dekker",
    "Bram van Dijk",
    "Eva Jansen",
    "Milan de Boer",
    "Lisa Kok",
    "Sem Willems",
)
"""Display names, handed out in order: every participant is named differently."""
OBSERVERS = ("Olga Observer", "Otto Evaluator")

OPENERS = (
    "Update from my side",
    "Quick status",
    "For your awareness",
    "Need a decision",
    "Heads up",
    "Following up on the bridge call",
    "Status at the top of the hour",
)
FINDINGS = (
    "the file servers at {site} show mass renames with the .krkn extension",
    "EDR isolated {n} more hosts at {site}; the rest are still reachable",
    "the backup console at {site} still accepts the svc_backup account",
    "we see outbound traffic from {site} to an unknown VPS on port 443",
    "the contractor VPN account was used again at {site} an hour ago",
    "the ESXi cluster at {site} has {n} encrypted datastores",
    "{n} warehouse label printers at {site} are printing the ransom note",
    "the domain controllers at {site} logged a DCSync from an unusual host",
    "the restore test of the {site} WMS database finished clean",
    "staff at {site} are asking whether they should come in tomorrow",
)
ASKS = (
    "Can you confirm before we go further?",
    "Please advise on the next step.",
    "I will report back in 30 minutes.",
    "Who owns this until the incident manager is back?",
    "Do we tell the clients now or after the next check?",
    "No action needed from you yet.",
    "Legal should see this before anything goes out.",
)
SITES = ("Amsterdam", "Hamburg", "Lyon")
NOTES = (
    "Team hesitated before escalating; nobody owned the decision for several minutes.",
    "Good use of the runbook: isolation steps followed in order.",
    "Communications asked legal before sending anything outside: as planned.",
    "The backup chain was unclear; two people acted for the same role.",
    "Executive briefing was late and incomplete.",
    "Strong coordination between the site SOCs.",
)


# --------------------------------------------------------------------------- generating


def load_shipped(name: str = DEFAULT_SCENARIO) -> tuple[str, str, Scenario]:
    """A shipped scenario (a file or a bundle folder): its exact text, the origin to store
    it under, and the model."""
    folder = SCENARIOS / name.removesuffix(".yaml")
    path = folder if folder.is_dir() else SCENARIOS / f"{name.removesuffix('.yaml')}.yaml"
    loaded = load_scenario_path(path)
    source = loaded.source
    if loaded.scenario is None:
        raise ValueError(f"{path} does not load: {[f.render() for f in loaded.errors]}")
    return source, str(path), loaded.scenario


class _Generator:
    """Plays one long drill on a fake clock: every command goes through `decide`, every
    event through `apply`, so the log is one the rules produce."""

    def __init__(self, scenario: Scenario, count: int, drill_id: str, seed: int) -> None:
        self.scenario = scenario
        self.count = count
        self.drill_id = drill_id
        self.random = random.Random(seed)  # noqa: S311 - test data, not secrets
        self.state = DrillState()
        self.events: list[Event] = []
        self.now = DRY_RUN_EPOCH
        self.step_seconds = 0.0
        """Scenario seconds the last tick moved on."""
        self.players: list[tuple[str, str | None]] = []
        """(participant id, role or None for an observer), in joining order."""

    # ------------------------------------------------------------------ plumbing

    def run(self, command: c.Command, actor: c.Actor = c.FACILITATOR_ACTOR) -> bool:
        """Decide and apply one command; False if the rules refuse it right now."""
        try:
            produced = decide(self.scenario, self.state, command, self.now, actor)
        except DomainError:
            return False
        for event in produced:
            apply(self.scenario, self.state, event)
        self.events.extend(produced)
        return True

    def catch_up(self) -> None:
        """Whatever fell due by now: injects, decision timeouts, missed expectations."""
        self.events.extend(advance(self.scenario, self.state, self.now))

    # ------------------------------------------------------------------ the drill

    def play(self) -> list[Event]:
        title = f"Restart bench: {self.scenario.title}"[: c.MAX_NAME_CHARS]
        self.run(c.CreateDrill(self.drill_id, title))
        self._join_everyone()
        self.now += 120.0
        self.run(c.StartClock(confirm_unfilled=True))
        tail = 2 + len(self.players) + 10  # end, release, hot wash each; room to overshoot
        end = self._scenario_end()
        steps = 0
        while len(self.events) < self.count - tail and not self._ended():
            steps += 1
            self._tick(end)
            if self._ended():
                break
            self._act(steps)
        self._wrap_up()
        return self.events[: self.count]

    def _ended(self) -> bool:
        return self.state.status is Status.ended

    def _join_everyone(self) -> None:
        names = iter(FIRST_NAMES)
        roles = list(self.state.roles)
        # Every role once; the busiest roles get a second person (site SOCs, IT on call).
        doubled = [r for r in ("soc_analyst", "it_operations", "lead_investigator") if r in roles]
        for role in [*roles, *doubled]:
            self._join(next(names, f"Player {len(self.players) + 1}"), role)
        for observer in OBSERVERS:
            self._join(observer, None)

    def _join(self, name: str, role: str | None) -> None:
        participant_id = str(uuid.UUID(int=self.random.getrandbits(128), version=4))
        self.now += self.random.uniform(5.0, 40.0)
        if self.run(c.Join(participant_id, name, role), c.Actor(participant_id)):
            self.players.append((participant_id, role))

    def _scenario_end(self) -> float:
        end = self.scenario.clock.end
        return SCENARIO_FILL * (end if end is not None else DEFAULT_SPAN)

    def _tick(self, end: float) -> None:
        """Move the wall clock so that the remaining events spread over the remaining
        scenario time, then fire what fell due."""
        left_events = max(1, self.count - len(self.events))
        left_time = max(0.0, end - self.state.scenario_now(self.now))
        step = left_time / left_events * 1.2 * self.random.uniform(0.2, 1.8)
        self.now += step / self.state.speed
        self.step_seconds = step
        self.catch_up()

    def _act(self, steps: int) -> None:
        r = self.random
        self._answer_open_decisions()
        if self.state.status is not Status.running:
            return
        roll = r.random()
        if roll < 0.80:
            self._message()
        elif roll < 0.87:
            self._expected_message()
        elif roll < 0.95:
            self._note()
        elif roll < 0.97:
            self._manual_inject()
        elif roll < 0.98:
            self._adjust()
        elif roll < 0.9805:
            self._pause_and_resume()
        else:
            self._message(facilitator=True)
        if steps == 500:
            self.run(c.SetSpeed(self.state.speed * 2))
        elif steps == 700:
            self.run(c.SetSpeed(self.state.speed / 2))

    # ------------------------------------------------------------------ what people do

    def _present(self, playing: bool = True) -> list[tuple[str, str | None]]:
        return [
            (pid, role)
            for pid, role in self.players
            if (role is not None) is playing and self.state.participants[pid].present
        ]

    def _message(self, facilitator: bool = False) -> None:
        r = self.random
        senders = [
            (pid, role)
            for pid, role in self._present()
            if role is not None and role not in self.state.unavailable
        ]
        if not senders:
            return
        pid, role = r.choice(senders)
        assert role is not None
        others = [x for x in self.state.roles if x != role]
        parties = list(self.scenario.parties)
        to: list[str] = []
        if parties and r.random() < 0.25:
            to.append(r.choice(parties))
        if others and (not to or r.random() < 0.3):
            to.extend(r.sample(others, k=min(len(others), r.choice((1, 1, 1, 2, 3)))))
        statement = self._statement_for(role) if r.random() < 0.03 else None
        body = self._body()
        subject = r.choice(OPENERS) if r.random() < 0.6 else ""
        if statement is not None:
            body = fill(statement.body, self.state.variables)
            subject = statement.title
            to = list(statement.to or to)
        actor = c.FACILITATOR_ACTOR if facilitator else c.Actor(pid)
        self.run(
            c.SendMessage(
                to=to,
                body=body,
                subject=subject,
                statement_id=statement.id if statement is not None else None,
                from_role=role if facilitator else None,
            ),
            actor,
        )

    def _statement_for(self, role: str) -> Statement | None:
        usable = [
            s
            for s in self.scenario.statements
            if not s.roles or self.state.stands_in_for(role) & set(s.roles)
        ]
        return self.random.choice(usable) if usable else None

    def _body(self) -> str:
        r = self.random
        parts = [f"{r.choice(OPENERS)}:"]
        for _ in range(r.choice((1, 1, 2, 3))):
            finding = r.choice(FINDINGS).format(site=r.choice(SITES), n=r.randint(2, 40))
            parts.append(finding[0].upper() + finding[1:] + ".")
        parts.append(r.choice(ASKS))
        return " ".join(parts)

    def _expected_message(self) -> None:
        """Someone remembers a pending communication duty (not always on time)."""
        pending = [e for e in self.state.expectations.values() if e.status == "pending"]
        if not pending:
            self._message()
            return
        spec = self.scenario.expectation(self.random.choice(pending).id)
        candidates = [r for r in (spec.from_ or self.state.roles) if r in self.state.roles]
        if not candidates:
            return
        role = self.state.acting_role(self.random.choice(candidates))
        speakers = [pid for pid, r in self._present() if r == role]
        title = fill(spec.title, self.state.variables)
        command = c.SendMessage(to=[spec.to], body=self._body(), subject=title[:200])
        if speakers:
            self.run(command, c.Actor(self.random.choice(speakers)))
        else:
            self.run(
                c.SendMessage(
                    to=command.to, body=command.body, subject=command.subject, from_role=role
                )
            )

    def _answer_open_decisions(self) -> None:
        r = self.random
        for decision in list(self.state.decisions.values()):
            if decision.closed or self.state.status is not Status.running:
                continue
            spec = self.scenario.decision(decision.id)
            # Answers come after a while: on average at 30% of the time limit.
            if r.random() > self.step_seconds / (ANSWER_AFTER * spec.time_limit):
                continue
            waiting = [x for x in decision.roles if not decision.answered_by(x)]
            if not waiting:
                continue
            acting = self.state.acting_role(r.choice(waiting))
            answerers = [pid for pid, role in self._present() if role == acting]
            options = [o for o in spec.options if not o.ends_drill] or spec.options
            option = r.choice(options)
            rationale = r.choice(ASKS) if r.random() < 0.5 else ""
            if answerers:
                self.run(
                    c.Answer(decision.id, option.id, rationale=rationale),
                    c.Actor(r.choice(answerers)),
                )

    def _note(self) -> None:
        r = self.random
        observers = self._present(playing=False)
        objective = r.choice([None, *self.scenario.objectives])
        actor = c.Actor(r.choice(observers)[0]) if observers and r.random() < 0.8 else None
        self.run(c.AddNote(r.choice(NOTES), objective), actor or c.FACILITATOR_ACTOR)

    def _manual_inject(self) -> None:
        r = self.random
        to = [r.choice(self.state.roles)] if r.random() < 0.7 else ["all"]
        self.run(
            c.ManualInject(
                title=f"Facilitator: {r.choice(OPENERS).lower()}",
                body=self._body(),
                to=to,
            )
        )

    def _adjust(self) -> None:
        r = self.random
        self.run(
            c.AdjustScore(
                r.choice(list(self.scenario.objectives)),
                r.choice((-2.0, -1.0, 1.0, 2.0)),
                r.choice(NOTES),
                role=r.choice([None, *self.state.roles]),
            )
        )

    def _pause_and_resume(self) -> None:
        if self.run(c.PauseClock()):
            self.now += self.random.uniform(30.0, 300.0)
            self.run(c.ResumeClock())

    def _wrap_up(self) -> None:
        """The drill ends; scores are released; everyone fills in the hot wash; notes fill
        any room left, so the log holds exactly `count` events."""
        self.now += 60.0
        if self.state.status is not Status.ended:
            self.run(c.EndDrill("end of the restart bench drill"))
        self.catch_up()
        if len(self.events) < self.count:
            self.run(c.ReleaseScores())
        for pid, _role in self.players:
            if len(self.events) >= self.count:
                break
            self.now += 20.0
            self.run(
                c.GiveFeedback("The bridge calls kept everyone aligned", "Tell legal sooner", 3),
                c.Actor(pid),
            )
        while len(self.events) < self.count:
            self.now += 5.0
            if not self.run(c.AddNote(self.random.choice(NOTES))):  # pragma: no cover
                raise RuntimeError("the engine refused a facilitator's note")


def generate_events(
    scenario: Scenario, count: int = 10_000, drill_id: str = "restart-bench", seed: int = 1
) -> list[Event]:
    """A realistic drill of `scenario` whose log holds exactly `count` events (at least
    the handful that create, join and start it): mostly messages between roles and to
    outside parties, with injects falling due, decisions answered or timing out, observer
    notes, a pause, a speed change, manual injects, adjustments and the hot wash."""
    return _Generator(scenario, count, drill_id, seed).play()


# --------------------------------------------------------------------------- the database


@asynccontextmanager
async def bench_database(database_url: str) -> AsyncIterator[Callable[[], AsyncEngine]]:
    """A migrated database to bench on; yields a function that opens a NEW engine on it
    (a restarted server). PostgreSQL gets a throwaway schema, dropped afterwards; SQLite
    is the file the URL names (it must be a file: every engine must see the data)."""
    if is_sqlite(database_url):
        first = make_engine(database_url)
        try:
            await upgrade(first)
        finally:
            await first.dispose()
        yield lambda: make_engine(database_url)
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(database_url)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))

        def open_engine() -> AsyncEngine:
            # As make_engine configures PostgreSQL, plus the schema.
            return create_async_engine(
                database_url,
                pool_pre_ping=True,
                pool_size=10,
                max_overflow=20,
                connect_args={"server_settings": {"search_path": schema}},
            )

        first = open_engine()
        try:
            await upgrade(first)
        finally:
            await first.dispose()
        yield open_engine
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


def forget_parsed_scenarios() -> None:
    """Empty the scenario loader's process-wide caches, as a restarted server has them."""
    for value in vars(scenario_loading).values():
        clear = getattr(value, "cache_clear", None)
        if callable(clear):
            clear()


def fresh_service(engine: AsyncEngine) -> DrillService:
    """A drills service as a restarted server has it: nothing cached, scenario text not
    yet parsed."""
    forget_parsed_scenarios()
    return DrillService(make_sessionmaker(engine), sqlite=engine.dialect.name == "sqlite")


async def store_drill(
    open_engine: Callable[[], AsyncEngine],
    source: str,
    origin: str,
    drill_id: str,
    events: list[Event],
) -> None:
    """Store the generated log through `DrillService.import_events` (which replays it
    first and refuses a log the rules would not produce)."""
    engine = open_engine()
    try:
        service = DrillService(make_sessionmaker(engine), sqlite=engine.dialect.name == "sqlite")
        await service.import_events(source, origin, drill_id, events)
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True, slots=True)
class Timing:
    """Milliseconds over the repetitions."""

    median_ms: float
    max_ms: float

    @classmethod
    def of(cls, samples: list[float]) -> Timing:
        return cls(round(statistics.median(samples), 2), round(max(samples), 2))


@dataclass(frozen=True, slots=True)
class RestartFigures:
    """What a restarted server pays for one long drill, and for its report."""

    backend: str
    scenario_id: str
    events: int
    repeats: int
    rebuild: Timing
    """`service.state(drill_id)` on a fresh service: load drill, scenario, snapshot and the
    log after it (SNAPSHOT_EVERY - 1 events); fold."""
    rebuild_from_log: Timing
    """The same with no snapshot stored: the whole log folded."""
    scenario: Timing
    """Of the rebuild, turning the stored scenario text into a model (timed apart, on a
    fresh service of its own): the part that does not grow with the log."""
    scorecard: Timing
    """`service.scorecard(drill_id)` right after: load the log again and score it."""
    report: Timing
    """`ReviewService.report(drill_id)`: load everything and build the after-action report,
    its scores read from the stored scorecard (as a restarted server has it)."""
    report_unscored: Timing
    """The same with no scorecard stored (as after an upgrade that changes scoring): the
    log is scored, and the scorecard stored."""
    html: Timing
    """`render_html(report, scenario)`: the HTML export."""

    def timings(self) -> dict[str, Timing]:
        return {
            "rebuild": self.rebuild,
            "rebuild_from_log": self.rebuild_from_log,
            "scenario": self.scenario,
            "scorecard": self.scorecard,
            "report": self.report,
            "report_unscored": self.report_unscored,
            "html": self.html,
        }

    def rows(self) -> list[tuple[str, float, float]]:
        """(what, median ms, max ms), one row per figure, for a table."""
        return [
            (FIGURE_LABELS[key], timing.median_ms, timing.max_ms)
            for key, timing in self.timings().items()
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": "restart",
            "backend": self.backend,
            "scenario_id": self.scenario_id,
            "events": self.events,
            "repeats": self.repeats,
            "ms": {
                key: {"median": timing.median_ms, "max": timing.max_ms}
                for key, timing in self.timings().items()
            },
        }


FIGURE_LABELS = {
    "rebuild": "rebuild: state from the last snapshot and the log after it",
    "rebuild_from_log": "  the same, no snapshot: the whole log",
    "scenario": "  of which: scenario text",
    "scorecard": "scorecard",
    "report": "after-action report",
    "report_unscored": "  the same, no scorecard stored",
    "html": "HTML render",
}


def _start() -> float:
    """Collect first, so each figure pays for its own garbage: otherwise a full collection
    (~70 ms over this process's heap) lands in whichever step happens to trigger it."""
    gc.collect()
    return time.perf_counter()


async def _timed(samples: list[float], work: Awaitable[T]) -> T:
    started = _start()
    result = await work
    samples.append((time.perf_counter() - started) * 1000)
    return result


async def _warm(engine: AsyncEngine) -> None:
    """A restarted server has connected already (it migrated at start): so do we."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _time_scenario(engine: AsyncEngine, drill_id: str) -> float:
    """Ms a fresh service takes to turn the drill's stored scenario text into a model:
    the call `DrillService._get_live` makes, the part of a rebuild that does not grow with
    the log. Timed on a service of its own, so the measured rebuild starts cold too."""
    service = fresh_service(engine)
    async with service.sessions() as session:
        drill = await repo.get_drill(session, drill_id)
        assert drill is not None
        started = _start()
        await service._scenario(session, drill.scenario_version_id)
        return (time.perf_counter() - started) * 1000


async def measure(
    open_engine: Callable[[], AsyncEngine], drill_id: str, repeats: int
) -> dict[str, list[float]]:
    """Samples in ms of rebuild (and its scenario part), scorecard, report and html, each
    repetition on a fresh engine and service; then of rebuild with no snapshot stored."""
    samples: dict[str, list[float]] = {
        "rebuild": [],
        "rebuild_from_log": [],
        "scenario": [],
        "scorecard": [],
        "report": [],
        "report_unscored": [],
        "html": [],
    }
    settle_heap()  # as the server is once started
    for _ in range(repeats):
        engine = open_engine()
        try:
            await _warm(engine)
            samples["scenario"].append(await _time_scenario(engine, drill_id))
            service = fresh_service(engine)
            await _timed(samples["rebuild"], service.state(drill_id))
            await _timed(samples["scorecard"], service.scorecard(drill_id))
            reviews = ReviewService(service.sessions, service, clock=lambda: DRY_RUN_EPOCH)
            report, scenario = await _timed(
                samples["report"], reviews.report_with_scenario(drill_id)
            )
            started = _start()
            render_html(report, scenario)
            samples["html"].append((time.perf_counter() - started) * 1000)
            del report, scenario  # the page is sent: the next repetition starts without it
            async with engine.begin() as connection:
                await connection.execute(delete(StoredScorecard))
            reviews = ReviewService(service.sessions, service, clock=lambda: DRY_RUN_EPOCH)
            await _timed(samples["report_unscored"], reviews.report(drill_id))
        finally:
            await engine.dispose()
    engine = open_engine()
    try:
        async with engine.begin() as connection:
            await connection.execute(delete(StoredSnapshot))
        for _ in range(repeats):
            await _timed(samples["rebuild_from_log"], fresh_service(engine).state(drill_id))
    finally:
        await engine.dispose()
    return samples


async def keep_snapshot_at(
    open_engine: Callable[[], AsyncEngine],
    scenario: Scenario,
    drill_id: str,
    log: list[Event],
    seq: int,
) -> None:
    """Make the drill's stored snapshot the state at `seq`, as live writes would have
    left it (an import keeps its last seq's)."""
    state = DrillState()
    for event in log[:seq]:
        apply(scenario, state, event)
    engine = open_engine()
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await session.merge(snapshots.stored(drill_id, state))
    finally:
        await engine.dispose()


async def restart_case(
    database_url: str,
    events: int = 10_000,
    repeats: int = 5,
    scenario: str = DEFAULT_SCENARIO,
    seed: int = 1,
) -> RestartFigures:
    """Generate a drill of `events` events, store it on `database_url` (SQLite file, or
    PostgreSQL in a throwaway schema), and time a restarted server's first use of it."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    source, origin, model = load_shipped(scenario)
    drill_id = str(uuid.uuid4())
    log = generate_events(model, events, drill_id, seed)
    count = len(log)
    async with bench_database(database_url) as open_engine:
        await store_drill(open_engine, source, origin, drill_id, log)
        # The furthest back a drill's last snapshot can be: SNAPSHOT_EVERY - 1 events to fold.
        last_kept = max(1, count - snapshots.SNAPSHOT_EVERY + 1)
        await keep_snapshot_at(open_engine, model, drill_id, log, last_kept)
        # A restarted server holds no copy of the log: 50,000 objects more on the heap
        # would make every full garbage collection during the measurements slower.
        del log
        samples = await measure(open_engine, drill_id, repeats)
        backend = "sqlite" if is_sqlite(database_url) else "postgresql"
    return RestartFigures(
        backend=backend,
        scenario_id=model.id,
        events=count,
        repeats=repeats,
        rebuild=Timing.of(samples["rebuild"]),
        rebuild_from_log=Timing.of(samples["rebuild_from_log"]),
        scenario=Timing.of(samples["scenario"]),
        scorecard=Timing.of(samples["scorecard"]),
        report=Timing.of(samples["report"]),
        report_unscored=Timing.of(samples["report_unscored"]),
        html=Timing.of(samples["html"]),
    )


def main() -> None:
    """`python -m app.loadtest.bench.restart URL [EVENTS]`: the figures as JSON, from a process of
    their own, as fresh as a restarted server (the bench runs it so)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("database_url")
    parser.add_argument("events", type=int, nargs="?", default=10_000)
    arguments = parser.parse_args()
    figures = asyncio.run(restart_case(arguments.database_url, events=arguments.events))
    print(json.dumps(figures.as_dict()))


if __name__ == "__main__":
    main()
