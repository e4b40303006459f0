"""Upgrades keep users' data: a database written by release 0.1.0, upgraded with the real
`tabletop db upgrade` as a user would, still holds every drill, score, report, review,
improvement item, participant and account, on SQLite and on PostgreSQL.

EVERY LATER MIGRATION MUST KEEP THIS TEST PASSING: the fixture is what 0.1.0's users have on
disk. Never regenerate it with later code (its make.py refuses to). When a new release ships,
add its own fixture beside this one (tests/fixtures/release_X_Y_Z/, made by that release's
code with a copy of release_0_1_0/make.py) and add it to RELEASES below.

The fixture (tests/fixtures/release_0_1_0/): tabletop.db, a SQLite file; postgres.sql, a
pg_dump of the same history played on PostgreSQL; expected.json, what both must still say.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db.migrate import alembic_config, current
from app.db.models import CommandReceipt
from app.db.session import make_engine
from app.engine import commands as c
from app.engine.state import Status
from app.reports import render
from app.reports.model import Report
from app.services.accounts import AccountRole, AccountService
from app.services.drills import DrillService
from app.services.reviews import ReviewService
from app.services.runtime import open_service
from tests.conftest import require_postgres
from tests.scale.cluster import fresh_database

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RELEASES = ["release_0_1_0"]
"""One folder per shipped release, oldest first; each is upgraded to today's head."""
TABLETOP = Path(sys.executable).with_name("tabletop")


@dataclass(frozen=True, slots=True)
class Upgraded:
    settings: Settings
    url: str


SCORES_CORRECTED_SINCE: dict[str, dict[str, Any]] = {
    # Scores are folded from the log by today's code, so a deliberate correction of the
    # scoring changes what 0.1.0 computed (the fixture's files stay as 0.1.0 wrote them).
    # Points shared by several roles now split to the cent and add up: 0.1.0 read 26.01 of
    # 92.01 points for 26 of 92, 5.01 for 5 and -9.99 for -10
    # (tests/engine/test_scoring.py::test_points_shared_by_three_roles_add_up_to_the_cent).
    "3f2a9c64-1d7e-4b8a-9c55-0e6f1a2b3c01": {
        "score": {"max_points": 92.0, "percent": 28.3, "points": 26.0},
        "objectives": {
            "scoping": {"max_points": 5.0, "percent": 0.0, "points": 0.0},
            "containment": {"max_points": 30.0, "percent": 0.0, "points": -10.0},
        },
    },
}


def _corrected(drill_id: str, want: dict[str, Any]) -> dict[str, Any]:
    fix = SCORES_CORRECTED_SINCE.get(drill_id, {})
    objectives = {**want["objectives"], **fix.get("objectives", {})}
    return {**want, "score": fix.get("score", want["score"]), "objectives": objectives}


def _expected(release: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / release / "expected.json").read_text("utf-8"))
    return data


async def _tabletop_db_upgrade(cwd: Path, **env: str) -> None:
    """`tabletop db upgrade` in its own process, configured only by the environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TABLETOP_")}
    command = str(TABLETOP) if TABLETOP.exists() else shutil.which("tabletop") or "tabletop"
    process = await asyncio.create_subprocess_exec(
        command,
        "db",
        "upgrade",
        cwd=cwd,
        env=clean | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, f"tabletop db upgrade failed:\n{out.decode()}{err.decode()}"
    assert "is up to date" in out.decode(), out.decode()


def _epoch(moment: datetime) -> float:
    """A stored time as Unix seconds: SQLite gives it back naive (it is UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _fixed(moment: float) -> Callable[[], float]:
    return lambda: moment


async def _revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return await current(engine)
    finally:
        await engine.dispose()


def _dump_sql(dump: Path) -> str:
    """A plain pg_dump without its backslash lines (\\restrict): those are psql's own, so any
    client can load the rest (CI may have PostgreSQL in a container and no psql)."""
    lines = dump.read_text("utf-8").splitlines()
    return "\n".join(line for line in lines if not line.startswith("\\"))


async def _load_dump(url: str, sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


# --------------------------------------------------------------------------- checks


def _renders(report: Report, drill_id: str, pdf: bool, scenario: Any) -> None:
    """Every export of the report: the same documents `tabletop report` writes."""
    html = render.render_html(report, scenario)
    assert drill_id in html or report.overview.name in html
    assert html.lstrip().lower().startswith("<!doctype html")
    markdown = render.render_markdown(report)
    assert report.overview.name in markdown
    document = json.loads(render.render_json(report))
    assert document["overview"]["drill_id"] == drill_id
    timeline = list(csv.reader(io.StringIO(render.render_csv(report, "timeline"))))
    assert timeline[0] == list(render.TIMELINE_COLUMNS) and len(timeline) > 1
    plan = list(csv.reader(io.StringIO(render.render_csv(report, "plan"))))
    assert len(plan) == 1 + len(report.improvement_plan)
    if pdf:
        assert render.render_pdf(report, scenario).startswith(b"%PDF-")


async def _check_drills(
    service: DrillService, reviews: ReviewService, expected: dict[str, Any], pdf: bool
) -> None:
    rows = {d.id: d for d in await service.list_drills()}
    assert sorted(rows) == sorted(expected["drills"]), "drills were lost or added"
    for drill_id, want in expected["drills"].items():
        row = rows[drill_id]
        assert (row.name, row.created_by) == (want["name"], want["created_by"]), drill_id
        assert _epoch(row.created_at) == want["created_at"], drill_id
        assert (row.ended_at and _epoch(row.ended_at)) == want["ended_at"], drill_id
        # The whole log, read from the database and replayed by today's engine.
        events = await service.events(drill_id, 0, limit=100_000)
        assert [e.seq for e in events] == list(range(1, want["events"] + 1)), drill_id
        assert sorted({str(e.type) for e in events}) == want["event_types"], drill_id
        scenario, state = await service.state(drill_id)
        assert scenario.id == want["scenario"]
        assert state.seq == want["last_seq"] == row.last_seq, drill_id
        assert str(state.status) == want["status"] == row.status, drill_id
        assert sorted(state.participants) == want["participants"], drill_id
        assert state.scores_released == want["scores_released"], drill_id
        assert len(state.feedback_from) == want["feedback"], drill_id
        card = await service.scorecard(drill_id)
        want = _corrected(drill_id, want)
        assert card.overall.model_dump(mode="json") == want["score"], drill_id
        assert {k: v.model_dump(mode="json") for k, v in card.objectives.items()} == want[
            "objectives"
        ], drill_id
        if state.status is Status.ended:
            report, filled = await reviews.report_with_scenario(drill_id)
            _check_report(report, drill_id, expected)
            _renders(report, drill_id, pdf and drill_id == min(expected["reviews"]), filled)


def _check_report(report: Report, drill_id: str, expected: dict[str, Any]) -> None:
    """The report says what it said, with what people added after the drill."""
    want = expected["drills"][drill_id]["report"]
    overview = report.overview
    assert (overview.facilitator, overview.started_at, overview.ended_at) == (
        want["facilitator"],
        want["started_at"],
        want["ended_at"],
    ), drill_id
    assert [p.name for p in overview.participants] == want["participants"], drill_id
    assert (len(report.notes), len(report.hot_wash)) == (want["notes"], want["hot_wash"])
    # Open items of earlier drills (by the drills' created_at) that this one re-tested.
    assert [i.issue for i in report.retested] == want["retested"], drill_id
    items = [i for i in expected["items"] if i["drill_id"] == drill_id]
    assert [i.model_dump(mode="json", exclude={"id"}) for i in report.improvement_plan] == items, (
        drill_id
    )
    review = expected["reviews"].get(drill_id)
    if review is None:
        return
    assert report.summary == review["summary"], drill_id
    by_id = {o.id: o for o in report.objectives}
    for objective_id, edited in review["objectives"].items():
        section = by_id[objective_id]
        if edited["rating"] is not None:
            assert section.rating == edited["rating"], objective_id
        for kind in ("strengths", "improvements"):
            if edited[kind] is not None:
                assert getattr(section, kind) == edited[kind], (objective_id, kind)


async def _check_people(
    service: DrillService, accounts: AccountService, expected: dict[str, Any], backend: str
) -> None:
    assert await accounts.user_count() == len(expected["accounts"])
    first, account = next(iter(expected["accounts"].items()))
    assert await accounts.sign_in(first, account["password"] + "x") is None
    for name, account in expected["accounts"].items():
        token = await accounts.sign_in(name, account["password"])
        assert token is not None, f"{name} can no longer sign in"
        user = await accounts.user_for_session(token)
        assert user is not None and (user.username, user.role) == (name, account["role"])
    # Drills have owners now: each old drill is run by its creator when that account runs
    # drills; one made by a reviewer's account stays open to every facilitator.
    for drill_id, drill in expected["drills"].items():
        creator = drill["created_by"]
        runs = expected["accounts"].get(creator, {}).get("role") in ("admin", "facilitator")
        assert await service.facilitators(drill_id) == ([creator] if runs else []), drill_id
    # New rows after the upgrade: the id sequences carried on past the old rows.
    await accounts.create_user("new.after.upgrade", "a password of today", AccountRole.reviewer)
    # Participants of the drills still open can come back with their tokens, and newcomers
    # still join with the code (derived from the data folder's secret key).
    for drill_id, tokens in expected["tokens"][backend].items():
        for participant_id, token in tokens.items():
            row = await service.participant_for_token(drill_id, token)
            assert row is not None and row.id == participant_id, (drill_id, participant_id)
        found = await service.drill_for_code(service.join_code(drill_id))
        assert found is not None and found.id == drill_id


async def _check_reviews(reviews: ReviewService, expected: dict[str, Any]) -> None:
    for drill_id, want in expected["reviews"].items():
        review = await reviews.review(drill_id)
        assert review.updated_at is not None, drill_id
        assert review.model_dump(mode="json", exclude={"updated_at"}) == want, drill_id
    items = [i.model_dump(mode="json", exclude={"id"}) for i in await reviews.items()]
    assert items == expected["items"], "improvement items were lost or changed"


async def _running_drill_goes_on(service: DrillService, expected: dict[str, Any]) -> None:
    """The drill that was running when 0.1.0 stopped takes commands again."""
    running = [d for d, want in expected["drills"].items() if want["status"] == "running"]
    assert running, "the fixture has a running drill"
    for drill_id in running:
        events = await service.events(drill_id, 0, limit=100_000)
        service.clock = _fixed(events[-1].at + 1.0)  # just after its last event
        await service.execute(drill_id, c.AddNote("Back after the upgrade."))
        after = await service.events(drill_id, 0, limit=100_000)
        assert after[: len(events)] == events
        assert after[-1].type == "note_added" and after[-1].seq > events[-1].seq
        assert (await service.drill(drill_id)).last_seq == after[-1].seq
        # A command id 0.1.0 recorded (its receipt has no command hash) is still known:
        # sent again it is a repeat, applied never, whatever the command.
        async with service.sessions() as session:
            old = await session.scalar(
                select(CommandReceipt).where(CommandReceipt.drill_id == drill_id).limit(1)
            )
        assert old is not None and old.command_hash is None
        repeat = await service.execute(drill_id, c.AddNote("again"), key=old.key)
        assert repeat.repeated and repeat.last_seq == old.last_seq
        assert (await service.drill(drill_id)).last_seq == after[-1].seq


async def _check(upgraded: Upgraded, expected: dict[str, Any], backend: str) -> None:
    """Everything, on the upgraded database, through the services as the app uses them."""
    head = ScriptDirectory.from_config(alembic_config(upgraded.url)).get_current_head()
    assert await _revision(upgraded.url) == head, "`tabletop db upgrade` did not reach head"
    async with open_service(upgraded.settings) as service:
        # A fixed clock, an hour after the last event: reports' "generated at", sessions.
        last = [(await service.events(d, 0, limit=100_000))[-1].at for d in expected["drills"]]
        later = _fixed(max(last) + 3600)
        service.clock = later
        accounts = AccountService(service.sessions, clock=later, writing=service.writing)
        reviews = ReviewService(service.sessions, service, clock=later)
        # Every format for every ended drill; the PDF (some 5 s of WeasyPrint, the rest take
        # a fraction of one) for one reviewed drill, from SQLite only.
        await _check_drills(service, reviews, expected, pdf=backend == "sqlite")
        await _check_reviews(reviews, expected)
        await _check_people(service, accounts, expected, backend)
        await _running_drill_goes_on(service, expected)


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("release", RELEASES)
async def test_an_old_sqlite_database_upgrades_with_nothing_lost(
    release: str, tmp_path: Path
) -> None:
    expected = _expected(release)
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(FIXTURES / release / "tabletop.db", data / "tabletop.db")
    # The data folder as the old release left it: its database and its secret key.
    (data / "secret_key").write_text(expected["secret_key"])
    settings = Settings(data_dir=data, database_url="", secret_key="")
    url = settings.resolved_database_url()
    assert await _revision(url) == expected["revision"]
    await _tabletop_db_upgrade(tmp_path, TABLETOP_DATA_DIR=str(data))
    await _check(Upgraded(settings, url), expected, "sqlite")


@pytest.mark.postgres
@pytest.mark.parametrize("release", RELEASES)
async def test_an_old_postgres_database_upgrades_with_nothing_lost(
    release: str, tmp_path: Path
) -> None:
    await require_postgres()
    expected = _expected(release)
    async with fresh_database() as url:
        await _load_dump(url, _dump_sql(FIXTURES / release / "postgres.sql"))
        assert await _revision(url) == expected["revision"]
        await _tabletop_db_upgrade(
            tmp_path,
            TABLETOP_DATABASE_URL=url,
            TABLETOP_DATA_DIR=str(tmp_path / "data"),
            TABLETOP_SECRET_KEY=expected["secret_key"],
        )
        settings = Settings(
            data_dir=tmp_path / "data", database_url=url, secret_key=expected["secret_key"]
        )
        await _check(Upgraded(settings, url), expected, "postgres")
