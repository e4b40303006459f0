"""The programme page follows each notification regime across drills: the share of its
duties' points each drill earned. One team files every DORA report on time, another lets
the 4-hour initial notification run out."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from app.db.models import StoredScorecard
from app.engine import commands as c
from app.engine.scoring import Scorecard
from app.regimes.library import regime as shipped_regime
from app.reports.model import Report
from app.services.accounts import AccountRole
from app.services.drills import DrillService
from app.services.reviews import DrillRecord, ReviewService, regime_trends
from app.services.scorecards import scoring_digest
from tests.conftest import ROOT
from tests.live import LiveServer, sign_in

SCENARIO = "payments-major-ict-incident.yaml"


def _classified_drill(live: LiveServer, name: str, variables: dict[str, str] | None = None) -> str:
    body = {"scenario": SCENARIO, "name": name, "variables": variables or {}}
    made = sign_in(live).post("/api/drills", json=body)
    assert made.status_code == 201, made.text
    drill_id: str = made.json()["id"]
    for command in (
        c.StartClock(confirm_unfilled=True),
        c.FireInject("classification-data"),
        c.Answer("classify", "major", role="legal"),
    ):
        live.run(live.app.state.service.execute(drill_id, command))
    return drill_id


@pytest.mark.live_settings(scenarios_dir=ROOT / "scenarios")
def test_the_programme_charts_each_regime_across_drills(live_server: LiveServer) -> None:
    live = live_server
    service = live.app.state.service
    on_time = _classified_drill(live, "Reports on time")
    for duty in shipped_regime("dora").duties:  # each form filled in, signed off, filed
        fields = {f.id: "41,000" if f.fact else f"DORA {f.label}" for f in duty.fields}
        for command in (
            c.DraftNotice("dora", duty.id, fields, role="legal"),
            c.SignOffNotice("dora", duty.id, role="executive"),
            c.FileNotice("dora", duty.id, role="legal"),
        ):
            live.run(service.execute(on_time, command))
    live.run(service.execute(on_time, c.EndDrill()))
    late = _classified_drill(live, "Reports forgotten")
    # Jump from inject to inject until the 4 hours from the classification have run out.
    while live.run(service.state(late))[1].last_scenario_time < 5 * 3600:
        live.run(service.execute(late, c.JumpToNextInject()))
    live.run(service.execute(late, c.EndDrill()))

    reviews: ReviewService = live.app.state.reviews
    records = live.run(reviews.records())
    by_drill = dict(
        zip([r.drill.name for r in records], regime_trends(records)["DORA"], strict=True)
    )
    assert by_drill == {"Reports on time": 100.0, "Reports forgotten": 0.0}

    live.run(
        live.app.state.accounts.create_user("rita", "reviews all the drills", AccountRole.reviewer)
    )
    rita = live.client()
    rita.post("/api/session", json={"username": "rita", "password": "reviews all the drills"})
    page = rita.get("/programme")
    assert 'src="/programme/trends/regimes.svg"' in page.text
    chart = rita.get("/programme/trends/regimes.svg")
    assert chart.status_code == 200 and "Regulatory notifications per regime" in chart.text
    assert "DORA" in chart.text


@pytest.mark.live_settings(scenarios_dir=ROOT / "scenarios")
def test_the_programme_reuses_scores_until_a_drill_s_log_moves(live_server: LiveServer) -> None:
    """Scores are kept per drill and last seq: a view after a new event shows it."""
    live = live_server
    service = live.app.state.service
    reviews: ReviewService = live.app.state.reviews
    drill_id = _classified_drill(live, "Adjusted later")
    before = {r.drill.id: r.scores for r in live.run(reviews.records())}[drill_id]
    again = {r.drill.id: r.scores for r in live.run(reviews.records())}[drill_id]
    assert again is before  # the same log: not scored again
    live.run(service.execute(drill_id, c.AdjustScore("report", 5.0, "Called BaFin early")))
    after = {r.drill.id: r.scores for r in live.run(reviews.records())}[drill_id]
    assert after is not before
    assert after.overall.points == before.overall.points + 5


async def _stored_row(service: DrillService, drill_id: str) -> StoredScorecard | None:
    async with service.sessions() as session:
        return await session.get(StoredScorecard, drill_id)


async def _rewrite_stored(service: DrillService, drill_id: str, **values: object) -> None:
    async with service.sessions() as session, session.begin():
        await session.execute(
            update(StoredScorecard).where(StoredScorecard.drill_id == drill_id).values(**values)
        )


@pytest.mark.live_settings(scenarios_dir=ROOT / "scenarios")
def test_a_restarted_server_reads_stored_scores_while_they_hold(live_server: LiveServer) -> None:
    """The programme keeps each drill's scorecard in the database: a restarted server (a
    new review service) uses it for the same last seq and scoring code, and scores the
    drill again when either has moved."""
    live = live_server
    service: DrillService = live.app.state.service
    drill_id = _classified_drill(live, "Stored scores")

    def restarted_view() -> Scorecard:
        reviews = ReviewService(service.sessions, service)
        records: list[DrillRecord] = live.run(reviews.records())
        return {r.drill.id: r.scores for r in records}[drill_id]

    scored = restarted_view()
    row = live.run(_stored_row(service, drill_id))
    assert row is not None and row.scoring == scoring_digest()
    assert Scorecard.model_validate_json(row.data) == scored  # the copy is exact

    # The stored copy is what a restarted server shows (marked here so it can be told apart).
    overall = scored.overall.model_copy(update={"points": 999.0})
    marked = scored.model_copy(update={"overall": overall})
    live.run(_rewrite_stored(service, drill_id, data=marked.model_dump_json()))
    assert restarted_view().overall.points == 999.0

    # Made by other scoring code (an upgrade): scored again from the log, and stored anew.
    live.run(_rewrite_stored(service, drill_id, scoring="0" * 64))
    assert restarted_view() == scored
    row = live.run(_stored_row(service, drill_id))
    assert row is not None and row.scoring == scoring_digest()

    # The log moved (an adjustment): the copy no longer holds.
    live.run(service.execute(drill_id, c.AdjustScore("report", 5.0, "Called BaFin early")))
    assert restarted_view().overall.points == scored.overall.points + 5
    row = live.run(_stored_row(service, drill_id))
    assert row is not None and row.last_seq == live.run(service.drill(drill_id)).last_seq


@pytest.mark.live_settings(scenarios_dir=ROOT / "scenarios")
def test_the_report_reads_the_stored_scorecard_while_it_holds(live_server: LiveServer) -> None:
    """A reviewer opens, exports and edits a finished drill's report many times: its
    scores come from the stored copy (the programme's, from the unfilled scenario) while it
    holds, and read exactly as a report scored from the log; a report that scored the log
    stores what it scored; an event more and the log is scored again."""
    live = live_server
    service: DrillService = live.app.state.service
    drill_id = _classified_drill(live, "Named", {"org_name": "Zebra Pay"})
    live.run(service.execute(drill_id, c.EndDrill()))

    def restarted_report() -> Report:
        report: Report = live.run(ReviewService(service.sessions, service).report(drill_id))
        return report

    scored = restarted_report()  # nothing stored yet: scored from the log, and stored
    row = live.run(_stored_row(service, drill_id))
    assert row is not None and Scorecard.model_validate_json(row.data) == scored.scores

    live.run(_rewrite_stored(service, drill_id, last_seq=0))  # as if stale: scored again
    live.run(ReviewService(service.sessions, service).records())  # the programme's copy
    from_copy = restarted_report()
    assert from_copy.model_dump(exclude={"generated_at"}) == scored.model_dump(
        exclude={"generated_at"}
    )

    overall = scored.scores.overall.model_copy(update={"points": 999.0})
    marked = scored.scores.model_copy(update={"overall": overall})
    live.run(_rewrite_stored(service, drill_id, data=marked.model_dump_json()))
    assert restarted_report().scores.overall.points == 999.0  # the copy is what it shows

    live.run(service.execute(drill_id, c.AdjustScore("report", 5.0, "Called BaFin early")))
    assert restarted_report().scores.overall.points == scored.scores.overall.points + 5
