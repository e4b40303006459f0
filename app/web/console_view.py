"""What only the facilitator's console is sent besides the log: the scenario's guide, each
inject's notes and discussion questions, names for every id, the roster's required roles
and the injects waiting to fire. Never sent to participants or observers."""

from __future__ import annotations

from typing import Any

from app.authoring.markdown import render_markdown
from app.engine.core import unfilled_required_roles
from app.engine.filled import filled_scenario
from app.engine.scenario import Inject, Scenario
from app.engine.state import DrillState, Status, TimerKind


def upcoming(scenario: Scenario, state: DrillState) -> list[dict[str, Any]]:
    """The injects scheduled to fire, soonest first, as the console's "up next" lists them.
    Before the clock starts nothing is scheduled yet: the injects on the scenario's clock
    (`at`) are listed as they will be, so the lobby does not say there are none."""
    if state.status in (Status.new, Status.lobby):
        timed = sorted((i for i in scenario.injects if i.at is not None), key=lambda i: i.at or 0)
        return [_upcoming(scenario, state, i, i.at or 0.0, before_start=True) for i in timed]
    waiting = sorted(
        (t for t in state.timers.values() if t.kind is TimerKind.inject),
        key=lambda t: t.sort_key,
    )
    return [_upcoming(scenario, state, scenario.inject(t.ref), t.due) for t in waiting]


def _upcoming(
    scenario: Scenario, state: DrillState, inject: Inject, due: float, before_start: bool = False
) -> dict[str, Any]:
    return {
        "inject_id": inject.id,
        "title": inject.title,
        "channel": str(inject.channel),
        "due": due,
        "to": [scenario.role_title(r) if r != "all" else "Everyone" for r in inject.to],
        # It may still be skipped when it falls due: say so before anyone relies on it.
        "conditional": inject.when is not None or inject.id in state.suppressed,
        "suppressed": inject.id in state.suppressed,
        # Not yet on the clock: nothing to fire or skip until it starts.
        "before_start": before_start,
    }


def facilitator_context(scenario: Scenario, state: DrillState) -> dict[str, Any]:
    shown = filled_scenario(scenario, state.variables)
    return {
        "guide_html": str(render_markdown(shown.notes)) if shown.notes else None,
        "injects": {
            i.id: {
                "title": i.title,
                "notes_html": str(render_markdown(i.notes)) if i.notes else None,
                "questions": list(i.questions),
            }
            for i in shown.injects
        },
        "decisions": {
            d.id: {
                "prompt": d.heading(),
                "options": {o.id: o.label for o in d.options},
                "per_role": d.per_role,
            }
            for d in shown.decisions
        },
        "expectations": {e.id: e.title for e in shown.expectations},
        "required_roles": [r for r in state.roles if shown.roles[r].required],
        # Roles the story has put out of reach, and who acts for each meanwhile.
        "out_of_reach": {r: state.acting_role(r) for r in state.roles if r in state.unavailable},
        "unfilled_required": unfilled_required_roles(shown, state),
        "upcoming": upcoming(shown, state),
    }
