"""Each regime's clocks on scripted situations: when they start, chain, run out, and
where they stand; business days across public holidays and weekends in two
jurisdictions; thresholds. Expected deadlines are worked out by hand from the texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.regimes.clocks import (
    CalendarError,
    ClockState,
    Situation,
    add_business_days,
    regime_clocks,
)
from app.regimes.library import regime

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def situation(**kwargs: object) -> Situation:
    base: dict[str, object] = {"events": {}, "filed": {}, "facts": {}, "zone": UTC}
    return Situation(**(base | kwargs))  # type: ignore[arg-type]


def states(
    regime_id: str, at: datetime, **kwargs: object
) -> dict[str, tuple[ClockState, datetime | None]]:
    clocks = regime_clocks(regime(regime_id), situation(**kwargs), at)
    return {c.duty.id: (c.state, c.due_at) for c in clocks}


def test_gdpr_the_authority_within_72_hours_of_awareness() -> None:
    aware = {"aware": T0}
    due = T0 + timedelta(hours=72)
    assert states("gdpr", T0 - timedelta(hours=1))["supervisory_authority"] == (
        ClockState.waiting,
        None,
    )
    assert states("gdpr", T0, events={})["supervisory_authority"][0] is ClockState.waiting
    assert states("gdpr", T0 + timedelta(hours=71), events=aware)["supervisory_authority"] == (
        ClockState.running,
        due,
    )
    assert states("gdpr", due + timedelta(seconds=1), events=aware)["supervisory_authority"] == (
        ClockState.missed,
        due,
    )
    on_time = {"supervisory_authority": due}
    assert states("gdpr", due + timedelta(days=1), events=aware, filed=on_time)[
        "supervisory_authority"
    ] == (ClockState.filed, due)
    late = {"supervisory_authority": due + timedelta(minutes=1)}
    assert (
        states("gdpr", due + timedelta(days=1), events=aware, filed=late)["supervisory_authority"][
            0
        ]
        is ClockState.late
    )


def test_a_filing_in_the_future_of_the_moment_asked_about_does_not_count_yet() -> None:
    later = {"supervisory_authority": T0 + timedelta(hours=10)}
    at = T0 + timedelta(hours=5)
    assert states("gdpr", at, events={"aware": T0}, filed=later)["supervisory_authority"][0] is (
        ClockState.running
    )


def test_without_undue_delay_is_scored_against_the_scenario_s_target() -> None:
    aware = {"aware": T0}
    assert states("gdpr", T0 + timedelta(days=30), events=aware)["data_subjects"] == (
        ClockState.running,
        None,  # no target: nothing to be late against
    )
    target = timedelta(hours=48)
    got = states("gdpr", T0 + timedelta(hours=49), events=aware, undue_delay=target)
    assert got["data_subjects"] == (ClockState.missed, T0 + target)


def test_nis2_the_final_report_chains_from_the_incident_notification() -> None:
    aware = {"aware": T0}
    at = T0 + timedelta(hours=30)
    got = states("nis2", at, events=aware, filed={"early_warning": T0 + timedelta(hours=20)})
    assert got["early_warning"] == (ClockState.filed, T0 + timedelta(hours=24))
    assert got["incident_notification"] == (ClockState.running, T0 + timedelta(hours=72))
    assert got["final_report"] == (ClockState.waiting, None)  # not filed: nothing to follow
    notified = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
    got = states(
        "nis2",
        notified + timedelta(days=1),
        events={"aware": notified - timedelta(hours=70)},
        filed={"incident_notification": notified},
    )
    # One month after 31 January ends on the last day of February.
    assert got["final_report"] == (ClockState.running, datetime(2026, 2, 28, 10, 0, tzinfo=UTC))


def test_dora_four_hours_from_classification_and_no_later_than_24_from_awareness() -> None:
    aware = T0
    early = states(
        "dora",
        T0 + timedelta(hours=3),
        events={"aware": aware, "classified_major": T0 + timedelta(hours=2)},
    )
    assert early["initial_notification"] == (ClockState.running, T0 + timedelta(hours=6))
    late_class = states(
        "dora",
        T0 + timedelta(hours=23),
        events={"aware": aware, "classified_major": T0 + timedelta(hours=22)},
    )
    assert late_class["initial_notification"] == (ClockState.running, T0 + timedelta(hours=24))
    unclassified = states("dora", T0 + timedelta(hours=30), events={"aware": aware})
    assert unclassified["initial_notification"] == (ClockState.waiting, None)


def test_dora_reports_chain_initial_intermediate_final() -> None:
    initial = T0 + timedelta(hours=5)
    intermediate = initial + timedelta(hours=60)
    events = {"aware": T0, "classified_major": T0 + timedelta(hours=2)}
    got = states(
        "dora",
        intermediate + timedelta(days=1),
        events=events,
        filed={"initial_notification": initial, "intermediate_report": intermediate},
    )
    assert got["initial_notification"] == (ClockState.filed, T0 + timedelta(hours=6))
    assert got["intermediate_report"] == (ClockState.filed, initial + timedelta(hours=72))
    assert got["final_report"] == (
        ClockState.running,
        intermediate.replace(month=intermediate.month + 1),
    )


def test_sec_four_business_days_skip_thanksgiving_and_the_weekend() -> None:
    # Determined material on Wednesday 25 November 2026, 15:00 in New York. Thursday 26 is
    # Thanksgiving; then Fri 27 (1), Mon 30 (2), Tue 1 Dec (3), Wed 2 Dec (4).
    determined = datetime(2026, 11, 25, 15, 0, tzinfo=NEW_YORK)
    got = states("sec_8k", determined, events={"material": determined}, zone=NEW_YORK)
    assert got["item_1_05"] == (
        ClockState.running,
        datetime(2026, 12, 2, 23, 59, 59, tzinfo=NEW_YORK),
    )


def test_the_business_day_a_determination_falls_on_is_the_scenario_s_local_day() -> None:
    """05:30 UTC on Wednesday 14 October 2026 is 01:30 Wednesday in New York but 22:30
    Tuesday in Los Angeles: the four business days count from different days."""
    determined = datetime(2026, 10, 14, 5, 30, tzinfo=UTC)
    los_angeles = ZoneInfo("America/Los_Angeles")
    in_ny = states("sec_8k", determined, events={"material": determined}, zone=NEW_YORK)
    in_la = states("sec_8k", determined, events={"material": determined}, zone=los_angeles)
    # New York: Thu 15 (1), Fri 16 (2), Mon 19 (3), Tue 20 (4).
    assert in_ny["item_1_05"][1] == datetime(2026, 10, 20, 23, 59, 59, tzinfo=NEW_YORK)
    # Los Angeles: Wed 14 (1), Thu 15 (2), Fri 16 (3), Mon 19 (4).
    assert in_la["item_1_05"][1] == datetime(2026, 10, 19, 23, 59, 59, tzinfo=los_angeles)


def test_business_days_differ_between_two_jurisdictions() -> None:
    """Friday 9 October 2026: Monday 12 is Columbus Day in the US, a working day in
    Berlin; and New York keeps Lincoln's Birthday (12 February 2027), the US does not."""
    friday = datetime(2026, 10, 9, 12, 0, tzinfo=UTC)
    assert add_business_days(friday, 4, "US", NEW_YORK).date().isoformat() == "2026-10-16"
    assert add_business_days(friday, 4, "DE-BE", BERLIN).date().isoformat() == "2026-10-15"
    thursday = datetime(2027, 2, 11, 12, 0, tzinfo=UTC)
    assert add_business_days(thursday, 1, "US", NEW_YORK).date().isoformat() == "2027-02-12"
    # New York: Fri 12 Lincoln's Birthday, Mon 15 Washington's Birthday -> Tue 16.
    assert add_business_days(thursday, 1, "US-NY", NEW_YORK).date().isoformat() == "2027-02-16"
    # Christmas in Berlin: 24 Dec is a Thursday; 25 and 26 are holidays (26 a Saturday).
    christmas_eve = datetime(2026, 12, 24, 9, 0, tzinfo=BERLIN)
    assert add_business_days(christmas_eve, 1, "DE-BE", BERLIN).date().isoformat() == "2026-12-28"


def test_an_unknown_calendar_says_what_is_wrong() -> None:
    with pytest.raises(CalendarError, match="no public-holiday calendar for country 'XX'"):
        add_business_days(T0, 1, "XX", UTC)
    with pytest.raises(CalendarError, match="US has no subdivision 'ZZ'"):
        add_business_days(T0, 1, "US-ZZ", UTC)


@pytest.mark.parametrize(
    ("people", "hhs", "media"),
    [
        (None, ClockState.running, ClockState.running),  # not yet known: cannot be ruled out
        (499, ClockState.not_required, ClockState.not_required),
        (500, ClockState.running, ClockState.not_required),
        (501, ClockState.running, ClockState.running),
    ],
)
def test_hipaa_thresholds_decide_which_clocks_run(
    people: int | None, hhs: ClockState, media: ClockState
) -> None:
    facts = {} if people is None else {"people_affected": people, "residents_of_one_state": people}
    got = states("hipaa", T0 + timedelta(days=1), events={"discovered": T0}, facts=facts)
    assert got["individuals"] == (ClockState.running, T0 + timedelta(days=60))
    assert got["hhs"][0] is hhs
    assert got["media"][0] is media


def test_nydfs_an_extortion_payment_starts_two_clocks() -> None:
    paid = T0 + timedelta(hours=40)
    got = states(
        "nydfs", paid + timedelta(hours=25), events={"reportable": T0, "extortion_paid": paid}
    )
    assert got["superintendent"] == (ClockState.running, T0 + timedelta(hours=72))
    assert got["extortion_notice"] == (ClockState.missed, paid + timedelta(hours=24))
    assert got["extortion_explanation"] == (ClockState.running, paid + timedelta(days=30))


def test_cra_the_vulnerability_report_waits_for_a_fix_the_incident_report_for_its_notice() -> None:
    aware = {"exploited_vulnerability": T0, "severe_incident": T0}
    got = states("cra", T0 + timedelta(hours=1), events=aware)
    assert got["vulnerability_early_warning"] == (ClockState.running, T0 + timedelta(hours=24))
    assert got["vulnerability_final_report"] == (ClockState.waiting, None)
    assert got["incident_final_report"] == (ClockState.waiting, None)
    fixed = T0 + timedelta(days=4)
    got = states("cra", fixed, events=aware | {"fix_available": fixed})
    assert got["vulnerability_final_report"] == (ClockState.running, fixed + timedelta(days=14))
    assert got["vulnerability_notification"] == (ClockState.missed, T0 + timedelta(hours=72))


def test_time_left_runs_down_and_stops_once_filed() -> None:
    clocks = regime_clocks(regime("gdpr"), situation(events={"aware": T0}), T0 + timedelta(hours=2))
    authority = clocks[0]
    assert authority.time_left(T0 + timedelta(hours=2)) == timedelta(hours=70)
    filed = regime_clocks(
        regime("gdpr"),
        situation(events={"aware": T0}, filed={"supervisory_authority": T0 + timedelta(hours=1)}),
        T0 + timedelta(hours=2),
    )[0]
    assert filed.time_left(T0 + timedelta(hours=2)) is None


def test_ohio_residents_within_45_days_then_the_agencies_once_they_are_told() -> None:
    """A state notice beside HIPAA: 45 calendar days for the residents (R.C. 1349.19(B)),
    and the consumer reporting agencies, when more than 1,000 residents are told, once
    they are (held to the scenario's target for "without unreasonable delay")."""
    discovered = {"discovered": T0}
    many = {"ohio_residents": 198_000}
    running = states("ohio_breach", T0 + timedelta(days=44), events=discovered, facts=many)
    assert running["residents"] == (ClockState.running, T0 + timedelta(days=45))
    assert running["consumer_reporting_agencies"] == (ClockState.waiting, None)
    told = {"residents": T0 + timedelta(days=10)}
    chained = states(
        "ohio_breach",
        T0 + timedelta(days=11),
        events=discovered,
        facts=many,
        filed=told,
        undue_delay=timedelta(days=2),
    )
    assert chained["residents"][0] is ClockState.filed
    assert chained["consumer_reporting_agencies"] == (
        ClockState.running,
        T0 + timedelta(days=12),
    )
    few = states(
        "ohio_breach",
        T0 + timedelta(days=11),
        events=discovered,
        facts={"ohio_residents": 1_000},
        filed=told,
    )
    assert few["consumer_reporting_agencies"][0] is ClockState.not_required
