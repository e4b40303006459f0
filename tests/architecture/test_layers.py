"""The layers as the README draws them: the engine decides, services commit, db stores,
web, realtime and cli adapt, reports render, loadtest drives it from outside."""

from __future__ import annotations

import ast
import sys

from tests.architecture.imports import APP, cycles, graph, imports, modules


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "app"


# What each layer may import from the others (its own modules always). The adapters sit on
# top; nothing below imports them.
ALLOWED: dict[str, set[str]] = {
    # Notification regimes: data and pure deadline arithmetic, beneath everything.
    "regimes": set(),
    "engine": {"regimes"},
    "resources": set(),
    # Holding the garbage collector back around a large build (the log's read, a report).
    "heap": set(),
    "config": {"resources"},
    "authoring": {"engine", "regimes"},
    "db": {"engine", "resources", "heap"},
    "reports": {"engine", "authoring", "resources", "heap"},
    "services": {"engine", "authoring", "db", "reports", "config", "regimes"},
    "realtime": {"engine", "authoring", "services"},
    "web": {
        "engine", "authoring", "db", "reports", "services", "realtime", "config", "resources"
    },
    "loadtest": {
        "engine", "authoring", "db", "reports", "services", "realtime", "web", "resources"
    },
    "cli": {
        "engine", "authoring", "db", "reports", "services", "realtime", "web", "loadtest",
        "config", "resources", "regimes",
    },
}  # fmt: skip


def test_every_module_belongs_to_a_layer_with_rules() -> None:
    unknown = sorted({layer(m) for m in modules()} - set(ALLOWED) - {"app"})
    assert unknown == [], f"add these layers to ALLOWED with their rules: {unknown}"


def test_no_import_cycle_in_app_counting_imports_inside_functions() -> None:
    assert cycles(graph()) == []


def test_each_layer_imports_only_the_layers_beneath_it() -> None:
    breaches = [
        f"{imp.module}:{imp.line} imports {imp.target}"
        for imp in imports()
        if imp.target.startswith("app.")
        and layer(imp.target) != layer(imp.module)
        and layer(imp.target) not in ALLOWED.get(layer(imp.module), set())
    ]
    assert breaches == []


def test_the_engine_imports_only_itself_the_standard_library_and_pydantic() -> None:
    """And the regimes beneath it: data and the pure arithmetic of their deadlines."""
    outside = [
        f"{imp.module}:{imp.line} imports {imp.target}"
        for imp in imports()
        if layer(imp.module) == "engine"
        and not imp.target.startswith(("app.engine", "app.regimes"))
        and imp.target.split(".")[0] not in {*sys.stdlib_module_names, "pydantic", "__future__"}
    ]
    assert outside == []


# Transactions that are not a service's, each with why.
OWN_TRANSACTIONS = {
    "app/db/migrate.py": "schema migrations run in alembic's own transaction",
    "app/loadtest/bench/restart.py": "the bench creates and drops its scratch databases",
    "app/loadtest/bench/reports.py": "the bench clears stored scorecards to time scoring",
}


def test_only_services_commit() -> None:
    """A commit (or a transaction block that commits as it closes) outside app/services
    would be a second place that decides what is stored."""
    found = []
    for path in sorted(APP.rglob("*.py")):
        where = str(path.relative_to(APP.parent))
        if where.startswith("app/services/") or where in OWN_TRANSACTIONS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"commit", "begin"}
            ):
                found.append(f"{where}:{node.lineno} calls .{node.func.attr}()")
    assert found == []


def test_the_checks_see_real_modules() -> None:
    """The walks above read the real tree: a broken path would make them pass vacuously."""
    names = set(modules())
    assert {"app.engine.core", "app.services.drills", "app.web.main", "app.cli.main"} <= names
    assert any(imp.target == "app.services.drills" for imp in imports())
