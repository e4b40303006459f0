"""Input built to hurt: alias bombs, absurd nesting, huge files, bytes that are not text.
Each must come back as an error finding, quickly, never as an exception.

QUICK_SECONDS guards against hangs and blow-ups (exponential alias expansion, quadratic
scanning of a 2 MiB upload), with room for a busy CI machine; it is not a benchmark.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from app.authoring.loader import MAX_SOURCE_BYTES, load_scenario_file, load_scenario_text
from tests.conftest import SCENARIOS

QUICK_SECONDS = 10.0


def test_alias_bomb_is_refused_quickly(alias_bomb: str) -> None:
    started = time.perf_counter()
    loaded = load_scenario_text(alias_bomb, "bomb.yaml")
    assert time.perf_counter() - started < QUICK_SECONDS
    assert loaded.scenario is None
    (error,) = loaded.errors
    assert "anchors and aliases" in error.message
    assert error.file == "bomb.yaml"


@pytest.mark.parametrize(
    "source",
    [
        "[" * 10_000 + "]" * 10_000,
        "{a: " * 10_000 + "b" + "}" * 10_000,
        "".join(f"{'  ' * i}- \n" for i in range(1_000)),
        "id: x\ninjects:\n" + "".join(f"{'  ' * (i + 1)}k{i}:\n" for i in range(1_000)),
    ],
    ids=["flow-lists", "flow-mappings", "block-lists", "block-mappings"],
)
def test_deep_nesting_is_refused_quickly(source: str) -> None:
    started = time.perf_counter()
    loaded = load_scenario_text(source, "deep.yaml")
    assert time.perf_counter() - started < QUICK_SECONDS
    assert loaded.scenario is None
    (error,) = loaded.errors
    assert "nest" in error.message
    assert error.file == "deep.yaml"


def test_moderate_nesting_names_the_limit_and_the_line() -> None:
    source = "id: x\nnotes:\n" + "".join(f"{'  ' * (i + 1)}- \n" for i in range(100))
    (error,) = load_scenario_text(source, "deep.yaml").errors
    assert "nests deeper than" in error.message
    assert error.line > 60


def test_file_over_two_mib_is_refused_for_its_size(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    filler = "# padding padding padding padding padding padding padding padding\n"
    path.write_text("id: huge\n" + filler * (MAX_SOURCE_BYTES // len(filler) + 10))
    assert path.stat().st_size > MAX_SOURCE_BYTES
    started = time.perf_counter()
    loaded = load_scenario_file(path)
    assert time.perf_counter() - started < QUICK_SECONDS
    assert loaded.scenario is None
    (error,) = loaded.errors
    assert "MiB" in error.message
    assert "at most 2 MiB" in error.message
    assert error.file == str(path)


def test_text_over_two_mib_is_refused_for_its_size() -> None:
    (error,) = load_scenario_text("x" * (MAX_SOURCE_BYTES + 1), "upload.yaml").errors
    assert "at most 2 MiB" in error.message


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("title: Übung\n".encode("latin-1"))
    (error,) = load_scenario_file(path).errors
    assert "UTF-8" in error.message


def test_a_missing_file(tmp_path: Path) -> None:
    (error,) = load_scenario_file(tmp_path / "nope.yaml").errors
    assert "cannot read" in error.message


def test_merge_keys_are_refused_with_their_line() -> None:
    source = "base: &b {a: 1}\nother:\n  <<: *b\n"
    (error,) = load_scenario_text(source, "merge.yaml").errors
    assert "merge keys" in error.message
    assert error.line == 3


MEMORY_BOUND = 64 * 1024 * 1024
"""Peak Python allocation allowed while refusing one hostile file: a server validating an
upload must not be made to balloon. Before the value count ran on libyaml's events, a
2 MiB file of small values took 15-45 s and 150-310 MiB to refuse."""


def _many_variables() -> str:
    """A real scenario with 11,500 more variables: just under the value limit."""
    source = (SCENARIOS / "ransomware-holiday-weekend.yaml").read_text()
    extra = "".join(f"  k{i}: {{default: v}}\n" for i in range(11_500))
    return source.replace("variables:\n", "variables:\n" + extra, 1)


@pytest.mark.parametrize(
    "kind",
    [
        "alias-bomb",
        "deep-flow",
        "deep-block",
        "huge",
        "many-keys",
        "many-injects",
        "many-variables",
        "long-scalar",
    ],
)
def test_hostile_files_are_refused_within_a_memory_bound(kind: str, alias_bomb: str) -> None:
    source = {
        "alias-bomb": alias_bomb,
        "deep-flow": "[" * 50_000 + "]" * 50_000,
        "deep-block": "".join(f"{'  ' * i}- \n" for i in range(700)),
        "huge": "id: x\n" + "# padding\n" * (MAX_SOURCE_BYTES // 10 + 10),
        "many-keys": "id: x\nvariables:\n"
        + "".join(f"  k{i}: {{default: v}}\n" for i in range(MAX_SOURCE_BYTES // 40)),
        "many-injects": "id: x\ninjects:\n"
        + "".join(
            f"  - {{id: i{i}, title: t, body: b, to: [all], at: 0m}}\n"
            for i in range(MAX_SOURCE_BYTES // 60)
        ),
        "many-variables": _many_variables(),
        "long-scalar": "id: x\ntitle: " + "y" * (MAX_SOURCE_BYTES - 20) + "\n",
    }[kind]
    tracemalloc.start()
    try:
        loaded = load_scenario_text(source, f"{kind}.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert loaded.scenario is None and loaded.errors
    assert all(e.line is not None or "MiB" in e.message for e in loaded.errors)
    assert peak < MEMORY_BOUND, f"{kind}: peak {peak / 2**20:.1f} MiB"
    assert len(source.encode()) <= MAX_SOURCE_BYTES or "MiB" in loaded.errors[0].message
