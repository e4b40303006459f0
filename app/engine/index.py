"""Look-ups derived once per scenario, so applying an event costs O(1) in scenario size."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from app.engine.scenario import EVERYONE, Expectation, Inject, MessageMatch, Scenario, Trigger


@dataclass(frozen=True, slots=True)
class Followers:
    """Who waits on a trigger: injects to arm and expectations to start counting."""

    injects: list[Inject] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)


@dataclass(slots=True)
class ScenarioIndex:
    at_start: Followers
    after_inject: dict[str, Followers]
    after_decision: dict[str, Followers]
    after_option: dict[str, Followers]
    after_message: list[tuple[MessageMatch, Inject | Expectation]]
    message_injects: frozenset[str]
    """Ids of the injects in `after_message`."""
    message_expectations: frozenset[str]
    """Ids of the expectations in `after_message`."""
    opened_by: dict[str, str]
    order: dict[str, int]
    """Declaration order of injects, decisions and expectations: ties fire in file order."""
    names: dict[tuple[str, ...], str] = field(default_factory=dict)
    """Lists of roles and parties as a timeline names them ("Legal counsel, BaFin"), filled
    in as they are first told: a long drill's timeline names the same few lists on nearly
    every line."""


def _add(bucket: Followers, item: Inject | Expectation) -> None:
    if isinstance(item, Inject):
        bucket.injects.append(item)
    else:
        bucket.expectations.append(item)


def build_index(scenario: Scenario) -> ScenarioIndex:
    after_inject: dict[str, Followers] = defaultdict(Followers)
    after_decision: dict[str, Followers] = defaultdict(Followers)
    after_option: dict[str, Followers] = defaultdict(Followers)
    after_message: list[tuple[MessageMatch, Inject | Expectation]] = []
    at_start = Followers()

    def route(trigger: Trigger | None, item: Inject | Expectation) -> None:
        if trigger is None:
            _add(at_start, item)
        elif trigger.inject is not None:
            _add(after_inject[trigger.inject], item)
        elif trigger.decision is not None:
            _add(after_decision[trigger.decision], item)
        elif trigger.option is not None:
            _add(after_option[trigger.option], item)
        elif trigger.message is not None:
            after_message.append((trigger.message, item))

    for inject in scenario.injects:
        if inject.at is not None:
            at_start.injects.append(inject)
        elif inject.after is not None:
            route(inject.after, inject)
    for expectation in scenario.expectations:
        route(expectation.after, expectation)
    order: dict[str, int] = {}
    for i, inj in enumerate(scenario.injects):
        order[f"inject:{inj.id}"] = i
    for i, dec in enumerate(scenario.decisions):
        order[f"decision:{dec.id}"] = i
    for i, exp in enumerate(scenario.expectations):
        order[f"expectation:{exp.id}"] = i
    return ScenarioIndex(
        at_start=at_start,
        after_inject=dict(after_inject),
        after_decision=dict(after_decision),
        after_option=dict(after_option),
        after_message=after_message,
        message_injects=frozenset(i.id for _, i in after_message if isinstance(i, Inject)),
        message_expectations=frozenset(i.id for _, i in after_message if not isinstance(i, Inject)),
        opened_by={i.opens: i.id for i in scenario.injects if i.opens},
        order=order,
    )


_CACHE: dict[int, tuple[Scenario, ScenarioIndex]] = {}


def index_of(scenario: Scenario) -> ScenarioIndex:
    """The scenario's index, built on first use (scenarios are immutable)."""
    hit = _CACHE.get(id(scenario))
    if hit is not None and hit[0] is scenario:
        return hit[1]
    index = build_index(scenario)
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[id(scenario)] = (scenario, index)
    return index


def expand_roles(roles: list[str], in_play: list[str]) -> list[str]:
    """`all` means every role in play; the order of the scenario is kept."""
    if EVERYONE in roles:
        return list(in_play)
    return list(dict.fromkeys(roles))
