"""`tabletop export-drill` / `import-drill`: a played drill, with its review, items and
participants, survives the trip between SQLite and PostgreSQL unchanged; bad files are
refused with one clear line, and a refused or failed import leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import DeclarativeBase
from typer.testing import CliRunner

from app.cli.main import cli
from app.config import get_settings
from app.db.models import (
    Drill,
    DrillEvent,
    ImprovementItemRow,
    ParticipantRow,
    ReportReview,
    ScenarioVersion,
)
from app.services.reviews import ItemDraft, ReviewService
from app.services.runtime import open_service
from app.services.security import new_token, token_hash
from tests.cli.test_report_cli import _saved_dry_run
from tests.conftest import POSTGRES_URL, require_postgres

MINI = Path(__file__).parents[1] / "fixtures" / "mini.yaml"
runner = CliRunner()


# ---------------------------------------------------------------------------- helpers


async def _seed(drill_id: str) -> None:
    """What people add to a played drill: a review, an item, a participant with a token."""
    async with open_service(get_settings()) as service:
        reviews = ReviewService(service.sessions, service, clock=lambda: 1_900_000_500.0)
        await reviews.edit_summary(drill_id, "Contained within the hour.", "rita")
        await reviews.edit_objective(
            drill_id, "decide", "rita", rating="S", strengths="- calm", improvements="- faster"
        )
        draft = ItemDraft(
            capability="Communications",
            issue="Legal was told late",
            corrective_action="Add legal to the paging tree",
            element="planning",
            responsible="SecOps",
            contact="rita@example.org",
            objective_id="comms",
        )
        await reviews.add_item(drill_id, draft, "rita")
        async with service.writing(), service.sessions() as session, session.begin():
            session.add(
                ParticipantRow(
                    id=str(uuid.uuid4()),
                    drill_id=drill_id,
                    token_hash=token_hash(new_token()),
                    name="Pat",
                    role="ciso",
                )
            )


def _report(drill_id: str) -> dict[str, Any]:
    result = runner.invoke(cli, ["report", drill_id, "--format", "json"])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    report.pop("generated_at")
    return report


def _export(drill_id: str, path: Path) -> dict[str, Any]:
    result = runner.invoke(cli, ["export-drill", drill_id, "-o", str(path)])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _import(path: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(cli, ["import-drill", str(path), *extra])
    return result.exit_code, result.output


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def _counts() -> dict[str, int]:
    """Rows per table in the configured database."""
    tables: list[type[DeclarativeBase]] = [
        Drill,
        DrillEvent,
        ParticipantRow,
        ReportReview,
        ImprovementItemRow,
        ScenarioVersion,
    ]

    async def run() -> dict[str, int]:
        async with open_service(get_settings()) as service, service.sessions() as session:
            return {
                t.__tablename__: int(await session.scalar(select(func.count()).select_from(t)) or 0)
                for t in tables
            }

    return asyncio.run(run())


@contextmanager
def _postgres_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the CLI at a throwaway PostgreSQL database, dropped afterwards."""
    asyncio.run(require_postgres())
    name = f"t_archive_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    monkeypatch.setenv("TABLETOP_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        yield
    finally:
        monkeypatch.delenv("TABLETOP_DATABASE_URL")
        get_settings.cache_clear()
        asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


def _use_sqlite(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setenv("TABLETOP_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    get_settings.cache_clear()


def _same_drill(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Two exports of one drill agree on everything but the export time (and stored
    timestamps' zone spelling, which differs between SQLite and PostgreSQL)."""
    for key in ("scenario", "events", "participants", "review", "items"):
        if key == "participants":
            strip = [{k: v for k, v in p.items() if k != "created_at"} for p in after[key]]
            assert strip == [{k: v for k, v in p.items() if k != "created_at"} for p in before[key]]
        else:
            assert after[key] == before[key], key
    for key in ("id", "name", "status", "created_by"):
        assert after["drill"][key] == before["drill"][key]


# ---------------------------------------------------------------------------- round trips


@pytest.mark.postgres
def test_sqlite_to_postgres_keeps_the_report_log_review_and_items(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drill_id = _saved_dry_run()
    asyncio.run(_seed(drill_id))
    report = _report(drill_id)
    exported = _export(drill_id, workdir / "drill.json")
    assert exported["review"] and len(exported["items"]) == 1
    assert [p["name"] for p in exported["participants"]] == ["Pat"]
    assert not [k for k in _keys(exported) if "token" in k]
    assert "token_hash" not in (workdir / "drill.json").read_text()

    with _postgres_database(monkeypatch):
        code, output = _import(workdir / "drill.json")
        assert code == 0, output
        assert f"Imported drill {drill_id}" in output and "join code" in output
        assert _report(drill_id) == report
        _same_drill(exported, _export(drill_id, workdir / "again.json"))


@pytest.mark.postgres
def test_postgres_to_sqlite_keeps_the_report_log_review_and_items(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _postgres_database(monkeypatch):
        drill_id = _saved_dry_run()
        asyncio.run(_seed(drill_id))
        report = _report(drill_id)
        exported = _export(drill_id, workdir / "drill.json")

    _use_sqlite(monkeypatch, workdir / "restored.db")
    code, output = _import(workdir / "drill.json")
    assert code == 0, output
    assert _report(drill_id) == report
    _same_drill(exported, _export(drill_id, workdir / "again.json"))


def test_participants_get_fresh_secrets(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drill_id = _saved_dry_run()
    asyncio.run(_seed(drill_id))
    exported = _export(drill_id, workdir / "drill.json")

    async def hashes() -> dict[str, str]:
        async with open_service(get_settings()) as service, service.sessions() as session:
            rows = await session.scalars(select(ParticipantRow))
            return {row.id: row.token_hash for row in rows}

    old = asyncio.run(hashes())
    _use_sqlite(monkeypatch, workdir / "restored.db")
    assert _import(workdir / "drill.json")[0] == 0
    new = asyncio.run(hashes())
    assert new.keys() == old.keys() == {p["id"] for p in exported["participants"]}
    assert set(new.values()).isdisjoint(old.values())


# ---------------------------------------------------------------------------- refusals


def _broken(data: dict[str, Any], how: str) -> Any:
    if how == "marker":
        return {"something": "else"}
    if how == "version":
        return {**data, "tabletop_drill_export": 2}
    if how == "missing":
        return {**data, "drill": {k: v for k, v in data["drill"].items() if k != "name"}}
    if how == "wrong type":
        return {**data, "events": [{**data["events"][0], "seq": "first"}, *data["events"][1:]]}
    if how == "edited scenario":
        return {
            **data,
            "scenario": {**data["scenario"], "source": data["scenario"]["source"] + "#"},
        }
    raise AssertionError(how)


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("not json", "is not JSON"),
        ("marker", "not a Tabletop drill export"),
        ("version", "unsupported export version 2"),
        ("missing", "drill.name: Field required"),
        ("wrong type", "events.0.seq"),
        ("edited scenario", "does not match its sha256"),
    ],
)
def test_a_bad_file_is_refused_in_one_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, how: str, says: str
) -> None:
    drill_id = _saved_dry_run()
    data = _export(drill_id, workdir / "drill.json")
    bad = workdir / "bad.json"
    if how == "not json":
        bad.write_text('{"tabletop_drill_export": 1,')
    else:
        bad.write_text(json.dumps(_broken(data, how)))
    _use_sqlite(monkeypatch, workdir / "fresh.db")

    result = runner.invoke(cli, ["import-drill", str(bad)])
    assert result.exit_code == 2, result.output
    assert says in result.stderr and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert _counts()["drills"] == 0


def test_an_existing_drill_is_refused_without_as_new(workdir: Path) -> None:
    drill_id = _saved_dry_run()
    asyncio.run(_seed(drill_id))
    _export(drill_id, workdir / "drill.json")
    before = _counts()

    code, output = _import(workdir / "drill.json")
    assert code == 2 and "already exists" in output and "--as-new" in output
    assert _counts() == before

    code, output = _import(workdir / "drill.json", "--as-new")
    assert code == 0, output
    copy = re.search(r"Imported drill (\S+)", output)
    assert copy is not None and copy.group(1) != drill_id
    after = _counts()
    assert after["drills"] == 2 and after["improvement_items"] == 2
    assert after["participants"] == 2 and after["scenarios"] == before["scenarios"]
    assert _report(copy.group(1))["objectives"] == _report(drill_id)["objectives"]


def test_a_log_that_does_not_replay_leaves_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drill_id = _saved_dry_run()
    data = _export(drill_id, workdir / "drill.json")
    gap = {**data, "events": [data["events"][0], *data["events"][2:]]}
    (workdir / "gap.json").write_text(json.dumps(gap))
    _use_sqlite(monkeypatch, workdir / "fresh.db")

    code, output = _import(workdir / "gap.json")
    assert code == 2 and "the event log does not replay" in output
    assert set(_counts().values()) == {0}


def test_a_failure_after_the_log_is_written_leaves_no_drill(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drill, its log, participants, review and items are one transaction: a clash in
    the last row (the same item twice) leaves none of them behind."""
    drill_id = _saved_dry_run()
    asyncio.run(_seed(drill_id))
    _export(drill_id, workdir / "drill.json")
    data = json.loads((workdir / "drill.json").read_text())
    data["items"].append(dict(data["items"][0]))
    (workdir / "clash.json").write_text(json.dumps(data))
    _use_sqlite(monkeypatch, workdir / "fresh.db")
    result = runner.invoke(cli, ["import-drill", str(workdir / "clash.json")])
    assert result.exit_code == 2
    assert "rows clash" in result.output and "nothing was imported" in result.output
    counts = _counts()
    counts.pop("scenarios", None)  # the text is kept by its sha, shared by drills
    assert set(counts.values()) == {0}, counts
