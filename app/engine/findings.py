"""What the validator reports: a problem at a path inside the scenario document."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

Loc = tuple[str | int, ...]


class Level(StrEnum):
    error = "error"
    warning = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    loc: Loc
    message: str
    file: str = "<scenario>"
    line: int = 1
    column: int = 1

    @property
    def path(self) -> str:
        return format_loc(self.loc)

    def render(self) -> str:
        where = f" (at {self.path})" if self.loc else ""
        return f"{self.file}:{self.line}:{self.column}: {self.level}: {self.message}{where}"

    def as_dict(self) -> dict[str, object]:
        return {
            "level": str(self.level),
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


def error(loc: Loc, message: str) -> Finding:
    return Finding(Level.error, loc, message)


def warning(loc: Loc, message: str) -> Finding:
    return Finding(Level.warning, loc, message)


def format_loc(loc: Loc) -> str:
    """('injects', 3, 'to', 0) -> 'injects[3].to[0]'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
