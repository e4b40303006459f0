"""A prompt as a one-line title: what the report, the console, the phone and the branch
graph call a decision."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.engine.headlines import ELLIPSIS, headline
from app.engine.scenario import DECISION_TITLE_WIDTH

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_a_prompt_wrapped_mid_sentence_is_not_cut_where_the_file_wrapped_it() -> None:
    prompt = (
        "You are acting incident manager; {{im_name}} cannot be reached. Encryption is\n"
        "running on two Hamburg file servers, pushed from the Amsterdam jump host with a\n"
        "domain admin account.\nWhat do you do now?\n"
    )
    assert headline(prompt) == "You are acting incident manager; {{im_name}} cannot be reached."


def test_a_question_on_a_line_of_its_own_is_the_title() -> None:
    assert headline("Isolate FS01?\nIt holds the customer share.") == "Isolate FS01?"


def test_wrapped_lines_of_one_sentence_are_joined() -> None:
    prompt = "Do you send the early warning now,\nor wait for the forensic scope?\n\nMore."
    assert headline(prompt) == "Do you send the early warning now, or wait for the forensic scope?"


def test_a_long_sentence_is_cut_after_a_word_and_says_so() -> None:
    prompt = "KRAKEN demands 62 BTC (about USD 4.1M), 30% off within 48 hours, and threatens\n"
    prompt += "to publish 412 GB including staff files unless paid by Sunday noon.\n"
    title = headline(prompt, 90)
    assert len(title) <= 90
    assert title.endswith("publish" + ELLIPSIS)


def test_an_abbreviation_or_a_bracket_does_not_end_the_sentence() -> None:
    prompt = (
        "Sign off the customer notice for your area (legal: content; DPO: Art.\n"
        "34 content). Then send it."
    )
    assert headline(prompt, 90) == (
        "Sign off the customer notice for your area (legal: content; DPO: Art. 34 content)."
    )


def test_markdown_marks_go_but_underscores_inside_words_stay() -> None:
    prompt = "**Isolate** the _host_ now; `svc_backup` and [krbtgt](https://example.org) too."
    assert headline(prompt) == "Isolate the host now; svc_backup and krbtgt too."


@pytest.mark.parametrize(
    ("prompt", "title"),
    [("# Contain\nWhat now?", "Contain"), ("- first\n- second", "first"), ("  \n", "")],
)
def test_headings_and_lists_are_paragraphs_of_their_own(prompt: str, title: str) -> None:
    assert headline(prompt) == title


def test_one_very_long_word_is_cut_inside_it() -> None:
    assert headline("x" * 200, 50) == "x" * 49 + ELLIPSIS


def _shipped_decisions() -> list[dict[str, str]]:
    files = sorted(SCENARIOS.glob("*.yaml")) + sorted(SCENARIOS.glob("*/scenario.yaml"))
    return [
        decision
        for path in files
        for decision in yaml.safe_load(path.read_text(encoding="utf-8")).get("decisions", [])
    ]


def test_no_shipped_prompt_would_be_titled_with_half_a_sentence() -> None:
    """A scenario written without titles still reads: every shipped prompt's own title
    ends a sentence or says it was cut."""
    titles = [headline(d["prompt"], DECISION_TITLE_WIDTH) for d in _shipped_decisions()]
    assert len(titles) > 40
    unfinished = [t for t in titles if not t.endswith((".", "?", "!", ELLIPSIS, '."', '?"'))]
    assert unfinished == []


def test_every_shipped_decision_says_what_is_decided_in_a_question() -> None:
    """A prompt's first sentence is often context ("You are acting incident manager; ...
    cannot be reached."): the shipped scenarios name each decision by what is decided."""
    untitled = [d["id"] for d in _shipped_decisions() if "title" not in d]
    assert untitled == []
    not_questions = [d["title"] for d in _shipped_decisions() if not d["title"].endswith("?")]
    assert not_questions == []
