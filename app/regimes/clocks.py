"""Each duty's clock, computed from what happened: when it started, when it is due, and
where it stands at a given moment. Pure and synchronous: every time is an argument.

Deadlines in hours and calendar days run from the starting moment; months end on the
same local date and time (clamped to the month's last day); business days skip weekends
and the public holidays of a calendar (the `holidays` package) in the scenario's time
zone, and end at the close of the last one (23:59:59 local)."""

from __future__ import annotations

import calendar as month_calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import cache

import holidays

from app.regimes.model import FILED_PREFIX, Deadline, Duty, Regime, Unit

END_OF_DAY = time(23, 59, 59)


class CalendarError(ValueError):
    """A holiday calendar that the `holidays` package does not know."""


@cache
def public_holidays(code: str) -> holidays.HolidayBase:
    """`US`, `US-NY`, `DE-BE`: a country (ISO 3166-1) and optionally its subdivision."""
    country, _, subdivision = code.partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise CalendarError(f"{code!r}: no public-holiday calendar for country {country!r}")
    if subdivision and subdivision not in supported[country]:
        raise CalendarError(
            f"{code!r}: {country} has no subdivision {subdivision!r}; "
            f"it has: {', '.join(supported[country])}"
        )
    return holidays.country_holidays(country, subdiv=subdivision or None)


def is_business_day(day: date, code: str) -> bool:
    return day.weekday() < 5 and day not in public_holidays(code)


def add_business_days(start: datetime, count: int, code: str, zone: tzinfo) -> datetime:
    """The end (23:59:59 local) of the `count`-th business day after `start`'s local day."""
    day = start.astimezone(zone).date()
    counted = 0
    while counted < count:
        day += timedelta(days=1)
        if is_business_day(day, code):
            counted += 1
    return datetime.combine(day, END_OF_DAY, tzinfo=zone)


def add_months(start: datetime, months: int, zone: tzinfo) -> datetime:
    local = start.astimezone(zone)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, month_calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def deadline_after(
    start: datetime,
    deadline: Deadline,
    *,
    zone: tzinfo,
    calendar: str | None,
    undue_delay: timedelta | None,
) -> datetime | None:
    """When a clock started at `start` runs out; None for "without undue delay" with no
    target set (nothing to score it against)."""
    if deadline.unit is Unit.hours:
        return start + timedelta(hours=deadline.amount)
    if deadline.unit is Unit.calendar_days:
        return start + timedelta(days=deadline.amount)
    if deadline.unit is Unit.months:
        return add_months(start, deadline.amount, zone)
    if deadline.unit is Unit.business_days:
        if calendar is None:
            raise CalendarError(
                "a deadline in business days needs a holiday calendar: name the scenario's "
                "jurisdiction for this regime (e.g. US-NY or DE-BE)"
            )
        return add_business_days(start, deadline.amount, calendar, zone)
    return None if undue_delay is None else start + undue_delay


class ClockState(StrEnum):
    waiting = "waiting"
    """Its starting event has not happened."""
    running = "running"
    filed = "filed"
    """Filed on time."""
    late = "late"
    """Filed after its deadline."""
    missed = "missed"
    """Past its deadline and not filed."""
    not_required = "not required"
    """Below its threshold (e.g. fewer than 500 people)."""


@dataclass(frozen=True, slots=True)
class DutyClock:
    regime: Regime
    duty: Duty
    state: ClockState
    started_at: datetime | None = None
    due_at: datetime | None = None
    filed_at: datetime | None = None

    def time_left(self, now: datetime) -> timedelta | None:
        """Until the deadline (negative once past), for a clock still running."""
        if self.state is not ClockState.running or self.due_at is None:
            return None
        return self.due_at - now


@dataclass(frozen=True, slots=True)
class Situation:
    """What has happened, as the clocks need it: when each of the regime's events
    happened, when each duty was filed, and the facts known (numbers)."""

    events: Mapping[str, datetime]
    filed: Mapping[str, datetime]
    facts: Mapping[str, int]
    zone: tzinfo
    calendar: str | None = None
    """The holiday calendar for business days when the regime names none."""
    undue_delay: timedelta | None = None
    """The target "without undue delay" is scored against, set by the scenario."""

    def started(self, start: str) -> datetime | None:
        if start.startswith(FILED_PREFIX):
            return self.filed.get(start.removeprefix(FILED_PREFIX))
        return self.events.get(start)


def duty_clock(regime: Regime, duty: Duty, situation: Situation, now: datetime) -> DutyClock:
    threshold = duty.threshold
    if threshold is not None:
        known = situation.facts.get(threshold.fact)
        # Unknown: the team cannot rule the duty out yet, so its clock runs.
        if known is not None and known < threshold.at_least:
            return DutyClock(regime, duty, ClockState.not_required)
    started_at = situation.started(duty.starts_on)
    if started_at is None:
        return DutyClock(regime, duty, ClockState.waiting)
    calendar = regime.calendar or situation.calendar
    limits = [(started_at, duty.within)]
    for extra in duty.no_later_than:
        extra_start = situation.started(extra.starts_on)
        if extra_start is not None:
            limits.append((extra_start, extra.within))
    dues = [
        due
        for start, within in limits
        if (
            due := deadline_after(
                start,
                within,
                zone=situation.zone,
                calendar=calendar,
                undue_delay=situation.undue_delay,
            )
        )
        is not None
    ]
    due_at = min(dues) if dues else None
    filed_at = situation.filed.get(duty.id)
    if filed_at is not None and filed_at <= now:
        on_time = due_at is None or filed_at <= due_at
        state = ClockState.filed if on_time else ClockState.late
        return DutyClock(regime, duty, state, started_at, due_at, filed_at)
    state = ClockState.missed if due_at is not None and now > due_at else ClockState.running
    return DutyClock(regime, duty, state, started_at, due_at)


def regime_clocks(regime: Regime, situation: Situation, now: datetime) -> list[DutyClock]:
    """Every duty of the regime at `now`, in the regime's order: the parallel clocks."""
    return [duty_clock(regime, duty, situation, now) for duty in regime.duties]
