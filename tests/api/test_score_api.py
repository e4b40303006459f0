"""GET /api/drills/{id}/score against a real server: who may read it, and that its numbers
are the engine's scorecard of the drill's log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.authoring.loader import load_scenario_text
from app.engine import commands as c
from app.engine.scoring import scorecard
from app.services.accounts import AccountRole
from tests.live import FIXTURES, PASSWORD, LiveServer, join, sign_in


def _execute(live: LiveServer, drill_id: str, command: c.Command, actor: c.Actor) -> None:
    live.run(live.app.state.service.execute(drill_id, command, actor))


@pytest.fixture
def drill(live_server: LiveServer) -> dict[str, Any]:
    """A drill where the executive refused the ransom (decide +10) and the facilitator took
    two points off communication, with an executive, an observer and a facilitator."""
    facilitator = sign_in(live_server)
    created = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "Scored"})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    executive = join(live_server, body["join_code"], "Eve", "executive")
    observer = join(live_server, body["join_code"], "Olu", None)
    executive_id = live_server.run(_participant_id(live_server, body["id"], "Eve"))
    _execute(live_server, body["id"], c.StartClock(), c.FACILITATOR_ACTOR)
    _execute(live_server, body["id"], c.JumpToNextInject(), c.FACILITATOR_ACTOR)  # the note
    _execute(live_server, body["id"], c.Answer("pay", "no"), c.Actor(executive_id))
    adjustment = c.AdjustScore("comms", -2, "nobody told legal", "executive")
    _execute(live_server, body["id"], adjustment, c.FACILITATOR_ACTOR)
    body.update(facilitator=facilitator, executive=executive, observer=observer)
    return body


async def _participant_id(live: LiveServer, drill_id: str, name: str) -> str:
    _, state = await live.app.state.service.state(drill_id)
    found: str = next(p.id for p in state.participants.values() if p.name == name)
    return found


def _reviewer(live: LiveServer) -> httpx.Client:
    live.run(live.app.state.accounts.create_user("rev", PASSWORD, AccountRole.reviewer))
    client = live.client()
    response = client.post("/api/session", json={"username": "rev", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


def _expected(live: LiveServer, drill_id: str) -> dict[str, Any]:
    """The engine's scorecard of the stored log, computed here, apart from the server."""
    scenario = load_scenario_text((FIXTURES / "mini.yaml").read_text(), "mini.yaml").scenario
    assert scenario is not None
    events = live.run(live.app.state.service.events(drill_id))
    expected: dict[str, Any] = scorecard(scenario, events).model_dump(mode="json")
    return expected


def _url(drill: dict[str, Any]) -> str:
    return f"/api/drills/{drill['id']}/score"


def test_the_facilitator_reads_the_engines_scorecard(
    live_server: LiveServer, drill: dict[str, Any]
) -> None:
    response = drill["facilitator"].get(_url(drill))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == _expected(live_server, drill["id"])
    assert body["objectives"]["decide"] == {"points": 10.0, "max_points": 10.0, "percent": 100.0}
    assert body["objectives"]["comms"]["points"] == -2.0
    assert body["dimensions"]["adjustments"]["points"] == -2.0
    assert body["roles"]["executive"]["points"] == 8.0
    assert body["overall"]["points"] == 8.0
    adjusted = [i for i in body["items"] if i["dimension"] == "adjustments"]
    assert [(i["detail"], i["role"]) for i in adjusted] == [("nobody told legal", "executive")]


def test_outsiders_are_refused(live_server: LiveServer, drill: dict[str, Any]) -> None:
    assert live_server.client().get(_url(drill)).status_code == 401
    forged = live_server.client()
    forged.cookies.set(f"tt_p_{drill['id']}", "not-a-token")
    assert forged.get(_url(drill)).status_code == 401
    # A participant of another drill is an outsider here.
    other = drill["facilitator"].post("/api/drills", json={"scenario": "mini.yaml", "name": "B"})
    stranger = join(live_server, other.json()["join_code"], "Sam", "legal")
    stranger.cookies.set(f"tt_p_{drill['id']}", stranger.cookies[f"tt_p_{other.json()['id']}"])
    assert stranger.get(_url(drill)).status_code == 401
    assert drill["facilitator"].get("/api/drills/no-such-drill/score").status_code == 404


def test_participants_read_the_scores_only_once_released(
    live_server: LiveServer, drill: dict[str, Any]
) -> None:
    refused = drill["executive"].get(_url(drill))
    assert refused.status_code == 403
    assert "not released the scores" in refused.json()["detail"]
    _execute(live_server, drill["id"], c.ReleaseScores(), c.FACILITATOR_ACTOR)
    released = drill["executive"].get(_url(drill))
    assert released.status_code == 200
    assert released.json() == _expected(live_server, drill["id"])


def test_observers_see_the_scores_as_they_see_every_scoring_event(
    live_server: LiveServer, drill: dict[str, Any]
) -> None:
    response = drill["observer"].get(_url(drill))
    assert response.status_code == 200
    assert response.json()["overall"]["points"] == 8.0


def test_reviewers_read_the_scores_once_the_drill_has_ended(
    live_server: LiveServer, drill: dict[str, Any]
) -> None:
    reviewer = _reviewer(live_server)
    early = reviewer.get(_url(drill))
    assert early.status_code == 403 and "once the drill has ended" in early.json()["detail"]
    _execute(live_server, drill["id"], c.EndDrill("time is up"), c.FACILITATOR_ACTOR)
    late = reviewer.get(_url(drill))
    assert late.status_code == 200
    ended = _expected(live_server, drill["id"])
    assert late.json() == ended
    # Telling legal was not yet due when the drill ended: it counts neither way.
    tell_legal = next(x for x in ended["communications"] if x["expectation_id"] == "tell-legal")
    assert tell_legal["status"] == "not_due" and tell_legal["max_points"] == 0
    # Ending is not releasing: the players still wait for the facilitator.
    assert drill["executive"].get(_url(drill)).status_code == 403
