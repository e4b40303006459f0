"""A decision's title: what the phone, the console, the timeline, the scores, the report
and the branch graph call it. Written in the scenario, or taken from the prompt, it is the
same words everywhere."""

from __future__ import annotations

from app.authoring.graph.model import branch_graph, decision_node
from app.authoring.loader import load_scenario_text
from app.engine import commands as c
from app.engine.events import EventType
from app.engine.filled import filled_scenario
from app.engine.scenario import DECISION_TITLE_WIDTH
from app.engine.scoring import scorecard
from app.engine.timeline import timeline
from app.web.console_view import facilitator_context
from tests.engine.harness import MINUTE, Drill, as_participant, load

LONG_SENTENCE = (
    "Encryption is running on two Hamburg file servers, pushed from the Amsterdam jump "
    "host with a domain admin account that {{im_name}} set up years ago for the backups."
)

SCENARIO = f"""\
id: titles
title: Titles
summary: Two decisions, one titled by its author, one by its prompt.
duration: 1h
clock:
  start: 2026-01-01T00:00:00
variables:
  im_name: {{default: Joost Bakker}}
roles:
  incident_manager: {{}}
objectives:
  o1: {{title: Contain, phase: containment}}
injects:
  - id: a
    title: A
    body: First.
    to: [all]
    at: 0m
    opens: written
  - id: b
    title: B
    body: Second.
    to: [all]
    at: 5m
    opens: derived
decisions:
  - id: written
    title: Pay {{{{im_name}}}}'s ransom?
    prompt: |
      You are acting incident manager; {{{{im_name}}}} cannot be reached. The attacker
      wants 62 BTC. What is the company's position?
    to: [incident_manager]
    time_limit: 10m
    default: "no"
    options:
      - {{id: "yes", label: Pay, score: {{o1: 0}}}}
      - {{id: "no", label: Refuse, score: {{o1: 5}}}}
  - id: derived
    prompt: |
      {LONG_SENTENCE}
      What do you do now?
    to: [incident_manager]
    time_limit: 10m
    default: wait
    options:
      - {{id: isolate, label: Isolate, score: {{o1: 5}}}}
      - {{id: wait, label: Wait, score: {{o1: 0}}}}
"""

WRITTEN = "Pay Joost Bakker's ransom?"


def _played() -> Drill:
    drill = Drill(load(SCENARIO)).create(speed=1.0)
    drill.join("p1", "incident_manager")
    drill.start()
    drill.advance(2 * MINUTE)
    drill.run(c.Answer("written", "no"), as_participant("p1"))
    drill.advance(5 * MINUTE)
    drill.run(c.Answer("derived", "isolate"), as_participant("p1"))
    return drill


def _opened_titles(drill: Drill) -> dict[str, str]:
    return {
        e.data["decision_id"]: e.data["title"]
        for e in drill.events
        if e.type is EventType.decision_opened
    }


def test_a_written_title_names_the_decision_with_the_drills_values() -> None:
    drill = _played()
    assert _opened_titles(drill)["written"] == WRITTEN
    card = scorecard(drill.scenario, drill.events)
    decision = next(d for d in card.decisions if d.decision_id == "written")
    assert decision.title == WRITTEN
    assert {i.title for i in card.items if i.ref == "written"} == {WRITTEN}


def test_without_one_the_prompts_first_sentence_is_the_title_cut_at_one_width() -> None:
    title = _opened_titles(_played())["derived"]
    assert title.startswith("Encryption is running on two Hamburg file servers")
    assert title.endswith("\u2026")
    assert len(title) <= DECISION_TITLE_WIDTH


def test_the_phone_the_timeline_the_scores_the_console_and_the_graph_agree() -> None:
    """One width everywhere: the phone's closed decision and the report's table once read
    one sentence and two of the same prompt."""
    drill = _played()
    shown = filled_scenario(drill.scenario, drill.state.variables)
    card = scorecard(drill.scenario, drill.events)
    console = facilitator_context(drill.scenario, drill.state)["decisions"]
    graph = branch_graph(filled_scenario(drill.scenario, drill.state.variables))
    put_to = [line.text for line in timeline(shown, drill.events) if line.kind == "decision_opened"]
    for decision_id, title in _opened_titles(drill).items():
        assert next(d.title for d in card.decisions if d.decision_id == decision_id) == title
        assert console[decision_id]["prompt"] == title
        assert graph.nodes[decision_node(decision_id)].label == title
        assert any(text.startswith(f"Decision {title!r} put to") for text in put_to)


def test_a_title_with_an_unknown_variable_is_an_error_where_it_is_written() -> None:
    text = SCENARIO.replace("title: Pay {{im_name}}'s", "title: Pay {{ceo_name}}'s")
    findings = load_scenario_text(text, "titles.yaml").findings
    assert [(f.path, f.message) for f in findings if "ceo_name" in f.message] == [
        (
            "decisions[0].title",
            "{{ceo_name}} is not a declared variable: add it under `variables:` with a "
            "default, or fix the spelling",
        )
    ]


def test_a_title_longer_than_the_width_is_refused_with_the_limit() -> None:
    text = SCENARIO.replace("title: Pay {{im_name}}'s ransom?", "title: " + "Pay " * 30)
    loaded = load_scenario_text(text, "titles.yaml")
    assert loaded.scenario is None
    messages = [f.message for f in loaded.findings]
    assert any(str(DECISION_TITLE_WIDTH) in m for m in messages), messages
