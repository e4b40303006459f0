"""Where the branch graph's boxes go: a small Sugiyama-style layered drawing, left to right.

Layers by longest path from the start (`layer_nodes`, after reversing the edges that close
a cycle), dummy boxes on long edges so they run in their own lanes, barycentre ordering
against crossings, and isotonic placement so boxes never overlap and edges run as straight
as the order allows (`lay_out`). Box sizes come from the text each node holds, measured
with the shared SVG text metrics (`node_lines`, `node_size`).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

from app.authoring.graph.model import END, START, Edge, Graph, Node, NodeKind
from app.authoring.svg import fit, text_width, wrap

# --------------------------------------------------------------------------- sizes and text

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


def node_lines(node: Node) -> list[tuple[str, str]]:
    """The lines of text in a node's box, as (CSS class, text)."""
    room = _WIDTHS[node.kind] - 2 * text_inset(node)
    if node.kind is NodeKind.option:
        suffix = " · default" if node.default else ""
        room -= text_width(suffix, 10)
        lines = [("label", line) for line in wrap(node.label, room, LABEL_SIZE)]
        return lines + _clock_lines(node, _WIDTHS[node.kind] - 2 * text_inset(node))
    small = node.kind in (NodeKind.start, NodeKind.end, NodeKind.clock, NodeKind.message)
    label_size = 10.0 if node.kind is NodeKind.message else LABEL_SIZE
    out = [("label", line) for line in wrap(node.label, room, label_size, True, 1 if small else 2)]
    if node.detail:
        out.append(("detail", fit(node.detail, room, DETAIL_SIZE)))
    if node.condition:
        out += [("note", line) for line in wrap(node.condition, room, DETAIL_SIZE)]
    return out + _clock_lines(node, room)


def _clock_lines(node: Node, room: float) -> list[tuple[str, str]]:
    """The notification clocks the node starts, under its other lines."""
    if not node.starts:
        return []
    return [("clocks", line) for line in wrap(node.starts, room, DETAIL_SIZE)]


def text_inset(node: Node) -> float:
    """How far a node's text keeps from the sides of its box."""
    if node.kind is NodeKind.decision:
        return DECISION_INSET
    if node.kind is NodeKind.inject:
        return PAD + 2.0  # the severity accent takes the left edge
    return OPTION_INSET if node.kind is NodeKind.option else PAD


def node_size(node: Node) -> tuple[float, float]:
    width = _WIDTHS[node.kind]
    if node.kind in (NodeKind.start, NodeKind.end, NodeKind.clock, NodeKind.message):
        return width, _SMALL_HEIGHT
    count = len(node_lines(node))
    if node.kind is NodeKind.option:
        return width, 16.0 + LINE * count
    return width, 20.0 + LINE * count


# --------------------------------------------------------------------------- layout


@dataclass(slots=True)
class Box:
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
class Route:
    edge: Edge
    chain: list[str]
    """Box ids from the source to the target in layout direction (left to right)."""
    reversed: bool


@dataclass(slots=True)
class Layout:
    boxes: dict[str, Box]
    routes: list[Route]
    layers: list[list[str]]
    width: float
    height: float


Adjacency = defaultdict[str, list[str]]
"""Node (or box) ids to their neighbours in one direction; a missing id has none."""


def layer_nodes(graph: Graph) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Layer of each node (longest path from the start) and the edges reversed to break
    cycles (a story can loop back; the layers need a DAG)."""
    succ = _successors(graph)
    reversed_ = _edges_closing_cycles(succ, [START, *graph.nodes])
    dag, preds = _without_cycles(succ, reversed_)
    layer = _longest_path_layers(list(graph.nodes), dag, preds)
    if END in graph.nodes:
        # The end sits at the far right, where a reader looks for it.
        layer[END] = max((v for k, v in layer.items() if k != END), default=0) + 1
    _pull_sources_forward(layer, list(graph.nodes), dag, preds)
    return layer, reversed_


def _successors(graph: Graph) -> Adjacency:
    """Each node's distinct targets, in edge order."""
    succ: Adjacency = defaultdict(list)
    for e in graph.edges:
        if e.target not in succ[e.source]:
            succ[e.source].append(e.target)
    return succ


def _edges_closing_cycles(succ: Adjacency, roots: list[str]) -> set[tuple[str, str]]:
    """The back edges of a depth-first search from each root in turn: the edges that
    close a cycle. Reversed, they leave none."""
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the DFS stack, 2: done
    for root in roots:
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
                    back.add((node, child))
                elif child not in state:
                    state[child] = 1
                    stack.append((child, 0))
            else:
                state[node] = 2
    return back


def _without_cycles(
    succ: Adjacency, reversed_: set[tuple[str, str]]
) -> tuple[Adjacency, Adjacency]:
    """The graph with the `reversed_` edges turned round, as successors and predecessors."""
    dag: Adjacency = defaultdict(list)
    preds: Adjacency = defaultdict(list)
    for source, targets in succ.items():
        for target in targets:
            a, b = (target, source) if (source, target) in reversed_ else (source, target)
            if b not in dag[a]:
                dag[a].append(b)
                preds[b].append(a)
    return dag, preds


def _longest_path_layers(nodes: list[str], dag: Adjacency, preds: Adjacency) -> dict[str, int]:
    """Each node one layer past its furthest predecessor, in topological order (Kahn's):
    the layer is the length of the longest path that leads to it."""
    layer: dict[str, int] = {}
    pending = {n: len(preds[n]) for n in nodes}
    ready = [n for n in nodes if pending[n] == 0]
    while ready:
        node = ready.pop(0)
        layer[node] = max((layer[p] + 1 for p in preds[node]), default=0)
        for child in dag[node]:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    return layer


def _pull_sources_forward(
    layer: dict[str, int], nodes: list[str], dag: Adjacency, preds: Adjacency
) -> None:
    """Sources other than the start (a message, the clock) move to just before the first
    thing they feed, instead of waiting in the first layer."""
    for node in nodes:
        if node != START and not preds[node] and dag[node]:
            layer[node] = max(0, min(layer[c] for c in dag[node]) - 1)


def lay_out(graph: Graph) -> Layout:
    """Boxes placed, left to right, and the routes of the edges through them."""
    layer_of, reversed_ = layer_nodes(graph)
    boxes: dict[str, Box] = {}
    for node in graph.nodes.values():
        width, height = node_size(node)
        boxes[node.id] = Box(node.id, width, height, layer_of[node.id])
    routes, succ, pred = _routes(graph, layer_of, reversed_, boxes)
    layers = _stack_parts(boxes, succ, pred, max(b.layer for b in boxes.values()) + 1)
    width, height = _columns(boxes, layers)
    return Layout(boxes, routes, layers, width, height)


def _routes(
    graph: Graph, layer_of: dict[str, int], reversed_: set[tuple[str, str]], boxes: dict[str, Box]
) -> tuple[list[Route], Adjacency, Adjacency]:
    """One route per edge, with a dummy box (added to `boxes`) in each layer a long edge
    crosses; and the links between neighbouring boxes, both ways."""
    routes: list[Route] = []
    succ: Adjacency = defaultdict(list)
    pred: Adjacency = defaultdict(list)
    for n, edge in enumerate(graph.edges):
        flip = (edge.source, edge.target) in reversed_
        a, b = (edge.target, edge.source) if flip else (edge.source, edge.target)
        chain = [a]
        for level in range(layer_of[a] + 1, layer_of[b]):
            dummy = Box(f"~{n}.{level}", 0.0, LANE_HEIGHT, level, dummy=True)
            boxes[dummy.id] = dummy
            chain.append(dummy.id)
        chain.append(b)
        for u, v in itertools.pairwise(chain):
            succ[u].append(v)
            pred[v].append(u)
        routes.append(Route(edge, chain, flip))
    return routes, succ, pred


def _stack_parts(
    boxes: dict[str, Box], succ: Adjacency, pred: Adjacency, count: int
) -> list[list[str]]:
    """Order within each of the `count` layers, and vertical centres.

    Parts of the story that do not connect to the start (injects that wait for a
    message) are laid out on their own and stacked below, so they neither drift
    apart from it nor leave holes in it."""
    layers: list[list[str]] = [[] for _ in range(count)]
    top = 0.0
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
    return layers


def _components(boxes: dict[str, Box], succ: Adjacency) -> list[list[str]]:
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


def _order(boxes: dict[str, Box], succ: Adjacency, pred: Adjacency, count: int) -> list[list[str]]:
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


def _by_barycentre(layer: list[str], ref: dict[str, int], neighbours: Adjacency) -> list[str]:
    scale = max(len(ref), 1) / max(len(layer), 1)
    keys: dict[str, float] = {}
    for k, node in enumerate(layer):
        near = [ref[n] for n in neighbours[node] if n in ref]
        # A node with nothing in the reference layer keeps its relative place.
        keys[node] = sum(near) / len(near) if near else k * scale
    return sorted(layer, key=lambda n: keys[n])


def _crossings(layers: list[list[str]], succ: Adjacency) -> int:
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


def _gap(a: Box, b: Box) -> float:
    return LANE_GAP if a.dummy or b.dummy else NODE_GAP


def _place(
    boxes: dict[str, Box],
    layers: list[list[str]],
    succ: Adjacency,
    pred: Adjacency,
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


def _columns(boxes: dict[str, Box], layers: list[list[str]]) -> tuple[float, float]:
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
