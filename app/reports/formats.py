"""How the report's numbers and times read, in every export.

Scenario times read T+HH:MM, deltas +/-Xh YYm, wall times as UTC dates, points with at
most two decimals. templates/report/format.html holds the same rules as Jinja macros, so
that the HTML partial renders in any Jinja environment (the browser page's included)
without filters to install; tests/reports/test_render.py keeps the two in step.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.engine.durations import format_clock
from app.engine.scenario import ROLE_CATALOGUE, Scenario
from app.engine.scoring import CommStatus, RoleTotal, Total
from app.reports.model import Overview, Report

NONE = "\u2013"
"""What an absent time, delta or percentage reads as: an en dash."""

COMM_STATUS_LABELS: dict[str, str] = {
    CommStatus.on_time: "On time",
    CommStatus.late: "Late",
    CommStatus.missed: "Missed",
    CommStatus.wrong_party: "Wrong party",
    CommStatus.sent_with_blanks: "Sent with blanks",
    CommStatus.not_due: "Not due",
    CommStatus.pending: "Pending",
}


def clock(seconds: float | None) -> str:
    """Scenario time since the start: T+01:05."""
    return NONE if seconds is None else format_clock(seconds)


def _hours_minutes(seconds: float) -> tuple[int, int]:
    minutes = round(abs(seconds) / 60)
    return divmod(minutes, 60)


def span(seconds: float | None) -> str:
    """A length of time: 1h 05m."""
    if seconds is None:
        return NONE
    hours, minutes = _hours_minutes(seconds)
    return f"{hours}h {minutes:02d}m"


def delta(seconds: float | None) -> str:
    """A signed difference, negative being early: +0h 10m, -1h 05m."""
    if seconds is None:
        return NONE
    hours, minutes = _hours_minutes(seconds)
    sign = "-" if seconds < 0 and (hours or minutes) else "+"
    return f"{sign}{hours}h {minutes:02d}m"


def day(timestamp: float | None) -> str:
    """Unix seconds as the UTC date: 2027-01-15."""
    if timestamp is None:
        return NONE
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def stamp(timestamp: float | None) -> str:
    """Unix seconds as a UTC date and time: 2027-01-15 14:03 UTC."""
    if timestamp is None:
        return NONE
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def real_length(overview: Overview) -> str:
    """How long it took for real: the drill's span, or a dry run's few seconds of play."""
    if overview.dry_run_seconds is not None:
        seconds = overview.dry_run_seconds
        took = f"{seconds:.1f} s" if seconds >= 0.1 else "under 0.1 s"
        return f"played headless as a dry run in {took} of real time"
    return f"in {span(overview.real_duration)} of real time"


def nobody_joined(overview: Overview) -> str:
    if overview.dry_run_seconds is not None:
        return "Nobody joined: a dry run plays without participants."
    return "Nobody joined this drill."


def points(value: float) -> str:
    """Points with at most two decimals and no trailing zeros: 9.67, 20, -2."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def percent(total: Total) -> str:
    if isinstance(total, RoleTotal) and not total.played:
        return "Not played"
    return NONE if total.percent is None else f"{total.percent:.1f}%"


def score(total: Total) -> str:
    """9.67 of 20 points (48.4%): the one way a total reads everywhere."""
    text = f"{points(total.points)} of {points(total.max_points)} points"
    return text if total.percent is None else f"{text} ({percent(total)})"


def comm_status(status: str) -> str:
    return COMM_STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def role_titles(report: Report, scenario: Scenario | None = None) -> dict[str, str]:
    """Role and party id -> the name people know it by. The scenario knows every one; the
    report alone knows the titles of roles someone played and of message recipients, and
    the catalogue's default title for the rest."""
    titles: dict[str, str] = {}
    if scenario is not None:
        titles |= {role: scenario.role_title(role) for role in scenario.roles}
        titles |= {party: p.name for party, p in scenario.parties.items()}
    for comm in report.scores.communications:
        titles.setdefault(comm.to, comm.to_name)
    for person in report.overview.participants:
        if person.role is not None:
            titles.setdefault(person.role, person.role_title)
    for group in report.hot_wash_by_role:
        if group.role is not None:
            titles.setdefault(group.role, group.role_title)
    return titles


def title_of(titles: dict[str, str], role: str | None) -> str:
    if role is None:
        return NONE
    if role in titles:
        return titles[role]
    return ROLE_CATALOGUE.get(role, (role.replace("_", " ").capitalize(), ""))[0]
