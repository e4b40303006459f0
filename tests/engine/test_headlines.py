"""A prompt as a one-line title: what the report, the console, the phone and the branch
graph call a decision."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.engine.headlines import ELLIPSIS, headline

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


def test_no_shipped_decision_is_titled_with_half_a_sentence() -> None:
    """Every shipped prompt's title ends a sentence or says it was cut."""
    titles = [
        headline(decision["prompt"], 90)
        for path in sorted(SCENARIOS.glob("*.yaml"))
        for decision in yaml.safe_load(path.read_text(encoding="utf-8")).get("decisions", [])
    ]
    assert len(titles) > 20
    unfinished = [t for t in titles if not t.endswith((".", "?", "!", ELLIPSIS, '."', '?"'))]
    assert unfinished == []
