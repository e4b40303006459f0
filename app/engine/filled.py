"""A scenario as one drill shows it: every {{variable}} filled with that drill's values.

Texts reach people through many paths (inject bodies, prompts, option labels, party names,
fact titles, statements, notes), and each path that fills on its own is one that can
forget to. Renderers that take a scenario take this one instead, so none can.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.engine.scenario import Scenario, fill


def _filled(value: Any, values: dict[str, str]) -> Any:
    if type(value) is str:  # not a StrEnum (a channel, a phase): those are no text
        return fill(value, values)
    if isinstance(value, BaseModel):
        # model_copy, not validation: the texts change, nothing else may (durations stay
        # the numbers they were parsed into).
        changes = {name: _filled(getattr(value, name), values) for name in type(value).model_fields}
        return value.model_copy(update=changes)
    if isinstance(value, dict):
        return {key: _filled(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_filled(item, values) for item in value]
    return value


_MADE: dict[tuple[int, tuple[tuple[str, str], ...]], tuple[Scenario, Scenario]] = {}
"""Copies made, by (scenario, values): every score, console view and report of a drill
asks for the same one, and a copy (300 KiB with the index the engine derives from it)
made again each time would also be indexed again each time."""
MADE_KEPT = 64


def filled_scenario(scenario: Scenario, values: dict[str, str]) -> Scenario:
    """The scenario with `values` filled into every text. Ids and keys never hold a
    variable, so the story's structure is the same. Scenarios are immutable: the same
    scenario and values give the same copy."""
    if not values:
        return scenario
    key = (id(scenario), tuple(sorted(values.items())))
    made = _MADE.get(key)
    if made is not None and made[0] is scenario:  # not another scenario at a reused id
        return made[1]
    copy: Scenario = _filled(scenario, values)
    copy.model_post_init(None)  # its look-ups must point at the filled injects
    if len(_MADE) >= MADE_KEPT:
        _MADE.clear()
    _MADE[key] = (scenario, copy)
    return copy


def drill_values(scenario: Scenario, created: dict[str, Any] | None) -> dict[str, str]:
    """The values a drill fills in: its own (from drill_created), else the defaults."""
    defaults = {name: variable.default for name, variable in scenario.variables.items()}
    if created is None:
        return defaults
    return defaults | dict(created.get("variables", {}))
