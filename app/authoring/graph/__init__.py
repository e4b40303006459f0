"""A scenario's branch graph: what follows what, drawn as one standalone SVG.

`model` turns a scenario into nodes and edges (`branch_graph`) and a drill's log into the
path it took (`taken_path`); `layout` places them left to right; `svg` draws them
(`render_svg`). The names other modules use are re-exported here.
"""

from app.authoring.graph.model import (
    EdgeKind,
    branch_graph,
    describe_condition,
    taken_path,
)
from app.authoring.graph.svg import render_svg

__all__ = [
    "EdgeKind",
    "branch_graph",
    "describe_condition",
    "render_svg",
    "taken_path",
]
