"""`pip install -e .` (the README's run command, without the test extra) must give every
module the app imports: a module only the tests install (httpx once) breaks `tabletop`
itself on a fresh machine."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _imported_modules() -> set[str]:
    """Top-level modules imported anywhere in app/, at module level or inside functions."""
    found: set[str] = set()
    for path in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"app", "__future__"}


def _runtime_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = (re.split(r"[\[<>=!~ ;]", spec, maxsplit=1)[0] for spec in project["dependencies"])
    return {_normalise(name) for name in names}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_module_the_app_imports_comes_with_a_runtime_dependency() -> None:
    runtime = _runtime_distributions()
    providers = packages_distributions()
    # Installed as a runtime dependency's own requirement, and imported for it by name:
    # starlette comes with fastapi, markupsafe with jinja2.
    through = {"starlette": "fastapi", "markupsafe": "jinja2"}
    missing = []
    for module in sorted(_imported_modules()):
        if module in through:
            assert _normalise(through[module]) in runtime
            continue
        dists = {_normalise(d) for d in providers.get(module, [])}
        if not dists & runtime:
            missing.append(f"{module} (from {sorted(dists) or 'nothing installed'})")
    assert not missing, f"imported by app/ but not in [project] dependencies: {missing}"
