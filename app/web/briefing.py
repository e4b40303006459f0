"""What a participant reads before and during play: the scenario's briefing, their role
card and the schedule. Texts come from the drill's filled scenario; nothing here is a
facilitator's note or another role's secret."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from app.authoring.markdown import render_markdown
from app.engine.filled import filled_scenario
from app.engine.scenario import ROLE_CATALOGUE, Scenario, story_datetime
from app.engine.state import DrillState


@dataclass(frozen=True, slots=True)
class RoleCard:
    title: str
    description: str
    backup: str | None
    """Who acts for this role when it is unavailable."""
    covers: list[str]
    """Roles this one acts for when they are unavailable (or not in play)."""
    team: list[str]
    parties: list[str]


@dataclass(frozen=True, slots=True)
class Schedule:
    story_start: str
    """The story's first moment, as its own clock and zone read it."""
    timezone: str
    story_length: float | None
    """Scenario seconds until the clock's end, if the scenario sets one."""
    story_seconds: float
    """How much story the drill plays: to the clock's end, or the scenario's estimate of
    its real length at its own speed."""

    def story_text(self) -> str:
        return span(self.story_seconds)

    def real_text(self, speed: float) -> str:
        return span(self.story_seconds / speed)


def span(seconds: float) -> str:
    """A length people read at a glance: 45 min, 1 h 05 min, 83 h. static/js/clock.js
    writes the same."""
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


@dataclass(frozen=True, slots=True)
class Briefing:
    summary: str
    briefing_html: Markup | None
    role_card: RoleCard | None
    schedule: Schedule


def story_seconds(scenario: Scenario) -> float:
    """How much story a drill of it plays: to the clock's end, or else its estimate of
    the real length at its own speed, in story time."""
    return scenario.clock.end or scenario.duration * scenario.clock.speed


def _role_card(scenario: Scenario, state: DrillState, role: str) -> RoleCard:
    spec = scenario.roles.get(role)
    description = (spec.description if spec else None) or ROLE_CATALOGUE.get(role, ("", ""))[1]
    backup = state.backups.get(role)
    covers = [r for r, b in state.backups.items() if b == role and r != role]
    return RoleCard(
        title=scenario.role_title(role),
        description=description,
        backup=scenario.role_title(backup) if backup else None,
        covers=[scenario.role_title(r) for r in covers],
        team=[scenario.role_title(r) for r in state.roles if r != role],
        parties=[party.name for party in scenario.parties.values()],
    )


def briefing_for(scenario: Scenario, state: DrillState, role: str | None) -> Briefing:
    filled = filled_scenario(scenario, state.variables)  # defaults merged at creation
    start = story_datetime(filled, 0.0)
    return Briefing(
        summary=filled.summary,
        briefing_html=render_markdown(filled.briefing) if filled.briefing else None,
        role_card=_role_card(filled, state, role) if role else None,
        schedule=Schedule(
            story_start=start.strftime("%a %d %b %Y, %H:%M"),
            timezone=filled.clock.timezone,
            story_length=filled.clock.end,
            story_seconds=story_seconds(filled),
        ),
    )
