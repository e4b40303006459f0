"""Fixtures for the engine tests: the test scenarios and drills on a fake clock."""

from __future__ import annotations

import pytest

from app.engine.scenario import Scenario

from .harness import Drill
from .scenarios import ransomware, short

PLAYERS: tuple[tuple[str, str | None], ...] = (
    ("im1", "incident_manager"),
    ("im2", "incident_manager"),
    ("legal1", "legal"),
    ("comms1", "communications"),
    ("exec1", "executive"),
    ("obs1", None),
)
"""Who joins the ransomware drill: two incident managers, one per other role, an observer."""


@pytest.fixture
def ransomware_scenario() -> Scenario:
    return ransomware()


@pytest.fixture
def short_scenario() -> Scenario:
    return short()


@pytest.fixture
def lobby(ransomware_scenario: Scenario) -> Drill:
    """The ransomware drill, created and joined by everyone in PLAYERS, clock not started."""
    drill = Drill(ransomware_scenario).create()
    for participant_id, role in PLAYERS:
        drill.join(participant_id, role)
    return drill


@pytest.fixture
def drill(lobby: Drill) -> Drill:
    """The ransomware drill with its clock started (scenario time 0 at `start_wall`)."""
    lobby.now += 10
    return lobby.start()


@pytest.fixture
def short_drill(short_scenario: Scenario) -> Drill:
    """The short drill with a SOC analyst and an incident manager, clock started."""
    drill = Drill(short_scenario).create()
    drill.join("soc1", "soc_analyst").join("im1", "incident_manager")
    drill.now += 5
    return drill.start()
