"""Where Tabletop's own files are: templates, static files, migrations and the shipped
scenario library.

In a source checkout (and an editable install) they are the top-level folders beside
app/. A wheel carries copies inside the package, under app/_data/ (pyproject.toml maps the
folders there), so `pip install .` and `pipx install .` run from any folder.
"""

from __future__ import annotations

from pathlib import Path

PACKAGED = Path(__file__).resolve().parent / "_data"
SOURCE = Path(__file__).resolve().parents[1]


def resource_dir(name: str) -> Path:
    """The folder `name` (templates, static, alembic, scenarios) of this installation."""
    for base in (PACKAGED, SOURCE):
        candidate = base / name
        if candidate.is_dir():
            return candidate
    raise RuntimeError(
        f"Tabletop's {name}/ folder is missing from this installation (looked in {PACKAGED} "
        f"and {SOURCE}): reinstall Tabletop"
    )
