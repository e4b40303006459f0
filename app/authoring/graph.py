"""A scenario's branch graph: what follows what, drawn as one standalone SVG.

`branch_graph` turns a scenario into nodes and edges; `render_svg` lays them out left to
right and draws them. The SVG carries its own styles and nothing external (no fonts,
images or scripts), so the same picture works in a browser, in a WeasyPrint PDF and in a
self-contained HTML export. `taken_path` reads a drill's log into the node ids of the path
it took, for `render_svg(..., highlight=...)`.

Pure: no FastAPI, SQLAlchemy or asyncio. The layout is a small Sugiyama-style layered
drawing: layers by longest path from the start, dummy nodes on long edges so they run in
their own lanes, barycentre ordering against crossings, and isotonic placement so boxes
never overlap and edges run as straight as the order allows.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from xml.sax.saxutils import escape

from app.engine.durations import format_clock, format_duration
from app.engine.events import Event, EventType
from app.engine.scenario import Condition, Inject, MessageMatch, Scenario, fill

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


# --------------------------------------------------------------------------- the graph


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
        prompt = _first_line(fill(decision.prompt, values))
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
    if any(e.target == END for e in graph.edges):
        graph.add(Node(END, NodeKind.end, "End", "drill ends"))
    return graph


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


_MARKDOWN = re.compile(r"[*_`#>]+")


def _first_line(text: str) -> str:
    """A decision prompt's first line, without Markdown emphasis, for a one-line label."""
    for line in text.splitlines():
        clean = _MARKDOWN.sub("", line).strip()
        if clean:
            return clean
    return text.strip()


def taken_path(scenario: Scenario, events: Iterable[Event]) -> set[str]:
    """The node ids a drill's log went through: delivered injects, opened decisions,
    chosen options (answered or by timeout), messages waited for, and the end."""
    matches = {
        node.id: _parse_match(scenario, key) for key, node in _message_nodes(scenario).items()
    }
    taken = {START}
    for event in events:
        data = event.data
        if event.type is EventType.inject_delivered and data.get("inject_id"):
            taken.add(inject_node(data["inject_id"]))
        elif event.type is EventType.decision_opened:
            taken.add(decision_node(data["decision_id"]))
        elif event.type in (EventType.decision_answered, EventType.decision_timed_out):
            taken.add(option_node(f"{data['decision_id']}.{data['option_id']}"))
        elif event.type is EventType.message_sent:
            for node_id, match in matches.items():
                if match is not None and _sent_matches(match, data["from_role"], data["to"]):
                    taken.add(node_id)
        elif event.type is EventType.drill_ended:
            taken.add(END)
            if data.get("reason") == TIME_UP_REASON:
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


# --------------------------------------------------------------------------- sizes and text

FONT = (
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, "
    "'Liberation Sans', 'DejaVu Sans', sans-serif"
)
LABEL_SIZE = 12.5
DETAIL_SIZE = 11.0
PAD = 12.0
LINE = 15.0
"""Line height inside a box."""
LAYER_GAP = 96.0
NODE_GAP = 18.0
LANE_GAP = 10.0
LANE_HEIGHT = 6.0
MARGIN = 28.0
HEADER = 64.0
LEGEND = 56.0

_WIDTHS: dict[NodeKind, float] = {
    NodeKind.start: 116.0,
    NodeKind.end: 96.0,
    NodeKind.clock: 120.0,
    NodeKind.message: 176.0,
    NodeKind.inject: 240.0,
    NodeKind.decision: 248.0,
    NodeKind.option: 204.0,
}
_SMALL_HEIGHT = 42.0
"""Start, end, clock and message nodes: two short centred lines."""
OPTION_INSET = 14.0
DECISION_INSET = 22.0
"""Text keeps clear of the slanted sides of the decision's hexagon."""

# Advance widths in em of DejaVu Sans, the widest font a browser or WeasyPrint on Linux
# is likely to fall back to: estimated with these, a text never overflows its box (with
# narrower fonts such as Arial or Segoe UI it just leaves a little more room).
_EM = {
    **dict.fromkeys("ijl", 0.278),
    **dict.fromkeys(" .,:;!'|", 0.318),
    **dict.fromkeys("ft()[]/-", 0.37),
    **dict.fromkeys("r", 0.411),
    **dict.fromkeys("Ic", 0.55),
    **dict.fromkeys("szJ", 0.53),
    **dict.fromkeys("kvxy", 0.592),
    **dict.fromkeys("abdeghnopqu0123456789", 0.636),
    **dict.fromkeys("EFLPTZ", 0.63),
    **dict.fromkeys("ABKRSVXY", 0.7),
    **dict.fromkeys("CDGHNOQU", 0.78),
    **dict.fromkeys("w", 0.818),
    **dict.fromkeys("mM", 0.974),
    **dict.fromkeys("W@%", 1.0),
    "…": 1.0,
}
_BOLD = 1.1


def text_width(text: str, size: float, bold: bool = False) -> float:
    # Anything not in the table (accents, symbols, other scripts) counts as wide.
    return sum(_EM.get(ch, 0.8) for ch in text) * size * (_BOLD if bold else 1.0)


def _prefix(text: str, budget: float, size: float, bold: bool) -> str:
    """The longest start of `text` within `budget`."""
    used = 0.0
    scale = size * (_BOLD if bold else 1.0)
    for i, ch in enumerate(text):
        used += _EM.get(ch, 0.8) * scale
        if used > budget:
            return text[:i]
    return text


def fit(text: str, max_width: float, size: float, bold: bool = False) -> str:
    """The text on one line, cut at a word where possible and ended with an ellipsis."""
    text = " ".join(text.split())
    if text_width(text, size, bold) <= max_width:
        return text
    cut = _prefix(text, max_width - text_width("…", size, bold), size, bold)
    space = cut.rfind(" ")
    if space > len(cut) * 0.6:  # prefer a whole word, unless that loses too much
        cut = cut[:space]
    return cut.rstrip(" ,;:-·") + "…"


def wrap(text: str, max_width: float, size: float, bold: bool = False, lines: int = 2) -> list[str]:
    """The text in at most `lines` lines, broken between words; the last one is cut
    with an ellipsis if the text is longer still."""
    rest = " ".join(text.split())
    out: list[str] = []
    while len(out) < lines - 1 and text_width(rest, size, bold) > max_width:
        cut = _prefix(rest, max_width, size, bold)
        space = cut.rfind(" ")
        if space > 0 and rest[len(cut) : len(cut) + 1] != " ":
            cut = cut[:space]  # a word that does not fit goes to the next line whole
        out.append(cut.rstrip())
        rest = rest[len(cut) :].lstrip()
    out.append(fit(rest, max_width, size, bold))
    return out


def _lines(node: Node) -> list[tuple[str, str]]:
    """The lines of text in a node's box, as (CSS class, text)."""
    room = _WIDTHS[node.kind] - 2 * _inset(node)
    if node.kind is NodeKind.option:
        suffix = " · default" if node.default else ""
        room -= text_width(suffix, 10)
        return [("label", line) for line in wrap(node.label, room, LABEL_SIZE)]
    small = node.kind in (NodeKind.start, NodeKind.end, NodeKind.clock, NodeKind.message)
    label_size = 10.0 if node.kind is NodeKind.message else LABEL_SIZE
    out = [("label", line) for line in wrap(node.label, room, label_size, True, 1 if small else 2)]
    if node.detail:
        out.append(("detail", fit(node.detail, room, DETAIL_SIZE)))
    if node.condition:
        out += [("note", line) for line in wrap(node.condition, room, DETAIL_SIZE)]
    return out


def _inset(node: Node) -> float:
    if node.kind is NodeKind.decision:
        return DECISION_INSET
    if node.kind is NodeKind.inject:
        return PAD + 2.0  # the severity accent takes the left edge
    return OPTION_INSET if node.kind is NodeKind.option else PAD


def node_size(node: Node) -> tuple[float, float]:
    width = _WIDTHS[node.kind]
    if node.kind in (NodeKind.start, NodeKind.end, NodeKind.clock, NodeKind.message):
        return width, _SMALL_HEIGHT
    count = len(_lines(node))
    if node.kind is NodeKind.option:
        return width, 16.0 + LINE * count
    return width, 20.0 + LINE * count


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text: str) -> str:
    """Text content, escaped; characters XML 1.0 forbids are dropped, not passed on."""
    return escape(_CONTROL.sub("", text))


def _attr(text: str) -> str:
    return escape(_CONTROL.sub("", text), {'"': "&quot;", "\n": "&#10;"})


# --------------------------------------------------------------------------- layout


@dataclass(slots=True)
class _Box:
    """A node or a dummy (a point a long edge passes through) in the layout."""

    id: str
    width: float
    height: float
    layer: int = 0
    x: float = 0.0
    y: float = 0.0
    """Centre."""
    dummy: bool = False


@dataclass(slots=True)
class _Route:
    edge: Edge
    chain: list[str]
    """Box ids from the source to the target in layout direction (left to right)."""
    reversed: bool


@dataclass(slots=True)
class _Layout:
    boxes: dict[str, _Box]
    routes: list[_Route]
    layers: list[list[str]]
    width: float
    height: float


def _layer(graph: Graph) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Layer of each node (longest path from the start) and the edges reversed to break
    cycles (a story can loop back; the layers need a DAG)."""
    succ: dict[str, list[str]] = defaultdict(list)
    for e in graph.edges:
        if e.target not in succ[e.source]:
            succ[e.source].append(e.target)
    reversed_: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the DFS stack, 2: done
    for root in [START, *graph.nodes]:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node, i = stack.pop()
            if i < len(succ[node]):
                stack.append((node, i + 1))
                child = succ[node][i]
                if state.get(child) == 1:
                    reversed_.add((node, child))
                elif child not in state:
                    state[child] = 1
                    stack.append((child, 0))
            else:
                state[node] = 2
    dag: dict[str, list[str]] = defaultdict(list)
    preds: dict[str, list[str]] = defaultdict(list)
    for source, targets in succ.items():
        for target in targets:
            a, b = (target, source) if (source, target) in reversed_ else (source, target)
            if b not in dag[a]:
                dag[a].append(b)
                preds[b].append(a)
    layer: dict[str, int] = {}
    pending = {n: len(preds[n]) for n in graph.nodes}
    ready = [n for n in graph.nodes if pending[n] == 0]
    while ready:
        node = ready.pop(0)
        layer[node] = max((layer[p] + 1 for p in preds[node]), default=0)
        for child in dag[node]:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    last = max((v for k, v in layer.items() if k != END), default=0)
    if END in graph.nodes:
        layer[END] = last + 1  # the end sits at the far right, where a reader looks for it
    # Sources other than the start (a message, the clock) sit just before what they feed.
    for node in graph.nodes:
        if node != START and not preds[node] and dag[node]:
            layer[node] = max(0, min(layer[c] for c in dag[node]) - 1)
    return layer, reversed_


def _layout(graph: Graph) -> _Layout:
    layer_of, reversed_ = _layer(graph)
    boxes: dict[str, _Box] = {}
    for node in graph.nodes.values():
        width, height = node_size(node)
        boxes[node.id] = _Box(node.id, width, height, layer_of[node.id])
    routes: list[_Route] = []
    succ: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    for n, edge in enumerate(graph.edges):
        flip = (edge.source, edge.target) in reversed_
        a, b = (edge.target, edge.source) if flip else (edge.source, edge.target)
        chain = [a]
        for level in range(layer_of[a] + 1, layer_of[b]):
            dummy = _Box(f"~{n}.{level}", 0.0, LANE_HEIGHT, level, dummy=True)
            boxes[dummy.id] = dummy
            chain.append(dummy.id)
        chain.append(b)
        for u, v in itertools.pairwise(chain):
            succ[u].append(v)
            pred[v].append(u)
        routes.append(_Route(edge, chain, flip))
    count = max(b.layer for b in boxes.values()) + 1
    layers: list[list[str]] = [[] for _ in range(count)]
    top = 0.0
    # Parts of the story that do not connect to the start (injects that wait for a
    # message) are laid out on their own and stacked below, so they neither drift
    # apart from it nor leave holes in it.
    for index, part in enumerate(_components(boxes, succ)):
        sub = {n: boxes[n] for n in part}
        part_layers = _order(sub, succ, pred, count)
        _place(sub, part_layers, succ, pred)
        shift = top - min(b.y - b.height / 2 for b in sub.values())
        for box in sub.values():
            box.y += shift
        # A wider gap under the main story marks where the detached parts begin.
        top = max(b.y + b.height / 2 for b in sub.values()) + NODE_GAP * (3 if index == 0 else 1)
        for layer, extra in zip(layers, part_layers, strict=True):
            layer.extend(extra)
    width, height = _columns(boxes, layers)
    return _Layout(boxes, routes, layers, width, height)


def _components(boxes: dict[str, _Box], succ: dict[str, list[str]]) -> list[list[str]]:
    """Connected parts of the layout, the start's first, the rest in file order."""
    parent = {n: n for n in boxes}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for source, targets in succ.items():
        for target in targets:
            parent[root(source)] = root(target)
    parts: dict[str, list[str]] = {}
    for n in sorted(boxes, key=lambda n: n != START):
        parts.setdefault(root(n), []).append(n)
    return list(parts.values())


def _order(
    boxes: dict[str, _Box], succ: dict[str, list[str]], pred: dict[str, list[str]], count: int
) -> list[list[str]]:
    """Order within each layer: depth-first from the start (story order), then
    barycentre sweeps down and up, keeping the order with the fewest crossings."""
    layers: list[list[str]] = [[] for _ in range(count)]
    seen: set[str] = set()

    def visit(root: str) -> None:
        stack = [root]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            layers[boxes[node].layer].append(node)
            stack.extend(reversed(succ[node]))

    for root in [START, *boxes]:
        if root in boxes and not pred[root]:
            visit(root)
    for root in boxes:  # anything left is on a cycle with no way in
        visit(root)
    best = [list(layer) for layer in layers]
    best_crossings = _crossings(best, succ)
    for sweep in range(24):
        downward = sweep % 2 == 0
        indices = range(1, count) if downward else range(count - 2, -1, -1)
        for i in indices:
            ref = {n: k for k, n in enumerate(layers[i - 1 if downward else i + 1])}
            neighbours = pred if downward else succ
            layers[i] = _by_barycentre(layers[i], ref, neighbours)
        crossings = _crossings(layers, succ)
        if crossings < best_crossings:
            best, best_crossings = [list(layer) for layer in layers], crossings
    return best


def _by_barycentre(
    layer: list[str], ref: dict[str, int], neighbours: dict[str, list[str]]
) -> list[str]:
    scale = max(len(ref), 1) / max(len(layer), 1)
    keys: dict[str, float] = {}
    for k, node in enumerate(layer):
        near = [ref[n] for n in neighbours[node] if n in ref]
        # A node with nothing in the reference layer keeps its relative place.
        keys[node] = sum(near) / len(near) if near else k * scale
    return sorted(layer, key=lambda n: keys[n])


def _crossings(layers: list[list[str]], succ: dict[str, list[str]]) -> int:
    total = 0
    for upper, lower in itertools.pairwise(layers):
        position = {n: k for k, n in enumerate(lower)}
        pairs = [(i, position[t]) for i, n in enumerate(upper) for t in succ[n] if t in position]
        for a in range(len(pairs)):
            for b in range(a + 1, len(pairs)):
                (i1, j1), (i2, j2) = pairs[a], pairs[b]
                if (i1 - i2) * (j1 - j2) < 0:
                    total += 1
    return total


def _gap(a: _Box, b: _Box) -> float:
    return LANE_GAP if a.dummy or b.dummy else NODE_GAP


def _place(
    boxes: dict[str, _Box],
    layers: list[list[str]],
    succ: dict[str, list[str]],
    pred: dict[str, list[str]],
) -> None:
    """Vertical centres: each node pulled towards its neighbours, layer by layer, never
    closer to the next box than the gap allows. Lanes of long edges weigh more, so long
    edges run straight."""
    for layer in layers:
        y = 0.0
        for node in layer:
            box = boxes[node]
            box.y = y + box.height / 2
            y += box.height + NODE_GAP

    def weight(a: str, b: str) -> float:
        return {0: 1.0, 1: 2.0, 2: 8.0}[boxes[a].dummy + boxes[b].dummy]

    for sweep in range(16):
        both = sweep >= 12  # settle with both sides at the end
        downward = sweep % 2 == 0
        order = layers if downward else list(reversed(layers))
        for layer in order:
            if not layer:
                continue
            targets: list[float] = []
            weights: list[float] = []
            for node in layer:
                near = pred[node] + succ[node] if both else (pred if downward else succ)[node]
                total = sum(weight(node, n) for n in near)
                if total:
                    targets.append(sum(weight(node, n) * boxes[n].y for n in near) / total)
                    weights.append(total)
                else:
                    targets.append(boxes[node].y)
                    weights.append(0.1)
            separations = [0.0] + [
                boxes[a].height / 2 + _gap(boxes[a], boxes[b]) + boxes[b].height / 2
                for a, b in itertools.pairwise(layer)
            ]
            for node, y in zip(layer, _pack(targets, weights, separations), strict=True):
                boxes[node].y = y


def _pack(targets: list[float], weights: list[float], separations: list[float]) -> list[float]:
    """Positions closest (weighted least squares) to `targets` that keep their order and
    at least `separations` apart: isotonic regression by pooling adjacent violators."""
    offsets: list[float] = []
    total = 0.0
    for separation in separations:
        total += separation
        offsets.append(total)
    blocks: list[list[float]] = []  # [value, weight, size]
    for target, weight, offset in zip(targets, weights, offsets, strict=True):
        blocks.append([target - offset, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    values = [v for v, _, n in blocks for _ in range(int(n))]
    return [v + o for v, o in zip(values, offsets, strict=True)]


def _columns(boxes: dict[str, _Box], layers: list[list[str]]) -> tuple[float, float]:
    """Horizontal centres (one column per layer) and the drawing's size."""
    top = min(b.y - b.height / 2 for b in boxes.values())
    for box in boxes.values():
        box.y += MARGIN + HEADER - top
    x = MARGIN
    for layer in layers:
        width = max((boxes[n].width for n in layer), default=0.0) or 24.0
        for node in layer:
            boxes[node].x = x + width / 2
            if boxes[node].dummy:
                boxes[node].width = width  # a lane crosses the whole column
        x += width + LAYER_GAP
    bottom = max(b.y + b.height / 2 for b in boxes.values())
    return x - LAYER_GAP + MARGIN, bottom + LEGEND + MARGIN


# --------------------------------------------------------------------------- drawing

_CSS = f"""
& {{ font-family: {FONT}; }}
.bg {{ fill: #ffffff; }}
.heading {{ font-size: 18px; font-weight: 600; fill: #0f172a; }}
.subheading {{ font-size: 12px; fill: #64748b; }}
.label {{ font-size: {LABEL_SIZE}px; font-weight: 600; fill: #1e293b; }}
.detail {{ font-size: {DETAIL_SIZE}px; fill: #64748b; }}
.note {{ font-size: {DETAIL_SIZE}px; font-style: italic; fill: #9a5b13; }}
.inject .shape {{ fill: #ffffff; stroke: #cbd5e1; stroke-width: 1.2; }}
.inject.cond .shape {{ stroke: #b7791f; stroke-dasharray: 5 3; fill: #fffdf7; }}
.decision .shape {{ fill: #eef2ff; stroke: #6366f1; stroke-width: 1.4; }}
.decision .label {{ fill: #312e81; }}
.decision .detail {{ fill: #4f46e5; }}
.option .shape {{ fill: #f8fafc; stroke: #818cf8; stroke-width: 1.2; }}
.option .label {{ font-weight: 500; fill: #1e1b4b; }}
.option .default {{ font-size: 10px; fill: #6366f1; font-weight: 400; }}
.start .shape, .end .shape {{ fill: #1e293b; stroke: #1e293b; }}
.start .label, .end .label {{ fill: #ffffff; }}
.start .detail, .end .detail {{ fill: #cbd5e1; font-size: 10px; }}
.clock .shape {{ fill: #f1f5f9; stroke: #64748b; stroke-dasharray: 3 3; }}
.message .shape {{ fill: #f0f9ff; stroke: #0284c7; stroke-dasharray: 2 2; }}
.message .label {{ font-size: 10px; font-weight: 700; fill: #0369a1; }}
.sev {{ stroke: none; }}
.sev-info {{ fill: #94a3b8; }}
.sev-low {{ fill: #4d9f70; }}
.sev-medium {{ fill: #d4a72c; }}
.sev-high {{ fill: #e07a2f; }}
.sev-critical {{ fill: #c93c3c; }}
.edge {{ fill: none; stroke: #94a3b8; stroke-width: 1.4; }}
.edge.opens, .edge.answer {{ stroke: #818cf8; }}
.edge.triggers {{ stroke: #6366f1; stroke-dasharray: 6 4; }}
.edge.suppresses {{ stroke: #dc2626; stroke-dasharray: 6 4; }}
.edge.message {{ stroke: #0284c7; stroke-dasharray: 2 3; }}
.edge-label {{ font-size: 10px; fill: #4f46e5; }}
.edge-label.suppresses {{ fill: #b91c1c; }}
.edge-label-bg {{ fill: #ffffff; opacity: 0.92; }}
.node.taken .shape {{ stroke: #0f766e; stroke-width: 2.4; }}
.inject.taken .shape, .option.taken .shape {{ fill: #f0fdfa; }}
.start.taken .shape, .end.taken .shape {{ fill: #0f766e; stroke: #0f766e; }}
.edge.taken {{ stroke: #0f766e; stroke-width: 2.6; }}
.dim {{ opacity: 0.32; }}
.legend text {{ font-size: 11px; fill: #475569; }}
"""


def _scope(css: str, root: str) -> str:
    """Every selector prefixed with the root's class (`&` is the root itself): a graph
    inlined in an HTML page (the report, the export) styles nothing else on the page."""
    rules: list[str] = []
    for rule in css.split("}"):
        if not rule.strip():
            continue
        selectors, body = rule.split("{", 1)
        scoped = ", ".join(
            root if s.strip() == "&" else f"{root} {s.strip()}" for s in selectors.split(",")
        )
        rules.append(f"{scoped} {{{body.rstrip()} }}")
    return "\n".join(rules)


ROOT_CLASS = "branch-graph"
STYLE = _scope(_CSS, f".{ROOT_CLASS}")


# Marker ids carry a prefix so that they cannot clash with ids of the page the SVG is
# inlined in; two graphs on one page share identical definitions, so that is harmless.
def _marker(name: str, shape: str, size: float) -> str:
    return (
        f'<marker id="tt-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="{size:g}" '
        f'markerHeight="{size:g}" orient="auto" markerUnits="userSpaceOnUse">{shape}</marker>'
    )


def _arrow(colour: str) -> str:
    # Colours as attributes, not classes: marker contents are where renderers (PDF ones
    # especially) are least likely to apply the stylesheet.
    return f'<path fill="{colour}" d="M0,1 L10,5 L0,9 z"/>'


_MARKERS = "".join(
    [
        _marker("arrow", _arrow("#94a3b8"), 7),
        _marker("arrow-opens", _arrow("#818cf8"), 7),
        _marker("arrow-triggers", _arrow("#6366f1"), 7),
        _marker("arrow-message", _arrow("#0284c7"), 7),
        _marker("arrow-taken", _arrow("#0f766e"), 9),
        # "Never arrives": a bar across the end, as in inhibition diagrams.
        _marker("bar-suppresses", '<path stroke="#dc2626" stroke-width="2.2" d="M9,0 L9,10"/>', 12),
    ]
)

_MARKER_OF: dict[EdgeKind, str] = {
    EdgeKind.after: "arrow",
    EdgeKind.ends: "arrow",
    EdgeKind.opens: "arrow-opens",
    EdgeKind.answer: "arrow-opens",
    EdgeKind.triggers: "arrow-triggers",
    EdgeKind.message: "arrow-message",
    EdgeKind.suppresses: "bar-suppresses",
}


def render_svg(graph: Graph, highlight: set[str] | None = None, title: str | None = None) -> str:
    """The graph as a standalone SVG document. With `highlight` (node ids), the taken
    path is drawn strongly and the rest greyed; `title` adds a heading."""
    layout = _layout(graph)
    taken = highlight or set()
    header = HEADER if title else 0.0
    if not title:
        for box in layout.boxes.values():
            box.y -= HEADER
    width = max(layout.width, 560.0)
    height = layout.height - (HEADER - header)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" class="{ROOT_CLASS}" role="img">',
        f"<title>{_xml(title or graph.title)}</title>",
        f"<style>{STYLE}</style>",
        f"<defs>{_MARKERS}</defs>",
        f'<rect class="bg" x="0" y="0" width="{width:.0f}" height="{height:.0f}"/>',
    ]
    if title:
        parts.append(_heading(graph, title, taken))
    ports = _ports(layout)
    for k in range(len(layout.routes)):
        parts.append(_edge(k, layout, ports, taken))
    for node in graph.nodes.values():
        parts.append(_node(node, layout.boxes[node.id], taken))
    parts.append(_legend(height - LEGEND - MARGIN / 2 + 12, bool(taken)))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _heading(graph: Graph, title: str, taken: set[str]) -> str:
    kinds = [n.kind for n in graph.nodes.values()]
    counts = (
        f"{kinds.count(NodeKind.inject)} injects · {kinds.count(NodeKind.decision)} decisions"
        f" · {kinds.count(NodeKind.option)} options"
    )
    if taken:
        counts += " · the highlighted path is the one taken"
    return (
        f'<text class="heading" x="{MARGIN}" y="{MARGIN + 8}">{_xml(title)}</text>'
        f'<text class="subheading" x="{MARGIN}" y="{MARGIN + 30}">{_xml(counts)}</text>'
    )


Ports = dict[tuple[int, str], tuple[float, float]]


def _ports(layout: _Layout) -> Ports:
    """Where each route leaves and enters its boxes: spread along the side, sorted by
    where the other end is, so several edges on one side neither overlap nor cross."""
    outgoing: dict[str, list[tuple[float, int]]] = defaultdict(list)
    incoming: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for k, route in enumerate(layout.routes):
        first, second = layout.boxes[route.chain[0]], layout.boxes[route.chain[1]]
        last, before = layout.boxes[route.chain[-1]], layout.boxes[route.chain[-2]]
        outgoing[first.id].append((second.y, k))
        incoming[last.id].append((before.y, k))
    ports: Ports = {}
    for side, table in (("out", outgoing), ("in", incoming)):
        for box_id, items in table.items():
            box = layout.boxes[box_id]
            items.sort()
            usable = max(box.height - 16.0, 0.0)
            step = min(8.0, usable / (len(items) - 1)) if len(items) > 1 else 0.0
            x = box.x + box.width / 2 if side == "out" else box.x - box.width / 2
            for i, (_, k) in enumerate(items):
                ports[(k, side)] = (x, box.y + (i - (len(items) - 1) / 2) * step)
    return ports


def _edge(k: int, layout: _Layout, ports: Ports, taken: set[str]) -> str:
    route = layout.routes[k]
    points = [ports[(k, "out")]]
    for lane in route.chain[1:-1]:
        box = layout.boxes[lane]
        points += [(box.x - box.width / 2, box.y), (box.x + box.width / 2, box.y)]
    points.append(ports[(k, "in")])
    if route.reversed:
        points.reverse()
    d = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    for i in range(1, len(points)):
        (x1, y1), (x2, y2) = points[i - 1], points[i]
        if i % 2 == 0 and len(points) > 2:
            d += f" L{x2:.1f},{y2:.1f}"  # along a lane through a column
        else:
            mid = (x1 + x2) / 2
            d += f" C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    edge = route.edge
    is_taken = edge.source in taken and edge.target in taken
    state = " taken" if is_taken else (" dim" if taken else "")
    marker = "arrow-taken" if is_taken and edge.kind is not EdgeKind.suppresses else None
    marker = marker or _MARKER_OF[edge.kind]
    out = (
        f'<path class="edge {edge.kind}{state}" data-edge="{_attr(edge.source)}>'
        f'{_attr(edge.target)}" d="{d}" marker-end="url(#tt-{marker})"/>'
    )
    if edge.label:
        # In the middle of the last stretch, which lies in the gap before the target:
        # no box is there, and labels of edges to different targets do not stack.
        (x1, y1), (x2, y2) = points[-2], points[-1]
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        half = text_width(edge.label, 10) / 2 + 3
        dim = " dim" if taken and not is_taken else ""
        out += (
            f'<rect class="edge-label-bg{dim}" x="{cx - half:.1f}" y="{cy - 7:.1f}" '
            f'width="{2 * half:.1f}" height="14" rx="3"/>'
            f'<text class="edge-label {edge.kind}{dim}" x="{cx:.1f}" y="{_baseline(cy, 10):.1f}" '
            f'text-anchor="middle">{_xml(edge.label)}</text>'
        )
    return out


def _baseline(centre: float, size: float) -> float:
    """The baseline that centres a line of text on `centre` (no renderer-dependent
    dominant-baseline: WeasyPrint and browsers disagree about it)."""
    return centre + size * 0.35


def _node(node: Node, box: _Box, taken: set[str]) -> str:
    x0, y0 = box.x - box.width / 2, box.y - box.height / 2
    w, h = box.width, box.height
    classes = ["node", str(node.kind)]
    if node.condition:
        classes.append("cond")
    if taken:
        classes.append("taken" if node.id in taken else "dim")
    tooltip = node.tooltip or "\n".join(p for p in (node.label, node.detail) if p)
    parts = [
        f'<g class="{" ".join(classes)}" data-node="{_attr(node.id)}">',
        f"<title>{_xml(tooltip)}</title>",
        _shape(node, x0, y0, w, h),
    ]
    parts.extend(_texts(node, x0, y0, w, h))
    parts.append("</g>")
    return "".join(parts)


def _shape(node: Node, x0: float, y0: float, w: float, h: float) -> str:
    if node.kind is NodeKind.decision:
        inset = 14.0
        points = [
            (x0 + inset, y0),
            (x0 + w - inset, y0),
            (x0 + w, y0 + h / 2),
            (x0 + w - inset, y0 + h),
            (x0 + inset, y0 + h),
            (x0, y0 + h / 2),
        ]
        return '<polygon class="shape" points="{}"/>'.format(
            " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        )
    radius = 8.0
    if node.kind in (NodeKind.option, NodeKind.start, NodeKind.end):
        radius = min(h / 2, 16.0)
    shape = (
        f'<rect class="shape" x="{x0:.1f}" y="{y0:.1f}" width="{w:.1f}" height="{h:.1f}" '
        f'rx="{radius:.1f}"/>'
    )
    if node.kind is NodeKind.inject:
        # A severity accent down the left side: urgency at a glance, without colouring
        # the whole box.
        shape += (
            f'<rect class="sev sev-{_attr(node.severity or "info")}" x="{x0 + 5:.1f}" '
            f'y="{y0 + 8:.1f}" width="3" height="{h - 16:.1f}" rx="1.5"/>'
        )
    return shape


def _texts(node: Node, x0: float, y0: float, w: float, h: float) -> list[str]:
    lines = _lines(node)
    centred = node.kind not in (NodeKind.inject, NodeKind.decision)
    inset = _inset(node)
    x = x0 + w / 2 if centred else x0 + inset + (2.0 if node.kind is NodeKind.inject else 0.0)
    anchor = ' text-anchor="middle"' if centred else ""
    sizes = {"label": LABEL_SIZE, "detail": DETAIL_SIZE, "note": DETAIL_SIZE}
    if node.kind is NodeKind.message:
        sizes["label"] = 10.0
    if node.kind in (NodeKind.start, NodeKind.end, NodeKind.clock):
        sizes["detail"] = 10.0
    first = y0 + h / 2 - LINE * (len(lines) - 1) / 2
    out: list[str] = []
    for i, (cls, text) in enumerate(lines):
        extra = ""
        if node.default and i == len(lines) - 1:
            extra = '<tspan class="default"> \u00b7 default</tspan>'
        out.append(
            f'<text class="{cls}" x="{x:.1f}" y="{_baseline(first + i * LINE, sizes[cls]):.1f}"'
            f"{anchor}>{_xml(text)}{extra}</text>"
        )
    return out


def _legend(y: float, highlighted: bool) -> str:
    """A one-line key along the bottom: the shapes and the kinds of edge."""
    x = MARGIN
    parts = ['<g class="legend">']

    def sample(shape: str, label: str, width: float) -> None:
        nonlocal x
        parts.append(shape.format(x=x, y=y))
        parts.append(
            f'<text x="{x + width + 8:.1f}" y="{_baseline(y, 11):.1f}">{_xml(label)}</text>'
        )
        x += width + 8 + text_width(label, 11) + 26

    sample(
        '<rect class="shape" x="{x:.1f}" y="{y:.1f}" transform="translate(0,-9)" width="28" '
        'height="18" rx="4" style="fill:#fff;stroke:#cbd5e1"/>',
        "inject",
        28,
    )
    sample(
        '<rect x="{x:.1f}" y="{y:.1f}" transform="translate(0,-9)" width="28" height="18" '
        'rx="4" style="fill:#fffdf7;stroke:#b7791f;stroke-dasharray:5 3"/>',
        "inject with a condition",
        28,
    )
    sample(
        '<polygon transform="translate({x:.1f},{y:.1f})" points="6,-9 22,-9 28,0 22,9 6,9 0,0" '
        'style="fill:#eef2ff;stroke:#6366f1"/>',
        "decision",
        28,
    )
    sample(
        '<rect x="{x:.1f}" y="{y:.1f}" transform="translate(0,-8)" width="28" height="16" '
        'rx="8" style="fill:#f8fafc;stroke:#818cf8"/>',
        "option",
        28,
    )
    for kind, label in ((EdgeKind.triggers, "triggers"), (EdgeKind.suppresses, "suppresses")):
        sample(
            f'<path class="edge {kind}" d="M{{x:.1f}},{{y:.1f}} h30" '
            f'marker-end="url(#tt-{_MARKER_OF[kind]})"/>',
            label,
            32,
        )
    if highlighted:
        sample(
            '<path class="edge taken" d="M{x:.1f},{y:.1f} h30" marker-end="url(#tt-arrow-taken)"/>',
            "path taken",
            32,
        )
    parts.append("</g>")
    return "".join(parts)
