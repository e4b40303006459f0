"""Every {{variable}} is filled wherever a live drill's text is shown: the storyboard, the
console, the participant's page and socket, the event API, and the report in every format.
Each shipped scenario is played live on a real server, injects fired until it ends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from app.authoring.loader import scenario_files
from app.engine import commands as c
from app.engine.errors import DomainError
from app.engine.state import Status
from app.services.drills import DrillService
from tests.live import LiveServer, join, sign_in

SCENARIOS = Path(__file__).parents[2] / "scenarios"
UNFILLED = re.compile(r"\{\{\s*[A-Za-z0-9_-]+\s*\}\}")


def _unfilled(where: str, text: str) -> list[str]:
    return [f"{where}: {m.group(0)}" for m in UNFILLED.finditer(text)]


def _cookie(client: httpx.Client) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def _snapshot(live: LiveServer, drill_id: str, cookie: str) -> str:
    headers = {"Origin": live.origin, "Cookie": cookie}
    url = f"{live.ws_url}/ws/drills/{drill_id}?since=0"
    with connect(url, additional_headers=headers, max_size=None, open_timeout=10) as sock:
        first: str = str(sock.recv(10))
    assert json.loads(first)["type"] == "snapshot"
    return first


def _play_to_the_end(live: LiveServer, drill_id: str) -> None:
    service: DrillService = live.app.state.service
    live.run(service.execute(drill_id, c.StartClock(confirm_unfilled=True)))
    for _ in range(200):  # bounded: the longest shipped scenario has about 40 injects
        _, state = live.run(service.state(drill_id))
        if state.status is Status.ended:
            return
        try:
            live.run(service.execute(drill_id, c.JumpToNextInject()))
        except DomainError:  # nothing left to jump to: end it by hand
            live.run(service.execute(drill_id, c.EndDrill("played through")))
        live.run(service.tick(drill_id))
    raise AssertionError("the drill did not end")


@pytest.mark.live_settings(scenarios_dir=SCENARIOS)
@pytest.mark.parametrize("name", sorted(p.name for p in scenario_files([SCENARIOS])))
def test_no_variable_is_left_unfilled_in_a_live_drill(live_server: LiveServer, name: str) -> None:
    facilitator = sign_in(live_server)
    found = _unfilled("storyboard", facilitator.get(f"/scenarios/{name}").text)
    created = facilitator.post("/api/drills", json={"scenario": name, "name": "Live check"})
    assert created.status_code == 201, created.text
    drill_id, code = created.json()["id"], created.json()["join_code"]
    roles = facilitator.get(f"/api/join/{code}").json()["roles"]
    first_role = next(iter(roles)) if isinstance(roles, dict) else roles[0]["id"]
    role = first_role if isinstance(first_role, str) else first_role["id"]
    player = join(live_server, code, "Pat Player", role)
    found += _unfilled("lobby", player.get(f"/drills/{drill_id}/play").text)
    _play_to_the_end(live_server, drill_id)

    found += _unfilled("console", facilitator.get(f"/drills/{drill_id}/console").text)
    found += _unfilled("play page", player.get(f"/drills/{drill_id}/play").text)
    for who, client in (("facilitator", facilitator), ("participant", player)):
        found += _unfilled(f"{who} events", player.get(f"/api/drills/{drill_id}/events").text)
        found += _unfilled(f"{who} socket", _snapshot(live_server, drill_id, _cookie(client)))
    found += _unfilled("report page", facilitator.get(f"/drills/{drill_id}/report").text)
    for fmt in ("html", "md", "json", "csv"):
        exported = facilitator.get(f"/drills/{drill_id}/report.{fmt}")
        assert exported.status_code == 200, (fmt, exported.text[:200])
        found += _unfilled(f"report.{fmt}", exported.text)
    assert found == []
