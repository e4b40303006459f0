"""The branch graph drawn as one standalone SVG.

`render_svg` lays the graph out (see `layout`) and draws it. The SVG carries its own
styles and nothing external (no fonts, images or scripts), so the same picture works in a
browser, in a WeasyPrint PDF and in a self-contained HTML export; its styles are scoped to
the root's class, so a graph inlined in a page styles nothing else there.
"""

from __future__ import annotations

from collections import defaultdict

from app.authoring.graph.layout import (
    DETAIL_SIZE,
    HEADER,
    LABEL_SIZE,
    LEGEND,
    LINE,
    MARGIN,
    Box,
    Layout,
    lay_out,
    node_lines,
    text_inset,
)
from app.authoring.graph.model import EdgeKind, Graph, Node, NodeKind
from app.authoring.svg import (
    FONT,
    escape_attr,
    escape_text,
    open_svg,
    point_list,
    text_width,
    tooltip,
)

_CSS = f"""
& {{ font-family: {FONT}; }}
.bg {{ fill: #ffffff; }}
.heading {{ font-size: 18px; font-weight: 600; fill: #0f172a; }}
.subheading {{ font-size: 12px; fill: #64748b; }}
.label {{ font-size: {LABEL_SIZE}px; font-weight: 600; fill: #1e293b; }}
.detail {{ font-size: {DETAIL_SIZE}px; fill: #64748b; }}
.note {{ font-size: {DETAIL_SIZE}px; font-style: italic; fill: #9a5b13; }}
.clocks {{ font-size: {DETAIL_SIZE}px; font-weight: 600; fill: #1d4ed8; }}
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
    layout = lay_out(graph)
    taken = highlight or set()
    header = HEADER if title else 0.0
    if not title:
        for box in layout.boxes.values():
            box.y -= HEADER
    width = max(layout.width, 560.0)
    height = layout.height - (HEADER - header)
    parts = [
        *open_svg(width, height, title or graph.title, class_=ROOT_CLASS, role="img"),
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
        f'<text class="heading" x="{MARGIN}" y="{MARGIN + 8}">{escape_text(title)}</text>'
        f'<text class="subheading" x="{MARGIN}" y="{MARGIN + 30}">{escape_text(counts)}</text>'
    )


Ports = dict[tuple[int, str], tuple[float, float]]


def _ports(layout: Layout) -> Ports:
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


def _edge(k: int, layout: Layout, ports: Ports, taken: set[str]) -> str:
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
        f'<path class="edge {edge.kind}{state}" data-edge="{escape_attr(edge.source)}>'
        f'{escape_attr(edge.target)}" d="{d}" marker-end="url(#tt-{marker})"/>'
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
            f'text-anchor="middle">{escape_text(edge.label)}</text>'
        )
    return out


def _baseline(centre: float, size: float) -> float:
    """The baseline that centres a line of text on `centre` (no renderer-dependent
    dominant-baseline: WeasyPrint and browsers disagree about it)."""
    return centre + size * 0.35


def _node(node: Node, box: Box, taken: set[str]) -> str:
    x0, y0 = box.x - box.width / 2, box.y - box.height / 2
    w, h = box.width, box.height
    classes = ["node", str(node.kind)]
    if node.condition:
        classes.append("cond")
    if taken:
        classes.append("taken" if node.id in taken else "dim")
    text = node.tooltip or "\n".join(p for p in (node.label, node.detail) if p)
    parts = [
        f'<g class="{" ".join(classes)}" data-node="{escape_attr(node.id)}">',
        tooltip(text),
        _shape(node, x0, y0, w, h),
    ]
    parts.extend(_texts(node, x0, y0, w, h))
    parts.append("</g>")
    return "".join(parts)


def _shape(node: Node, x0: float, y0: float, w: float, h: float) -> str:
    if node.kind is NodeKind.decision:
        inset = 14.0
        corners = [
            (x0 + inset, y0),
            (x0 + w - inset, y0),
            (x0 + w, y0 + h / 2),
            (x0 + w - inset, y0 + h),
            (x0 + inset, y0 + h),
            (x0, y0 + h / 2),
        ]
        return f'<polygon class="shape" points="{point_list(corners)}"/>'
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
            f'<rect class="sev sev-{escape_attr(node.severity or "info")}" x="{x0 + 5:.1f}" '
            f'y="{y0 + 8:.1f}" width="3" height="{h - 16:.1f}" rx="1.5"/>'
        )
    return shape


def _texts(node: Node, x0: float, y0: float, w: float, h: float) -> list[str]:
    lines = node_lines(node)
    centred = node.kind not in (NodeKind.inject, NodeKind.decision)
    inset = text_inset(node)
    x = x0 + w / 2 if centred else x0 + inset + (2.0 if node.kind is NodeKind.inject else 0.0)
    anchor = ' text-anchor="middle"' if centred else ""
    sizes = {"label": LABEL_SIZE, "detail": DETAIL_SIZE, "note": DETAIL_SIZE, "clocks": DETAIL_SIZE}
    last_label = max((i for i, (cls, _) in enumerate(lines) if cls == "label"), default=-1)
    if node.kind is NodeKind.message:
        sizes["label"] = 10.0
    if node.kind in (NodeKind.start, NodeKind.end, NodeKind.clock):
        sizes["detail"] = 10.0
    first = y0 + h / 2 - LINE * (len(lines) - 1) / 2
    out: list[str] = []
    for i, (cls, text) in enumerate(lines):
        extra = ""
        if node.default and i == last_label:
            extra = '<tspan class="default"> \u00b7 default</tspan>'
        out.append(
            f'<text class="{cls}" x="{x:.1f}" y="{_baseline(first + i * LINE, sizes[cls]):.1f}"'
            f"{anchor}>{escape_text(text)}{extra}</text>"
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
            f'<text x="{x + width + 8:.1f}" y="{_baseline(y, 11):.1f}">{escape_text(label)}</text>'
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
