"""The regimes shipped with Tabletop (data/*.yaml), loaded once and checked against the
format; a broken file names itself and what is wrong."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from app.regimes.model import Regime

DATA = Path(__file__).parent / "data"


class RegimeError(ValueError):
    """A regime file that does not load, or a name that is not a shipped regime."""


def load_regime(path: Path) -> Regime:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Regime.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise RegimeError(f"{path.name}: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        raise RegimeError(f"{path.name}: {where}: {first['msg']}") from exc


@cache
def regimes() -> dict[str, Regime]:
    """Every shipped regime by id, in the order of their names."""
    loaded = [load_regime(path) for path in sorted(DATA.glob("*.yaml"))]
    for regime, path in zip(loaded, sorted(DATA.glob("*.yaml")), strict=True):
        if path.stem != regime.id:
            raise RegimeError(f"{path.name}: its id is {regime.id!r}; name it {regime.id}.yaml")
    return {r.id: r for r in sorted(loaded, key=lambda r: r.name.lower())}


def regime(regime_id: str) -> Regime:
    found = regimes().get(regime_id.strip().lower())
    if found is None:
        raise RegimeError(
            f"there is no regime {regime_id!r}; the regimes are: {', '.join(regimes())}"
        )
    return found
