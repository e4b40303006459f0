"""Hypothesis-made YAML and mutated shipped scenarios: the loader never raises, and every
error it reports names a line inside the text (and the stored-scenario parser agrees)."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.authoring.loader import Loaded, load_scenario_text, parse_stored_scenario

SHIPPED = {p.name: p.read_text() for p in (Path(__file__).parents[2] / "scenarios").glob("*.yaml")}
SMALL = (Path(__file__).parents[1] / "fixtures" / "mini.yaml").read_text()
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_clean_findings(loaded: Loaded, text: str) -> None:
    # YAML breaks lines at \r, NEL and the Unicode separators too, as editors do.
    lines = len(text.splitlines()) + 1
    if loaded.ok:
        assert loaded.scenario is not None
        return
    assert loaded.errors, "not ok, yet no error says why"
    for finding in loaded.errors:
        assert 1 <= finding.line <= lines, finding.render()
        assert finding.column >= 1 and finding.message, finding.render()
    assert parse_stored_scenario(text) is None or loaded.scenario is not None


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A shipped scenario (or the small fixture) with a few line-level edits."""
    text = draw(st.sampled_from([SMALL, *SHIPPED.values()]))
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["drop", "copy", "indent", "dedent", "replace", "cut"]))
        if edit == "drop":
            del lines[at]
        elif edit == "copy":
            lines.insert(at, lines[at])
        elif edit == "indent":
            lines[at] = "  " + lines[at]
        elif edit == "dedent":
            lines[at] = lines[at].lstrip()
        elif edit == "replace":
            lines[at] = draw(st.text(st.characters(codec="utf-8"), max_size=40))
        else:
            lines = lines[: at + 1]
        if not lines:
            lines = [""]
    return "\n".join(lines)


yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=15), st.floats(allow_nan=False)
)
yaml_docs = st.recursive(
    yaml_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["id", "title", "roles", "injects", "decisions", "to", "at", "opens", "clock", "x"]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@FUZZ
@given(text=mutated())
def test_a_mutated_scenario_gives_only_findings_with_lines(text: str) -> None:
    _assert_clean_findings(load_scenario_text(text, "mutated.yaml"), text)


@FUZZ
@given(document=yaml_docs)
def test_any_yaml_document_gives_only_findings_with_lines(document: object) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    _assert_clean_findings(load_scenario_text(text, "made.yaml"), text)


@FUZZ
@given(text=st.text(max_size=300))
def test_any_text_at_all_gives_only_findings_with_lines(text: str) -> None:
    _assert_clean_findings(load_scenario_text(text, "any.yaml"), text)
