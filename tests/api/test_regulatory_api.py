"""GET /api/drills/{id}/regulatory: every notification duty's clock as of now, as the
console's and the named roles' panels show it. The facilitator and observers see every
regime's clocks; a participant those the scenario names their role for; nobody else."""

from __future__ import annotations

from typing import Any

import pytest

from app.engine import commands as c
from app.regimes.library import regime as shipped_regime
from tests.conftest import ROOT
from tests.live import LiveServer, join, sign_in
from tests.ws.test_protocol import command, open_socket

SCENARIOS = ROOT / "scenarios"


def _clocks(client: Any, drill_id: str) -> dict[str, dict[str, Any]]:
    response = client.get(f"/api/drills/{drill_id}/regulatory")
    assert response.status_code == 200, response.text
    return {row["duty"]: row for row in response.json()["clocks"]}


@pytest.mark.live_settings(scenarios_dir=SCENARIOS)
def test_the_gdpr_clocks_as_the_team_plays(live_server: LiveServer) -> None:
    live = live_server
    fac = sign_in(live)
    made = fac.post(
        "/api/drills", json={"scenario": "customer-database-theft.yaml", "name": "Clocks"}
    )
    assert made.status_code == 201, made.text
    drill = made.json()
    legal = join(live, drill["join_code"], "Lee", "legal")
    hr = join(live, drill["join_code"], "Hal", "hr")
    service = live.app.state.service
    live.run(service.execute(drill["id"], c.StartClock(confirm_unfilled=True)))

    before = _clocks(fac, drill["id"])
    assert [row["state"] for row in before.values()] == ["waiting", "waiting"]
    # The party this drill names (a scenario variable, filled in), not the regime's words.
    assert before["supervisory_authority"]["owed_to"] == "Data Protection Commission"

    live.run(service.execute(drill["id"], c.FireInject("scoping-personal-data")))
    running = _clocks(legal, drill["id"])  # legal is a role the scenario names
    authority = running["supervisory_authority"]
    assert authority["state"] == "running"
    assert (
        authority["due_scenario_time"] - (running["data_subjects"]["due_scenario_time"] or 0)
        == 24 * 3600
    )  # 72 h against the scenario's 48 h target for the people affected
    assert authority["started"] is not None and authority["due"] is not None

    # Legal writes to the regulator (messages travel over the websocket; the service
    # takes the same command here).
    message = c.SendMessage(["regulator"], "Art. 33 notification, first phase.", from_role="legal")
    live.run(service.execute(drill["id"], message))
    filed = _clocks(fac, drill["id"])
    assert filed["supervisory_authority"]["state"] == "filed"
    assert filed["supervisory_authority"]["filed"] is not None
    assert filed["data_subjects"]["state"] == "running"  # the customers are still owed

    refused = hr.get(f"/api/drills/{drill['id']}/regulatory")
    assert refused.status_code == 403
    assert "roles the scenario names" in refused.json()["detail"]
    outsider = live.client().get(f"/api/drills/{drill['id']}/regulatory")
    assert outsider.status_code == 401


GDPR_NOTICE = {"regime": "gdpr", "duty": "supervisory_authority"}


def _types(client: Any, drill_id: str) -> list[str]:
    response = client.get(f"/api/drills/{drill_id}/events")
    assert response.status_code == 200, response.text
    return [e["type"] for e in response.json()]


@pytest.mark.live_settings(scenarios_dir=SCENARIOS)
def test_a_notice_is_drafted_signed_and_filed_over_the_socket_and_seen_by_its_team_only(
    live_server: LiveServer,
) -> None:
    """Legal drafts over its socket; the DPO (a drafter) and the executive (the sign-off)
    see the drafts and the filing, HR sees neither; how complete it was reaches the team
    once the scores are released, the facilitator at once."""
    live = live_server
    fac = sign_in(live)
    made = fac.post("/api/drills", json={"scenario": "customer-database-theft.yaml", "name": "N"})
    drill = made.json()
    legal = join(live, drill["join_code"], "Lee", "legal")
    dpo = join(live, drill["join_code"], "Dee", "dpo")
    executive = join(live, drill["join_code"], "Eve", "executive")
    hr = join(live, drill["join_code"], "Hal", "hr")
    service = live.app.state.service
    live.run(service.execute(drill["id"], c.StartClock(confirm_unfilled=True)))
    live.run(service.execute(drill["id"], c.FireInject("scoping-personal-data")))
    on_legal = open_socket(live, drill["id"], legal)
    on_exec = open_socket(live, drill["id"], executive)

    fields = {f.id: f"{f.label}: 2.3 million" for f in shipped_regime("gdpr").duties[0].fields}
    draft = command(on_legal, id="d1", type="draft_notice", **GDPR_NOTICE, fields=fields)
    assert draft["type"] == "ack", draft
    early = command(on_legal, id="f1", type="file_notice", **GDPR_NOTICE)
    assert (early["type"], early["code"]) == ("error", "notice_not_signed_off")
    assert "Executive sponsor (CISO) must sign off" in early["message"]
    not_hers = command(on_legal, id="s0", type="sign_off_notice", **GDPR_NOTICE)
    assert (not_hers["type"], not_hers["code"]) == ("error", "not_permitted")

    as_exec = _clocks(executive, drill["id"])["supervisory_authority"]
    assert (as_exec["may_draft"], as_exec["may_sign_off"]) == (True, True)
    nature = as_exec["notice"]["fields"][0]
    assert nature["value"].startswith("Nature of the breach") and nature["edited_by"] == (
        "Legal counsel"
    )
    signed = command(on_exec, id="s1", type="sign_off_notice", **GDPR_NOTICE)
    assert signed["type"] == "ack", signed
    filed = command(on_legal, id="f2", type="file_notice", **GDPR_NOTICE)
    assert filed["type"] == "ack", filed

    for teammate in (dpo, executive):
        seen = _types(teammate, drill["id"])
        assert {"notice_drafted", "notice_signed_off", "message_sent"} <= set(seen)
    assert not {"notice_drafted", "notice_signed_off", "message_sent"} & set(
        _types(hr, drill["id"])
    )

    mine = _clocks(legal, drill["id"])["supervisory_authority"]
    assert mine["state"] == "filed" and mine["notice"]["filed"]
    assert mine["notice"]["complete"] is None  # a score: not before the release
    assert {f["status"] for f in mine["notice"]["fields"]} == {None}
    theirs = _clocks(fac, drill["id"])["supervisory_authority"]["notice"]
    assert (theirs["complete"], theirs["required"]) == (8, 8)
    live.run(service.execute(drill["id"], c.EndDrill()))
    live.run(service.execute(drill["id"], c.ReleaseScores()))
    assert _clocks(legal, drill["id"])["supervisory_authority"]["notice"]["complete"] == 8
