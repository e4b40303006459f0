"""Drills with known answers for the report tests, scripted through the engine.

`scripted()` is a small ransomware night with people in it (backups, notes, a late
message, a wrong-party message, an adjustment, hot-wash answers); `dry_run(file)` plays a
shipped scenario headless, for long timelines and page breaks.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from app.authoring.loader import load_scenario_file
from app.engine import commands as c
from app.engine.filled import filled_scenario
from app.engine.simulate import Communication, play
from app.reports.build import DrillMeta, Inputs
from app.reports.model import (
    Element,
    ImprovementItem,
    ItemStatus,
    ObjectiveReview,
    Rating,
    Review,
)
from tests.engine.harness import MINUTE, Drill, as_participant
from tests.engine.scenarios import ransomware

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
NOW = 1_800_100_000.0


def scripted_drill() -> Drill:
    """Known answers, in scenario time:

    - 3m: the incident manager (Irene Adler) isolates FS01: contain +5 of 5.
    - 30m: ransom note; 35m: Irene refuses on `vote`; communications (Carl) never answers.
    - 40m: legal (Lena) goes on a plane; the executive (Eve) stands in; `disclose`
      times out at 1h10m to `wait`: comms 0 of 5, credited to the executive.
    - 1h10m: Irene tells the executive, 10m past the 1h deadline: 6.67 of 10.
    - 1h10m: Carl sends the press line to the press.
    - The facilitator adjusts comms by -2; an observer notes a delay; the drill ends;
      Irene (4) and Carl (2) fill in the hot wash.
    """
    d = Drill(ransomware()).create(speed=1)
    d.join("im", "incident_manager", "Irene Adler").join("co", "communications", "Carl Jones")
    d.join("le", "legal", "Lena Park").join("ex", "executive", "Eve Moneypenny")
    d.join("ob", None, "Oscar Observer").start()
    d.at_scenario(3 * MINUTE)
    d.run(c.Answer("isolate", "now", rationale="FS01 is patient zero"), as_participant("im"))
    d.at_scenario(35 * MINUTE)
    d.run(c.Answer("vote", "refuse"), as_participant("im"))
    d.run(c.AddNote("Nobody asked legal about the ransom", "comms"), as_participant("ob"))
    d.at_scenario(70 * MINUTE)
    d.run(c.SendMessage(["executive"], "We have ransomware on FS01."), as_participant("im"))
    d.run(
        c.SendMessage(["press"], "We are investigating an incident.", statement_id="press-line"),
        as_participant("co"),
    )
    d.run(c.AdjustScore("comms", -2, "press line went out before legal saw it"))
    d.run(c.EndDrill("time for the hot wash"))
    d.run(c.GiveFeedback("Fast isolation", "Tell legal sooner", 4), as_participant("im"))
    d.run(c.GiveFeedback("The holding line", "Know who approves", 2), as_participant("co"))
    return d


def items(drill_id: str = "d1") -> list[ImprovementItem]:
    return [
        ImprovementItem(
            id="item-1",
            drill_id=drill_id,
            scenario_id="engine-test",
            objective_id="comms",
            capability="Operational communications",
            issue="Legal heard about the ransom demand late",
            corrective_action="Add legal to the first-hour call tree",
            element=Element.planning,
            responsible="Security operations",
            contact="Irene Adler",
            start=date(2027, 1, 4),
            due=date(2027, 2, 1),
            status=ItemStatus.open,
        )
    ]


def review() -> Review:
    return Review(
        objectives={"contain": ObjectiveReview(rating=Rating.S, strengths=["Quick isolation."])},
        summary="The team contained quickly but told legal late.",
        updated_by="rita",
    )


def scripted_inputs() -> Inputs:
    d = scripted_drill()
    return Inputs(
        d.scenario, d.events, DrillMeta(facilitator="fac"), review(), items(), earlier_open_items=[]
    )


def dry_run_inputs(file: str = "ransomware-holiday-weekend.yaml") -> Inputs:
    loaded = load_scenario_file(SCENARIOS / file)
    assert loaded.scenario is not None
    result = play(loaded.scenario, communication=Communication.diligent)
    # As the review service hands it to the report: the drill's variables filled in.
    shown = filled_scenario(loaded.scenario, result.state.variables)
    return Inputs(shown, result.events, DrillMeta(facilitator="dry-run"))
