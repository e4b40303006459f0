"""The report page, its edits and downloads, and the programme, against a real server."""

from __future__ import annotations

import csv
import io
import json
import re

import httpx

from app.engine import commands as c
from app.services.accounts import AccountRole
from app.services.drills import DrillService
from tests.live import LiveServer, join, sign_in

REVIEWER_PASSWORD = "a reviewer's password"


def _service(live: LiveServer) -> DrillService:
    service: DrillService = live.app.state.service
    return service


def _drill(live: LiveServer, end: bool = True) -> str:
    """A mini drill with Dana as executive, who refuses to pay; ended unless asked not to."""
    fac = sign_in(live)
    created = fac.post("/api/drills", json={"scenario": "mini.yaml", "name": "Spring drill"})
    assert created.status_code == 201, created.text
    drill_id: str = created.json()["id"]
    join(live, created.json()["join_code"], "Dana Exec", "executive")
    service = _service(live)
    live.run(service.execute(drill_id, c.StartClock()))
    live.run(service.execute(drill_id, c.JumpToNextInject()))
    live.run(service.execute(drill_id, c.JumpToNextInject()))
    live.run(service.tick(drill_id))
    _, state = live.run(service.state(drill_id))
    assert "pay" in state.decisions
    dana = next(p for p in state.participants.values() if p.name == "Dana Exec")
    live.run(service.execute(drill_id, c.Answer("pay", "no"), c.Actor(dana.id)))
    if end:
        live.run(service.execute(drill_id, c.EndDrill()))
    return drill_id


def _reviewer(live: LiveServer) -> httpx.Client:
    live.run(live.app.state.accounts.create_user("rita", REVIEWER_PASSWORD, AccountRole.reviewer))
    client = live.client()
    signed = client.post("/api/session", json={"username": "rita", "password": REVIEWER_PASSWORD})
    assert signed.status_code == 200, signed.text
    return client


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_who_may_open_a_report(live_server: LiveServer) -> None:
    running = _drill(live_server, end=False)
    ended = _drill(live_server)
    reviewer = _reviewer(live_server)
    outsider = live_server.client()
    facilitator = sign_in(live_server)
    assert facilitator.get(f"/drills/{running}/report").status_code == 200  # a live draft
    assert reviewer.get(f"/drills/{ended}/report").status_code == 200
    assert reviewer.get(f"/drills/{running}/report").status_code == 403
    assert reviewer.get("/").headers["location"] == "/programme"
    assert outsider.get(f"/drills/{ended}/report").headers["location"].startswith("/login")
    for path in (f"/drills/{ended}/report.json", f"/api/drills/{ended}/report"):
        assert outsider.get(path).status_code == 401
    participant = join(live_server, _code(facilitator, running), "Pat", "legal")
    assert participant.get(f"/drills/{running}/report.json").status_code == 401
    assert facilitator.get("/drills/nope/report").status_code == 404


def _code(client: httpx.Client, drill_id: str) -> str:
    page = client.get(f"/drills/{drill_id}/console")
    found = re.search(r"[A-Z0-9]{5}-[A-Z0-9]{5}", page.text)
    assert found is not None
    return found.group(0)


def test_a_reviewer_rates_adds_an_item_and_every_export_holds_the_same_scores(
    live_server: LiveServer,
) -> None:
    drill_id = _drill(live_server)
    reviewer = _reviewer(live_server)
    page = reviewer.get(f"/drills/{drill_id}/report")
    token = _csrf(page)
    assert "Dana Exec" in page.text and "Decide under pressure" in page.text

    saved = reviewer.post(
        f"/drills/{drill_id}/report/objectives/comms",
        data={"csrf": token, "rating": "S", "strengths": "", "improvements": "Tell legal first"},
    )
    assert saved.status_code == 303
    added = reviewer.post(
        f"/drills/{drill_id}/report/items",
        data={
            "csrf": token,
            "capability": "Operational communications",
            "issue": "Legal heard late",
            "corrective_action": "Call tree update",
            "element": "planning",
            "responsible": "SOC",
            "contact": "Dana Exec",
            "due": "2027-02-01",
            "status": "open",
        },
    )
    assert added.status_code == 303
    refused = reviewer.post(
        f"/drills/{drill_id}/report/items",
        data={"csrf": token, "capability": "x", "element": "money"},
    )
    assert refused.status_code == 400 and "choose a capability element" in refused.text
    forged = reviewer.post(
        f"/drills/{drill_id}/report/objectives/comms", data={"csrf": "forged", "rating": "U"}
    )
    assert forged.status_code == 403

    report = reviewer.get(f"/drills/{drill_id}/report.json")
    assert report.status_code == 200
    assert "attachment" in report.headers["content-disposition"]
    data = json.loads(report.text)
    comms = next(o for o in data["objectives"] if o["id"] == "comms")
    assert comms["rating"] == "S" and comms["improvements"] == ["Tell legal first"]
    assert [i["issue"] for i in data["improvement_plan"]] == ["Legal heard late"]
    overall = data["scores"]["overall"]
    figure = f"{overall['percent']:.1f}%"

    for fmt in ("html", "md"):
        body = reviewer.get(f"/drills/{drill_id}/report.{fmt}").text
        assert figure in body and "Legal heard late" in body, fmt
    pdf = reviewer.get(f"/drills/{drill_id}/report.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    plan = reviewer.get(f"/drills/{drill_id}/report.csv?table=plan").text
    rows = list(csv.DictReader(io.StringIO(plan)))
    assert [r["issue"] for r in rows] == ["Legal heard late"]
    timeline = list(csv.reader(io.StringIO(reviewer.get(f"/drills/{drill_id}/report.csv").text)))
    assert len(timeline) > 5
    assert reviewer.get("/api/report-schema").json()["title"] == "Tabletop after-action report"


def test_the_programme_lists_drills_items_and_the_next_due_date(live_server: LiveServer) -> None:
    drill_id = _drill(live_server)
    reviewer = _reviewer(live_server)
    token = _csrf(reviewer.get(f"/drills/{drill_id}/report"))
    reviewer.post(
        f"/drills/{drill_id}/report/items",
        data={
            "csrf": token,
            "capability": "Legal escalation",
            "issue": "Legal heard late",
            "corrective_action": "Call tree update",
            "element": "training",
            "responsible": "SOC",
            "contact": "Dana Exec",
            "due": "2020-01-01",
        },
    )
    programme = reviewer.get("/programme")
    assert programme.status_code == 200
    assert "Spring drill" in programme.text and "Next drill due" in programme.text
    assert "Legal escalation" in programme.text and "days late" in programme.text
    for kind in ("objectives", "roles"):
        chart = reviewer.get(f"/programme/trends/{kind}.svg")
        assert chart.status_code == 200 and chart.text.lstrip().startswith("<svg")
    item_id = re.search(r'action="/items/([^/]+)/status"', programme.text)
    assert item_id is not None
    closed = reviewer.post(
        f"/items/{item_id.group(1)}/status", data={"csrf": _csrf(programme), "status": "closed"}
    )
    assert closed.status_code == 303
    after = reviewer.get("/programme").text
    assert "No open items." in after and "closed by rita" in after
