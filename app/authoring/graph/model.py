"""A scenario's branch graph as data: what follows what.

`branch_graph` turns a scenario into nodes (start, injects, decisions, options, messages
waited for, the clock's end, the end) and edges; `taken_path` reads a drill's log into the
node ids of the path it took, for `render_svg(..., highlight=...)`. Pure: no FastAPI,
SQLAlchemy or asyncio.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from app.engine import payloads as p
from app.engine.durations import format_clock, format_duration
from app.engine.events import Event, EventType
from app.engine.scenario import Condition, Inject, MessageMatch, Scenario, fill
from app.regimes.library import RegimeError
from app.regimes.library import regime as shipped_regime

START = "start"
END = "end"
CLOCK = "clock"
TIME_UP_REASON = "the scenario's time is up"
"""The engine's `drill_ended` reason when the clock's end is reached."""


class NodeKind(StrEnum):
    start = "start"
    inject = "inject"
    decision = "decision"
    option = "option"
    message = "message"
    clock = "clock"
    end = "end"


class EdgeKind(StrEnum):
    after = "after"
    """The target follows the source (`at`, `after`)."""
    opens = "opens"
    answer = "answer"
    """A decision to one of its options."""
    triggers = "triggers"
    suppresses = "suppresses"
    ends = "ends"
    message = "message"


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    kind: NodeKind
    label: str
    detail: str = ""
    """The second line: channel and timing, the decision's time limit."""
    condition: str | None = None
    """A one-line summary of an inject's `when`, e.g. 'if not sent to legal'."""
    severity: str | None = None
    default: bool = False
    """An option taken when nobody answers in time."""
    tooltip: str = ""
    starts: str | None = None
    """The notification clocks this node starts, e.g. 'starts DORA (classified_major)'."""


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    kind: EdgeKind
    label: str | None = None


@dataclass(slots=True)
class Graph:
    title: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def add(self, node: Node) -> None:
        self.nodes.setdefault(node.id, node)

    def link(self, source: str, target: str, kind: EdgeKind, label: str | None = None) -> None:
        if source == target:
            return  # an inject after itself is a validation error; it draws as nothing
        edge = Edge(source, target, kind, label)
        if edge not in self.edges:
            self.edges.append(edge)


def inject_node(inject_id: str) -> str:
    return f"inject:{inject_id}"


def decision_node(decision_id: str) -> str:
    return f"decision:{decision_id}"


def option_node(ref: str) -> str:
    """`ref` is DECISION.OPTION."""
    return f"option:{ref}"


def branch_graph(scenario: Scenario) -> Graph:
    """The scenario as nodes (start, injects, decisions, options, end) and edges."""
    graph = Graph(scenario.title)
    values = {name: v.default for name, v in scenario.variables.items()}
    start = scenario.clock.start
    graph.add(Node(START, NodeKind.start, "Start", start.strftime("%d %b %H:%M")))
    messages = _message_nodes(scenario)
    for inject in scenario.injects:
        graph.add(_inject(inject, values))
    for decision in scenario.decisions:
        prompt = decision.heading(values)
        limit = format_duration(decision.time_limit)
        graph.add(
            Node(
                decision_node(decision.id),
                NodeKind.decision,
                prompt,
                f"decision · {limit} to answer",
                tooltip=f"{fill(decision.prompt, values).strip()}\n"
                f"decision {decision.id} · {limit} to answer · to: {', '.join(decision.to)}",
            )
        )
        for option in decision.options:
            ref = f"{decision.id}.{option.id}"
            default = option.id == decision.default
            tip = [
                fill(option.label, values),
                f"option {ref}" + (" (the default)" if default else ""),
            ]
            if option.description:
                tip.append(option.description.strip())
            if option.score:
                tip.append("score: " + ", ".join(f"{k} {v:+g}" for k, v in option.score.items()))
            graph.add(
                Node(
                    option_node(ref),
                    NodeKind.option,
                    fill(option.label, values),
                    default=default,
                    tooltip="\n".join(tip),
                )
            )
    for node in messages.values():
        graph.add(node)
    if scenario.clock.end is not None:
        at = format_clock(scenario.clock.end)
        graph.add(
            Node(
                CLOCK, NodeKind.clock, "Time is up", at, tooltip=f"The clock ends the drill at {at}"
            )
        )
    _link_all(graph, scenario, messages)
    _mark_clock_starts(graph, scenario)
    if any(e.target == END for e in graph.edges):
        graph.add(Node(END, NodeKind.end, "End", "drill ends"))
    return graph


def _mark_clock_starts(graph: Graph, scenario: Scenario) -> None:
    """Each inject, decision or option a regime's event is bound to says which clock it
    starts (message triggers are drawn as their message nodes)."""
    starts: dict[str, list[str]] = {}
    for use in scenario.regimes:
        name = use.regime.upper()
        with contextlib.suppress(RegimeError):  # an unknown regime: the validator says so
            name = shipped_regime(use.regime).name
        for event, trigger in use.starts.items():
            if trigger.inject is not None:
                node = inject_node(trigger.inject)
            elif trigger.decision is not None:
                node = decision_node(trigger.decision)
            elif trigger.option is not None:
                node = option_node(trigger.option)
            else:
                continue
            starts.setdefault(node, []).append(f"the {name} clock ({event.replace('_', ' ')})")
    for node_id, clocks in starts.items():
        found = graph.nodes.get(node_id)
        if found is not None:
            text = "starts " + "; ".join(clocks)
            tip = f"{found.tooltip}\n{text}" if found.tooltip else text
            graph.nodes[node_id] = replace(found, starts=text, tooltip=tip)


def _link_all(graph: Graph, scenario: Scenario, messages: dict[str, Node]) -> None:
    for inject in scenario.injects:
        target = inject_node(inject.id)
        if inject.at is not None:
            graph.link(START, target, EdgeKind.after)
        elif inject.after is not None:
            after = inject.after
            if after.inject is not None and scenario.has_inject(after.inject):
                graph.link(inject_node(after.inject), target, EdgeKind.after)
            elif after.decision is not None and scenario.has_decision(after.decision):
                graph.link(decision_node(after.decision), target, EdgeKind.after)
            elif after.option is not None:
                graph.link(option_node(after.option), target, EdgeKind.after)
            elif after.message is not None:
                graph.link(messages[_match_key(after.message)].id, target, EdgeKind.message)
        if inject.opens is not None and scenario.has_decision(inject.opens):
            graph.link(target, decision_node(inject.opens), EdgeKind.opens)
        if inject.ends_drill:
            graph.link(target, END, EdgeKind.ends)
    for decision in scenario.decisions:
        for option in decision.options:
            source = option_node(f"{decision.id}.{option.id}")
            graph.link(decision_node(decision.id), source, EdgeKind.answer)
            for inject_id in option.triggers:
                if scenario.has_inject(inject_id):
                    graph.link(source, inject_node(inject_id), EdgeKind.triggers, "triggers")
            for inject_id in option.suppresses:
                if scenario.has_inject(inject_id):
                    graph.link(source, inject_node(inject_id), EdgeKind.suppresses, "suppresses")
            if option.ends_drill:
                graph.link(source, END, EdgeKind.ends)
    if scenario.clock.end is not None:
        graph.link(CLOCK, END, EdgeKind.ends)
    # An `after` that names something missing leaves a dangling end: drop it, the
    # validator has already said what is wrong.
    known = {*graph.nodes, END}
    graph.edges = [e for e in graph.edges if e.source in known and e.target in known]


def _inject(inject: Inject, values: dict[str, str]) -> Node:
    title = fill(inject.title, values)
    if inject.at is not None:
        timing = format_clock(inject.at)
    elif inject.delay:
        timing = f"+{format_duration(inject.delay)}"
    else:
        timing = "at once"
    condition = f"if {describe_condition(inject.when)}" if inject.when is not None else None
    tip = [title, f"inject {inject.id} · {inject.channel} · {timing} · {inject.severity}"]
    tip.append("to: " + ", ".join(inject.to))
    if condition:
        tip.append(condition)
    if inject.opens:
        tip.append(f"opens decision {inject.opens}")
    if inject.ends_drill:
        tip.append("ends the drill")
    return Node(
        inject_node(inject.id),
        NodeKind.inject,
        title,
        f"{inject.channel} · {timing}",
        condition=condition,
        severity=str(inject.severity),
        tooltip="\n".join(tip),
    )


def _match_key(match: MessageMatch) -> str:
    return f"{','.join(match.from_ or [])}>{','.join(match.recipients or [])}"


def _describe_match(match: MessageMatch) -> str:
    sender = f" from {', '.join(match.from_)}" if match.from_ else ""
    recipient = f" to {' or '.join(match.recipients)}" if match.recipients else ""
    by = f" by {format_clock(match.by)}" if match.by is not None else ""
    return f"sent{sender}{recipient}{by}" if sender or recipient else f"any message sent{by}"


def _message_nodes(scenario: Scenario) -> dict[str, Node]:
    """One small node per distinct message an inject waits for, shared by its followers."""
    nodes: dict[str, Node] = {}
    for inject in scenario.injects:
        if inject.after is None or inject.after.message is None:
            continue
        match = inject.after.message
        key = _match_key(match)
        if key not in nodes:
            arrow = (
                f"{', '.join(match.from_) if match.from_ else 'anyone'} → "
                f"{' or '.join(match.recipients or []) or 'anyone'}"
            )
            nodes[key] = Node(
                f"message:{len(nodes) + 1}",
                NodeKind.message,
                "MESSAGE SENT",
                arrow,
                tooltip=f"When a message is {_describe_match(match)}",
            )
    return nodes


def describe_condition(cond: Condition) -> str:
    """A `when` in a few words: 'not sent to legal', 'flag backups_intact'."""
    if cond.flag is not None:
        return f"flag {cond.flag}"
    if cond.chosen is not None:
        return f"chosen {cond.chosen}"
    if cond.answered is not None:
        return f"{cond.answered} answered"
    if cond.open is not None:
        return f"{cond.open} still open"
    if cond.delivered is not None:
        return f"{cond.delivered} delivered"
    if cond.sent is not None:
        return _describe_match(cond.sent)
    if cond.not_ is not None:
        inner = cond.not_
        match = inner.sent
        if match is not None and not match.from_ and not match.to and match.by is None:
            return "no message sent"
        return f"not {_grouped(inner)}"
    parts = cond.all if cond.all is not None else cond.any or []
    joiner = " and " if cond.all is not None else " or "
    return joiner.join(_grouped(part) for part in parts)


def _grouped(cond: Condition) -> str:
    text = describe_condition(cond)
    compound = (cond.all is not None and len(cond.all) > 1) or (
        cond.any is not None and len(cond.any) > 1
    )
    return f"({text})" if compound else text


def taken_path(scenario: Scenario, events: Iterable[Event]) -> set[str]:
    """The node ids a drill's log went through: delivered injects, opened decisions,
    chosen options (answered or by timeout), messages waited for, and the end."""
    matches = {
        node.id: _parse_match(scenario, key) for key, node in _message_nodes(scenario).items()
    }
    # Message nodes not taken yet: a long log is nine tenths messages, and once every
    # node is taken (taken once is taken) a message has nothing left to match.
    waiting = {node_id: match for node_id, match in matches.items() if match is not None}
    taken = {START}
    for event in events:
        if event.type is EventType.message_sent:
            if not waiting:
                continue
            message = p.message_sent(event)
            for node_id, match in list(waiting.items()):
                if node_id in taken or _sent_matches(match, message["from_role"], message["to"]):
                    taken.add(node_id)
                    del waiting[node_id]
        elif event.type is EventType.inject_delivered:
            inject_id = p.inject_delivered(event)["inject_id"]
            if inject_id:  # None for an inject the facilitator wrote on the spot
                taken.add(inject_node(inject_id))
        elif event.type is EventType.decision_opened:
            taken.add(decision_node(p.decision_opened(event)["decision_id"]))
        elif event.type in (EventType.decision_answered, EventType.decision_timed_out):
            option = p.option_taken(event)
            taken.add(option_node(f"{option['decision_id']}.{option['option_id']}"))
        elif event.type is EventType.drill_ended:
            taken.add(END)
            if p.drill_ended(event)["reason"] == TIME_UP_REASON:
                taken.add(CLOCK)
    return taken


def _parse_match(scenario: Scenario, key: str) -> MessageMatch | None:
    for inject in scenario.injects:
        after = inject.after
        if after is not None and after.message is not None and _match_key(after.message) == key:
            return after.message
    return None


def _sent_matches(match: MessageMatch, sender: str, recipients: list[str]) -> bool:
    return any(match.accepts(sender, recipient) for recipient in recipients)
