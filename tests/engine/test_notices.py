"""Notice forms: the roles a scenario names draft a duty's form together, the sign-off role
approves it as it stands, and filing it is the message to the duty's party. A filed form
scores its duty's points times the share of its required fields that are complete and
consistent with what the team knew when it filed; the facilitator may rate a field."""

from __future__ import annotations

import pytest

from app.engine import commands as c
from app.engine.errors import Code, DomainError
from app.engine.events import EventType
from app.engine.notices import FieldStatus, figure_in, notice_text
from app.engine.regulatory import regimes_in_play
from app.engine.scoring import Dimension, ScoreItem, scorecard
from app.regimes.clocks import ClockState
from app.regimes.library import regime as shipped_regime

from .harness import MINUTE, Drill, as_participant, load

BREACH = """\
id: shop-breach
title: Shop breach
summary: Customer data leaves a web shop; the GDPR's clock starts when it is confirmed.
duration: 1h
clock:
  start: 2026-11-27T21:00:00
  timezone: Europe/Dublin
  speed: 60
  end: 10d
roles:
  legal: {}
  dpo: {}
  executive: {}
  soc_analyst: {}
parties:
  dpc: {name: Data Protection Commission, kind: regulator}
  customers: {name: Customers, kind: customers}
  garda: {name: An Garda Siochana, kind: law_enforcement}
objectives:
  regulator: {title: Notify the regulator, phase: post_incident}
facts:
  scope: 48,000 customers' names, addresses and order histories were taken
injects:
  - id: exfil
    title: Data left the network
    body: A 3 GB archive went to an unknown host.
    to: [all]
    at: 0m
  - id: scoping
    title: Scoping done
    body: It is 48,000 customers' personal data.
    to: [dpo, legal]
    at: 2h
    facts: [scope]
  - id: wrap-up
    title: A week on
    body: The drill ends here.
    to: [all]
    at: 9d
    ends_drill: true
regimes:
  - regime: gdpr
    starts:
      aware: {inject: exfil}
    authority: dpc
    people: customers
    confused_with: [garda]
    undue_delay: 48h
    facts:
      people_affected: {value: 48000, revealed_by: scope}
      records_affected: {value: 48000, revealed_by: scope}
    roles: [legal, dpo]
    sign_off: executive
    score:
      supervisory_authority: {points: 20, objective: regulator}
"""

GDPR = shipped_regime("gdpr")
AUTHORITY = GDPR.duty("supervisory_authority")
TEXT = {
    "nature": "Exfiltration of the customer database by an intruder",
    "categories_of_people": "Customers of the web shop",
    "categories_of_records": "Names, addresses, order histories",
    "dpo_contact": "dpo@shop.example, +353 1 555 0100",
    "consequences": "Phishing and fraud aimed at the customers",
    "measures": "Access removed, passwords reset, customers told",
}


def _drill() -> Drill:
    drill = Drill(load(BREACH)).create()
    drill.join("legal", "legal").join("dpo", "dpo").join("exec", "executive")
    drill.join("soc", "soc_analyst")
    drill.start()
    drill.tick()
    return drill


def _draft(drill: Drill, who: str, fields: dict[str, str], follow_up: bool | None = None) -> None:
    drill.run(
        c.DraftNotice("gdpr", "supervisory_authority", fields, follow_up), as_participant(who)
    )


def _sign_and_file(drill: Drill) -> None:
    drill.run(c.SignOffNotice("gdpr", "supervisory_authority"), as_participant("exec"))
    drill.run(c.FileNotice("gdpr", "supervisory_authority"), as_participant("legal"))


def _item(drill: Drill) -> ScoreItem:
    card = scorecard(drill.scenario, drill.events, drill.scenario_time())
    (item,) = [i for i in card.items if i.ref == "gdpr.supervisory_authority"]
    assert item.dimension is Dimension.regulatory
    return item


def _checks(drill: Drill) -> dict[str, tuple[FieldStatus, str]]:
    (gdpr,) = regimes_in_play(drill.scenario, drill.events, drill.scenario_time())
    done = gdpr.completeness["supervisory_authority"]
    return {check.field.id: (check.status, check.detail) for check in done.checks}


def test_roles_draft_together_and_the_log_says_who_wrote_each_field() -> None:
    drill = _drill()
    _draft(drill, "legal", {"nature": TEXT["nature"], "measures": TEXT["measures"]})
    _draft(drill, "dpo", {"dpo_contact": TEXT["dpo_contact"], "measures": "Access removed"})
    notice = drill.state.notices["gdpr.supervisory_authority"]
    assert notice.fields == {
        "nature": TEXT["nature"],
        "measures": "Access removed",
        "dpo_contact": TEXT["dpo_contact"],
    }
    assert notice.edited_by == {"nature": "legal", "measures": "dpo", "dpo_contact": "dpo"}
    edits = [e.data for e in drill.of(EventType.notice_drafted)]
    assert [(e["role"], sorted(e["fields"])) for e in edits] == [
        ("legal", ["measures", "nature"]),
        ("dpo", ["dpo_contact", "measures"]),  # only what changed is logged
    ]
    assert edits[0]["roles"] == ["legal", "dpo", "executive"]  # who sees the drafts
    assert replayed_notices(drill) == drill.state.notices


def replayed_notices(drill: Drill) -> object:
    return drill.replayed().notices


def test_a_role_the_scenario_does_not_name_cannot_draft() -> None:
    drill = _drill()
    code = drill.refuse(
        c.DraftNotice("gdpr", "supervisory_authority", {"nature": "x"}), as_participant("soc")
    )
    assert code is Code.unknown_notice


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (c.DraftNotice("ccpa", "x", {}), "this scenario plays no regime 'ccpa'; it plays gdpr"),
        (c.DraftNotice("gdpr", "police", {}), "GDPR has no duty 'police'"),
        (c.DraftNotice("gdpr", "supervisory_authority", {"colour": "red"}), "no field colour"),
    ],
)
def test_an_unknown_regime_duty_or_field_is_refused_with_what_there_is(
    command: c.DraftNotice, words: str
) -> None:
    drill = _drill()
    produced_before = len(drill.events)
    with pytest.raises(DomainError, match=words):
        drill.run(command, as_participant("legal"))
    assert len(drill.events) == produced_before


def test_filing_waits_for_the_sign_off_of_the_notice_as_it_stands() -> None:
    drill = _drill()
    _draft(drill, "legal", TEXT)
    filing = c.FileNotice("gdpr", "supervisory_authority")
    assert drill.refuse(filing, as_participant("legal")) is Code.notice_not_signed_off
    sign = c.SignOffNotice("gdpr", "supervisory_authority")
    assert drill.refuse(sign, as_participant("legal")) is Code.not_permitted  # not hers
    drill.run(sign, as_participant("exec"))
    _draft(drill, "dpo", {"measures": "Access removed; forensics engaged"})  # edited after
    assert drill.refuse(filing, as_participant("legal")) is Code.notice_not_signed_off
    drill.run(sign, as_participant("exec"))
    drill.run(filing, as_participant("legal"))
    (message,) = drill.of(EventType.message_sent)
    assert message.data["to"] == ["dpc"] and message.data["from_role"] == "legal"
    assert message.data["subject"] == "GDPR: Notify the supervisory authority"
    notice = message.data["notice"]
    assert notice["signed_off_by"] == "executive"
    assert notice["edited_by"]["measures"] == "dpo"
    assert (
        "Measures taken or proposed, including to mitigate its effects:\n" in (message.data["body"])
    )
    (gdpr,) = regimes_in_play(drill.scenario, drill.events, drill.scenario_time())
    assert gdpr.clocks[0].state is ClockState.filed
    # Filed is final: no more edits, no second filing.
    assert drill.refuse(filing, as_participant("legal")) is Code.notice_filed
    edit = c.DraftNotice("gdpr", "supervisory_authority", {"nature": "more"})
    assert drill.refuse(edit, as_participant("dpo")) is Code.notice_filed


def test_an_empty_form_cannot_be_signed_or_filed() -> None:
    drill = _drill()
    sign = c.SignOffNotice("gdpr", "supervisory_authority")
    assert drill.refuse(sign, as_participant("exec")) is Code.invalid_input


def test_a_figure_not_yet_revealed_is_not_yet_known_with_a_follow_up_promised() -> None:
    drill = _drill()
    drill.advance(30)  # half a story hour: the scoping has not come in
    unknown = {"people_affected": "Not yet known", "records_affected": "TBC"}
    _draft(drill, "legal", {**unknown, **TEXT}, True)
    _sign_and_file(drill)
    checks = _checks(drill)
    assert checks["people_affected"][0] is FieldStatus.not_yet_known
    assert checks["records_affected"][0] is FieldStatus.not_yet_known
    item = _item(drill)
    assert (item.points, item.max_points, item.status) == (20, 20, "filed")
    assert "8 of 8 required fields complete" in item.detail


def test_not_yet_known_without_a_follow_up_and_a_guess_before_the_facts_are_incomplete() -> None:
    drill = _drill()
    drill.advance(30)
    guess = {"people_affected": "not yet known", "records_affected": "50,000"}
    _draft(drill, "legal", guess, False)
    _draft(drill, "legal", TEXT)
    _sign_and_file(drill)
    checks = _checks(drill)
    assert checks["people_affected"] == (
        FieldStatus.missing,
        "not yet known, and no follow-up promised",
    )
    assert checks["records_affected"] == (
        FieldStatus.inconsistent,
        "50,000 stated before anything had told the team the figure",
    )
    item = _item(drill)
    assert item.points == 15  # 20 x 6 of 8
    assert "6 of 8 required fields complete" in item.detail


def test_once_revealed_a_figure_must_be_stated_and_near_what_was_known() -> None:
    drill = _drill()
    drill.advance(3 * MINUTE)  # the scoping (at 2 h) has revealed 48,000
    _draft(drill, "legal", {"people_affected": "about 47,500", **TEXT}, True)
    _draft(drill, "dpo", {"records_affected": "not yet known"})
    _sign_and_file(drill)
    checks = _checks(drill)
    assert checks["people_affected"] == (
        FieldStatus.complete,
        "47,500, in line with the 48,000 known",
    )
    assert checks["records_affected"] == (
        FieldStatus.inconsistent,
        "said not yet known, but the team knew it by then: about 48,000",
    )
    assert _item(drill).points == 17.5  # 20 x 7 of 8


def test_a_figure_far_from_the_known_one_is_inconsistent() -> None:
    drill = _drill()
    drill.advance(3 * MINUTE)
    _draft(drill, "legal", {"people_affected": "4,800", "records_affected": "48k", **TEXT})
    _sign_and_file(drill)
    checks = _checks(drill)
    assert checks["people_affected"] == (
        FieldStatus.inconsistent,
        "4,800 is not what the team knew: about 48,000 (within 20 %)",
    )
    assert checks["records_affected"][0] is FieldStatus.complete


def test_a_free_text_message_files_on_time_but_fills_in_no_field() -> None:
    drill = _drill()
    drill.run(c.SendMessage(["dpc"], "We have had a breach."), as_participant("legal"))
    item = _item(drill)
    assert (item.status, item.points, item.max_points) == ("filed", 0, 20)
    assert "a free-text message, not the form: 0 of 8 required fields" in item.detail


def test_the_facilitator_rates_a_field_and_can_hand_it_back_to_the_rules() -> None:
    drill = _drill()
    drill.advance(30)
    _draft(drill, "legal", {"people_affected": "not yet known", **TEXT}, False)
    _draft(drill, "legal", {"records_affected": "not yet known"})
    _sign_and_file(drill)
    assert _item(drill).points == 15
    rate = c.RateNoticeField(
        "gdpr", "supervisory_authority", "people_affected", True, "Said a follow-up by phone"
    )
    assert drill.refuse(rate, as_participant("legal")) is Code.not_permitted
    drill.run(rate)
    assert _item(drill).points == 17.5
    (gdpr,) = regimes_in_play(drill.scenario, drill.events, drill.scenario_time())
    check = next(
        x
        for x in gdpr.completeness["supervisory_authority"].checks
        if x.field.id == "people_affected"
    )
    assert check.rating is not None and check.rating.reason == "Said a follow-up by phone"
    drill.run(c.RateNoticeField("gdpr", "supervisory_authority", "people_affected", None, "Undo"))
    assert _item(drill).points == 15
    blank = c.RateNoticeField("gdpr", "supervisory_authority", "nature", False, "  ")
    assert drill.refuse(blank) is Code.invalid_input


def test_late_and_incomplete_multiply() -> None:
    drill = _drill()
    drill.advance(80 * MINUTE)  # 80 story hours: past the 72
    _draft(drill, "legal", {"people_affected": "48,000", "records_affected": "48,000"}, True)
    _draft(drill, "legal", {k: v for k, v in TEXT.items() if k != "consequences"})
    _sign_and_file(drill)
    item = _item(drill)
    assert (item.status, item.points) == ("late", 8.75)  # 20 x 1/2 x 7 of 8


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("about 212,000", 212_000),
        ("212 000 patients", 212_000),
        ("1.2 million", 1_200_000),
        ("50k", 50_000),
        ("2.300.000", 2_300_000),
        ("several", None),
    ],
)
def test_figures_are_read_as_people_write_them(text: str, figure: int | None) -> None:
    assert figure_in(text) == figure


def test_the_filed_text_lists_the_filled_fields_under_their_labels() -> None:
    text = notice_text(AUTHORITY, {"nature": "Theft", "measures": "Reset"}, True)
    assert text == (
        "Nature of the breach:\nTheft\n\n"
        "Measures taken or proposed, including to mitigate its effects:\nReset\n\n"
        "We will send what is not yet known as soon as we know it."
    )
