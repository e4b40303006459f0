"""Fixtures for the loader and validator tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def alias_bomb() -> str:
    """Billion laughs: nine levels of ten aliases each expand to 10**9 strings."""
    lines = ['lol0: &lol0 "lol"']
    for level in range(1, 10):
        refs = ", ".join([f"*lol{level - 1}"] * 10)
        lines.append(f"lol{level}: &lol{level} [{refs}]")
    return "\n".join(lines) + "\n"
