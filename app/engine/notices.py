"""Notice forms: the text a filed form reads as, and how complete it was. Pure: what the
team knew when it filed is an argument.

A required field is complete when it says something; a figure the story knows (people
affected, records taken) must be within its tolerance of what the team had learned by
then, or say "not yet known" while nothing had revealed it. "Not yet known" counts only
when the notice promises to follow up (GDPR Art. 33(4): information in phases). The
facilitator may rate any field either way, with a reason."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from app.regimes.model import Duty, FieldKind, FormField

NOT_YET_KNOWN = "not yet known"
FOLLOW_UP_LINE = "We will send what is not yet known as soon as we know it."

_UNKNOWN = re.compile(
    r"^\W*(not\s+(yet\s+)?known|unknown|tbc|tbd|to be (confirmed|determined))\b", re.I
)
_NUMBER = re.compile(r"(\d[\d,.\s]*\d|\d)\s*(k|thousand|m|million)?\b", re.I)
_SCALE = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "million": 1_000_000}


class FieldStatus(StrEnum):
    complete = "complete"
    not_yet_known = "not yet known"
    missing = "missing"
    inconsistent = "inconsistent"


@dataclass(frozen=True, slots=True)
class Known:
    """A figure of the story as the team knew it when it filed: its value, or None while
    nothing had revealed it, and how far an approximate figure may stray (percent)."""

    value: int | None
    tolerance: int


@dataclass(frozen=True, slots=True)
class Rating:
    complete: bool
    reason: str


@dataclass(frozen=True, slots=True)
class FieldCheck:
    field: FormField
    value: str
    status: FieldStatus
    detail: str
    rating: Rating | None = None

    @property
    def counts(self) -> bool:
        """Whether it counts as complete: the facilitator's rating, else the rules'."""
        if self.rating is not None:
            return self.rating.complete
        return self.status in (FieldStatus.complete, FieldStatus.not_yet_known)


@dataclass(frozen=True, slots=True)
class Completeness:
    checks: list[FieldCheck]
    """Every required field, then the optional fields that were filled in."""

    @property
    def required(self) -> int:
        return sum(1 for c in self.checks if c.field.required)

    @property
    def complete(self) -> int:
        return sum(1 for c in self.checks if c.field.required and c.counts)

    @property
    def share(self) -> float:
        return self.complete / self.required if self.required else 1.0

    def __str__(self) -> str:
        return f"{self.complete} of {self.required} required fields complete"


def notice_text(duty: Duty, fields: Mapping[str, str], follow_up: bool) -> str:
    """The filed notice as its recipient reads it: each filled field under its label."""
    parts = [f"{f.label}:\n{fields[f.id]}" for f in duty.fields if fields.get(f.id)]
    if follow_up:
        parts.append(FOLLOW_UP_LINE)
    return "\n\n".join(parts)


def says_not_yet_known(text: str) -> bool:
    return bool(_UNKNOWN.match(text))


def figure_in(text: str) -> int | None:
    """The first figure a field states: "about 212,000", "212 000", "1.2 million", "50k"."""
    match = _NUMBER.search(text)
    if match is None:
        return None
    digits, scale = match.groups()
    compact = re.sub(r"[\s,]", "", digits)
    multiplier = _SCALE.get((scale or "").lower(), 1)
    try:
        value = float(compact) if multiplier > 1 else float(compact.replace(".", ""))
    except ValueError:
        return None
    return round(value * multiplier)


def check_notice(
    duty: Duty,
    fields: Mapping[str, str],
    follow_up: bool,
    known: Mapping[str, Known],
    ratings: Mapping[str, Rating],
) -> Completeness:
    """Each required field (and each optional one filled in) checked. `known`: the
    story's figures by fact id as the team knew them when it filed."""
    checks = []
    for form_field in duty.fields:
        value = fields.get(form_field.id, "").strip()
        if not form_field.required and not value:
            continue
        status, detail = _check(form_field, value, follow_up, known)
        checks.append(FieldCheck(form_field, value, status, detail, ratings.get(form_field.id)))
    return Completeness(checks)


def _check(
    form_field: FormField, value: str, follow_up: bool, known: Mapping[str, Known]
) -> tuple[FieldStatus, str]:
    figure = known.get(form_field.fact) if form_field.fact else None
    if not value:
        return FieldStatus.missing, "left blank"
    if says_not_yet_known(value):
        if figure is not None and figure.value is not None:
            return (
                FieldStatus.inconsistent,
                f"said not yet known, but the team knew it by then: about {figure.value:,}",
            )
        if not follow_up:
            return FieldStatus.missing, "not yet known, and no follow-up promised"
        return FieldStatus.not_yet_known, "not yet known, with a follow-up promised"
    if form_field.kind is not FieldKind.number:
        return FieldStatus.complete, "filled in"
    stated = figure_in(value)
    if stated is None:
        return FieldStatus.missing, f'no figure: give a number or "{NOT_YET_KNOWN}"'
    if figure is None:
        return FieldStatus.complete, f"{stated:,}"
    if figure.value is None:
        return (
            FieldStatus.inconsistent,
            f"{stated:,} stated before anything had told the team the figure",
        )
    if abs(stated - figure.value) <= figure.value * figure.tolerance / 100:
        return FieldStatus.complete, f"{stated:,}, in line with the {figure.value:,} known"
    return (
        FieldStatus.inconsistent,
        f"{stated:,} is not what the team knew: about {figure.value:,} "
        f"(within {figure.tolerance} %)",
    )
