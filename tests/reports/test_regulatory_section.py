"""The report's "Regulatory readiness": each duty of the regimes the scenario plays, with
its start, deadline, filing and status, and the filed text, in every export format. A
team that files on time and one that never files read differently in all of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.authoring.loader import load_scenario_file, load_scenario_path
from app.engine.simulate import Communication, play
from app.reports import render
from app.reports.build import DrillMeta, Inputs, build_report
from app.reports.model import Report
from tests.reports.sample import NOW, SCENARIOS
from tests.reports.test_render import pdf_text


def _report(communication: Communication) -> tuple[Report, Inputs]:
    loaded = load_scenario_file(SCENARIOS / "customer-database-theft.yaml")
    assert loaded.scenario is not None
    result = play(loaded.scenario, communication=communication)
    inputs = Inputs(loaded.scenario, result.events, DrillMeta(facilitator="dry-run"))
    return build_report(inputs, NOW), inputs


@pytest.mark.parametrize(
    ("communication", "status", "filed"),
    [(Communication.diligent, "Filed on time", True), (Communication.silent, "Missed", False)],
)
def test_every_format_says_whether_the_gdpr_duties_were_met(
    communication: Communication, status: str, filed: bool, tmp_path: Path
) -> None:
    report, inputs = _report(communication)
    duties = {d.duty: d for d in report.regulatory}
    assert list(duties) == ["supervisory_authority", "data_subjects"]
    authority = duties["supervisory_authority"]
    assert authority.state_label == status
    assert authority.due_at is not None and authority.started_at is not None
    assert authority.due_at - authority.started_at == 72 * 3600
    assert (authority.filed_at is not None) is filed
    if filed:
        assert authority.filed_by is not None and authority.filed_text

    as_json = json.loads(render.render_json(report))
    assert [d["state_label"] for d in as_json["regulatory"]] == [status, status]
    markdown = render.render_markdown(report, inputs.scenario)
    section = markdown.split("## Regulatory readiness", 1)[1].split("\n## ", 1)[0]
    assert "GDPR: Notify the supervisory authority (GDPR Art. 33(1))" in section
    assert section.count(status) == 2
    html = render.render_html(report, inputs.scenario)
    assert 'id="aar-regulatory"' in html and html.count(f"<td>{status}</td>") == 2
    assert ("Filed: GDPR, Notify the supervisory authority" in html) is filed
    text = pdf_text(render.render_pdf(report, inputs.scenario), tmp_path)
    assert "Regulatory readiness" in text and status in text


def test_a_scenario_without_regimes_says_so() -> None:
    loaded = load_scenario_file(SCENARIOS / "ransomware-holiday-weekend.yaml")
    assert loaded.scenario is not None
    result = play(loaded.scenario)
    report = build_report(Inputs(loaded.scenario, result.events, DrillMeta()), NOW)
    assert report.regulatory == []
    assert "The scenario plays no notification regime." in render.render_markdown(report)


def _played(file: str, communication: Communication) -> tuple[Report, Inputs]:
    loaded = load_scenario_path(SCENARIOS / file)
    assert loaded.scenario is not None
    result = play(loaded.scenario, communication=communication)
    inputs = Inputs(loaded.scenario, result.events, DrillMeta(facilitator="dry-run"))
    return build_report(inputs, NOW), inputs


def test_the_dora_scenario_diligent_files_every_duty_on_time_silent_misses_them(
    tmp_path: Path,
) -> None:
    """Three regimes at once: DORA (BaFin), NIS2 (the BSI, for the hosting subsidiary) and
    the GDPR. A diligent team scores 100 % on regulatory notifications; a silent one 0 %."""
    diligent, inputs = _played("payments-major-ict-incident.yaml", Communication.diligent)
    silent, _ = _played("payments-major-ict-incident.yaml", Communication.silent)
    assert diligent.scores.dimensions["regulatory"].percent == 100.0
    assert silent.scores.dimensions["regulatory"].percent == 0.0
    assert {d.regime for d in diligent.regulatory} == {"dora", "nis2", "gdpr"}
    assert all(d.state == "filed" for d in diligent.regulatory)
    missed = {d.duty for d in silent.regulatory if d.regime == "dora" and d.state == "missed"}
    assert missed == {"initial_notification"}
    owed = {d.regime: d.owed_to for d in diligent.regulatory}
    assert owed["dora"].startswith("BaFin") and owed["nis2"].startswith("BSI")
    for report in (diligent, silent):
        markdown = render.render_markdown(report, inputs.scenario)
        assert "Regulatory notifications:" in markdown  # the dimension in the summary
        html = render.render_html(report, inputs.scenario)
        assert "Regulatory notifications" in html and 'id="aar-regulatory"' in html
    text = pdf_text(render.render_pdf(silent, inputs.scenario), tmp_path)
    assert "DORA: Initial notification" in text and "Missed" in text
    # Every diligent notice is a form, signed off where the scenario asks, and complete.
    assert all(d.filed_as == "form" and d.complete == d.required for d in diligent.regulatory)
    initial = next(d for d in diligent.regulatory if d.duty == "initial_notification")
    assert initial.signed_off_by == "Executive sponsor (CISO)"
    caption = "8 of 8 required fields complete"  # the GDPR's Art. 33(3) form
    as_json = json.loads(render.render_json(diligent))
    gdpr = next(d for d in as_json["regulatory"] if d["duty"] == "supervisory_authority")
    assert (gdpr["complete"], gdpr["required"]) == (8, 8)
    assert {f["status"] for f in gdpr["fields"]} == {"complete"}
    markdown = render.render_markdown(diligent, inputs.scenario)
    assert caption in markdown and "18,400, in line with the 18,400 known" in markdown
    html = render.render_html(diligent, inputs.scenario)
    assert caption in html and "18,400, in line with the 18,400 known" in html
    text = pdf_text(render.render_pdf(diligent, inputs.scenario), tmp_path)
    assert caption in " ".join(text.split())
    # The silent team filed nothing: no notice, no completeness.
    assert all(d.complete is None and not d.fields for d in silent.regulatory)


def test_the_hospital_scenario_counts_the_sec_s_business_days_over_thanksgiving() -> None:
    """Determined material on Tuesday 24 November 2026 (the silent team's default at
    18:00): Wednesday is day 1, Thanksgiving does not count, Friday 2, Monday 3, Tuesday
    1 December 4. HIPAA's 60 calendar days run past the drill: not filed, still due."""
    silent, _ = _played("hospital-ransomware-hipaa-sec", Communication.silent)
    duties = {d.duty: d for d in silent.regulatory}
    assert duties["item_1_05"].story_due == "2026-12-01T23:59-05:00"
    assert duties["item_1_05"].state_label == "Missed"
    for duty in ("individuals", "hhs", "media"):
        assert duties[duty].state_label == "Not filed; due after the drill"
        assert duties[duty].story_due == "2027-01-23T14:00-05:00"
    diligent, _ = _played("hospital-ransomware-hipaa-sec", Communication.diligent)
    assert diligent.scores.dimensions["regulatory"].percent == 100.0
