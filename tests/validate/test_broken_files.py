"""Every file under broken/ is loaded; the loader must report its mistake at its place.

The first line of each file says what is expected:

    # expect: LINE:COLUMN message fragment     (or LINE message fragment)
    # expect: ok                               (a valid file: no errors)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.authoring.loader import load_scenario_file
from app.engine.findings import Finding, Level

BROKEN = Path(__file__).parent / "broken"
"""Deliberately broken scenarios, one mistake each (and a few valid files that must stay so)."""

EXPECT = re.compile(
    r"^# expect: (?:(?P<ok>ok)\b.*|(?P<line>\d+)(?::(?P<column>\d+))? (?P<fragment>\S.*))$"
)


@dataclass(frozen=True, slots=True)
class Expected:
    ok: bool
    line: int | None = None
    column: int | None = None
    fragment: str = ""


def expected_of(path: Path) -> Expected:
    first = path.read_text(encoding="utf-8").partition("\n")[0]
    match = EXPECT.match(first)
    assert match, f"{path.name}: line 1 must be '# expect: LINE[:COL] fragment' or 'ok'"
    if match["ok"]:
        return Expected(ok=True)
    column = int(match["column"]) if match["column"] else None
    return Expected(False, int(match["line"]), column, match["fragment"].strip())


def rendered(findings: list[Finding]) -> str:
    return "\n".join(f.render() for f in findings) or "(no findings)"


CASES = sorted(BROKEN.glob("*.yaml"))


def test_there_are_broken_files() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_loader_reports_the_mistake_at_its_place(path: Path) -> None:
    expected = expected_of(path)
    loaded = load_scenario_file(path)
    assert all(f.file == str(path) for f in loaded.findings)
    if expected.ok:
        assert loaded.ok, rendered(loaded.findings)
        return
    assert not loaded.ok
    errors = loaded.errors
    saying = [f for f in errors if expected.fragment in f.message]
    assert saying, f"no error says {expected.fragment!r}:\n{rendered(errors)}"
    where = [(f.line, f.column if expected.column is not None else None) for f in saying]
    assert (expected.line, expected.column) in where, (
        f"the error is reported at the wrong place, expected line {expected.line}"
        f"{'' if expected.column is None else f' column {expected.column}'}:\n"
        f"{rendered(saying)}"
    )


def test_yes_and_no_stay_option_ids() -> None:
    loaded = load_scenario_file(BROKEN / "valid-yes-no-option-ids.yaml")
    assert loaded.scenario is not None, rendered(loaded.findings)
    decision = loaded.scenario.decisions[0]
    assert [o.id for o in decision.options] == ["yes", "no"]
    assert decision.default == "no"


def test_rendered_finding_names_file_line_column_and_path() -> None:
    path = BROKEN / "unknown-inject-in-after.yaml"
    (finding,) = load_scenario_file(path).errors
    assert finding.level is Level.error
    assert finding.path == "injects[1].after.inject"
    assert finding.render() == (
        f"{path}:27:13: error: there is no inject 'ransom-notee'; check the id under "
        "`injects:` (at injects[1].after.inject)"
    )


def test_an_unreachable_inject_is_not_blamed_on_a_when_it_does_not_have() -> None:
    """`leak` has no `when`: it never arrives because every option suppresses it."""
    loaded = load_scenario_file(BROKEN / "unreachable-suppressed.yaml")
    assert loaded.scenario is not None
    assert loaded.scenario.inject("leak").when is None
    (finding,) = [f for f in loaded.errors if "'leak'" in f.message]
    assert "`when`" not in finding.message, finding.render()
