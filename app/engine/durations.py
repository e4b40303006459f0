"""Durations as scenario authors write them: ``15m``, ``1h30m``, ``72h``, ``2d``, ``45s``."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

DURATION_PATTERN = r"^\s*(?:\d+\s*[dhms]\s*)+$|^\s*0\s*$"
_PART = re.compile(r"(\d+)\s*([dhms])")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: Any) -> float:
    """Turn ``"1h30m"`` into 5400.0 seconds; a bare ``0`` means no delay."""
    if isinstance(value, bool):
        raise ValueError(_duration_hint(value))
    if isinstance(value, int | float) and value == 0:
        return 0.0
    if isinstance(value, int | float):
        raise ValueError(
            f"{value!r} has no unit: write a duration such as '{int(value)}m' or '{int(value)}h'"
        )
    if not isinstance(value, str) or not re.match(DURATION_PATTERN, value):
        raise ValueError(_duration_hint(value))
    if value.strip() == "0":
        return 0.0
    return float(sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(value)))


def _duration_hint(value: object) -> str:
    return (
        f"{value!r} is not a duration: write a number with a unit, d, h, m or s, "
        "such as '15m', '1h30m', '72h' or '2d'"
    )


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration, for timelines: 5400 -> '1h30m', 0 -> '0m'."""
    total = round(seconds)
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if v]
    return sign + ("".join(parts) or "0m")


def format_clock(seconds: float) -> str:
    """Scenario offset as T+HH:MM (hours may exceed 24), the way drill timelines read."""
    total = round(seconds)
    sign = "-" if total < 0 else "+"
    hours, rest = divmod(abs(total), 3600)
    return f"T{sign}{hours:02d}:{rest // 60:02d}"


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN, "examples": ["15m", "1h30m"]},
                {"const": 0},
            ],
            "description": "A duration: digits with units d, h, m, s, e.g. 15m, 1h30m, 72h, 2d.",
        }
    ),
]
