"""GET /api/drills/{id}/regulatory: every notification duty's clock as of now, as the
console's and the named roles' panels show it. The facilitator and observers see every
regime's clocks; a participant those the scenario names their role for; nobody else."""

from __future__ import annotations

from typing import Any

import pytest

from app.engine import commands as c
from tests.conftest import ROOT
from tests.live import LiveServer, join, sign_in

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
