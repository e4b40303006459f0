"""A scenario's `regimes:` checked like the rest of the file: every binding resolves, at
its line, with a sentence that says how to fix it; warnings where a duty can never start
or never be filed."""

from __future__ import annotations

import pytest
import yaml

from app.authoring.loader import load_scenario_text
from tests.engine.test_regulatory import PAYMENTS


def _findings(regimes: list[dict[str, object]]) -> tuple[list[str], list[str]]:
    data = yaml.safe_load(PAYMENTS)
    data["regimes"] = regimes
    loaded = load_scenario_text(yaml.safe_dump(data, sort_keys=False), "case.yaml")
    rendered = [f.render() for f in loaded.findings]
    errors = [f.render() for f in loaded.errors]
    return errors, [r for r in rendered if r not in errors]


def test_the_payments_scenario_binds_dora_and_nis2_cleanly() -> None:
    loaded = load_scenario_text(PAYMENTS, "payments.yaml")
    assert loaded.errors == [] and loaded.warnings == []


@pytest.mark.parametrize(
    ("binding", "finding"),
    [
        (
            {"regime": "ccpa", "starts": {"aware": {"inject": "outage"}}},
            "there is no regime 'ccpa'; the regimes are: cra, dora, gdpr, hipaa, nis2, nydfs, "
            "ohio_breach, "
            "sec_8k (at regimes[0].regime)",
        ),
        (
            {"regime": "gdpr", "starts": {"noticed": {"inject": "outage"}}, "authority": "bafin"},
            "GDPR has no event 'noticed'; its events are: aware (at regimes[0].starts.noticed)",
        ),
        (
            {"regime": "gdpr", "starts": {"aware": {"inject": "nope"}}, "authority": "bafin"},
            "there is no inject 'nope'",
        ),
        (
            {"regime": "gdpr", "starts": {"aware": {"option": "classify.maybe"}}},
            "decision 'classify' has no option 'maybe'; its options are: major, minor",
        ),
        (
            {"regime": "gdpr", "starts": {"aware": {"inject": "outage"}}, "authority": "dpa"},
            "'dpa' is not a party; add it under `parties:` or use one of: bafin, csirt",
        ),
        (
            {"regime": "gdpr", "starts": {"aware": {"inject": "outage"}}, "jurisdiction": "XX"},
            "'XX': no public-holiday calendar for country 'XX' (at regimes[0].jurisdiction)",
        ),
    ],
)
def test_a_broken_binding_is_an_error_that_says_what_to_fix(
    binding: dict[str, object], finding: str
) -> None:
    errors, _ = _findings([binding])
    assert any(finding in e for e in errors), errors


def test_an_unbound_event_or_recipient_or_threshold_is_a_warning() -> None:
    errors, warnings = _findings(
        [
            {"regime": "dora", "starts": {"aware": {"inject": "outage"}}, "authority": "bafin"},
            {"regime": "hipaa", "starts": {"discovered": {"inject": "outage"}}},
        ]
    )
    assert errors == []
    joined = "\n".join(warnings)
    assert (
        "DORA's event 'classified_major' (the incident is classified as major) is not bound"
        in joined
    )
    assert (
        "HIPAA's duty 'individuals' is owed to each individual whose information was "
        "breached; name the party that stands for them (`people: PARTY`)" in joined
    )
    assert "HIPAA's duty 'hhs' applies only if people_affected >= 500; give the figure" in joined


def test_a_finding_points_at_its_line() -> None:
    errors, _ = _findings([{"regime": "gdpr", "starts": {"noticed": {"inject": "outage"}}}])
    (error,) = [e for e in errors if "no event 'noticed'" in e]
    line = int(error.split(":")[1])
    text = yaml.safe_dump(
        {
            **yaml.safe_load(PAYMENTS),
            "regimes": [{"regime": "gdpr", "starts": {"noticed": {"inject": "outage"}}}],
        },
        sort_keys=False,
    )
    assert "noticed" in text.splitlines()[line - 1]
