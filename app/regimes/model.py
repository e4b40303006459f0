"""The regime format: a regime lists its duties, each owed to a recipient, started by one
of the regime's events (or by filing another duty), due within a deadline, with the
fields its official template asks for and the article it comes from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

REGIME_FORMAT = 1
"""The version of this format; each regime also carries its own `version` and `as_of`."""

FILED_PREFIX = "filed:"
"""`starts_on: filed:<duty>`: a follow-up whose clock starts when that duty is filed."""

_ID = r"^[a-z][a-z0-9_]*$"


class Unit(StrEnum):
    hours = "hours"
    calendar_days = "calendar days"
    business_days = "business days"
    months = "months"
    without_undue_delay = "without undue delay"


DEADLINE_PATTERN = (
    r"^\s*(?:(\d+)\s*h|(\d+)\s+(?:calendar\s+)?days?|(\d+)\s+business\s+days?"
    r"|(\d+)\s+months?|without undue delay)\s*$"
)


@dataclass(frozen=True, slots=True)
class Deadline:
    """How long a duty's clock runs: `amount` units, or "without undue delay" (amount 0:
    the scenario sets the target it is scored against)."""

    unit: Unit
    amount: int = 0

    def __str__(self) -> str:
        if self.unit is Unit.without_undue_delay:
            return str(self.unit)
        if self.unit is Unit.hours:
            return f"{self.amount}h"
        singular = self.amount == 1
        name = {
            Unit.calendar_days: "calendar day" if singular else "calendar days",
            Unit.business_days: "business day" if singular else "business days",
            Unit.months: "month" if singular else "months",
        }[self.unit]
        return f"{self.amount} {name}"


def parse_deadline(value: Any) -> Deadline:
    """`72h`, `60 days` (calendar), `4 business days`, `1 month`, `without undue delay`."""
    if isinstance(value, Deadline):
        return value
    match = re.match(DEADLINE_PATTERN, value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            f"{value!r} is not a deadline: write '72h', '60 days', '4 business days', "
            "'1 month' or 'without undue delay'"
        )
    hours, days, business, months = match.groups()
    if hours is not None:
        return Deadline(Unit.hours, int(hours))
    if days is not None:
        return Deadline(Unit.calendar_days, int(days))
    if business is not None:
        return Deadline(Unit.business_days, int(business))
    if months is not None:
        return Deadline(Unit.months, int(months))
    return Deadline(Unit.without_undue_delay)


DeadlineField = Annotated[
    Deadline,
    BeforeValidator(parse_deadline),
    WithJsonSchema({"type": "string", "pattern": DEADLINE_PATTERN}),
]


class Recipient(StrEnum):
    authority = "authority"
    affected_people = "affected people"
    media = "media"


class FieldKind(StrEnum):
    text = "text"
    number = "number"
    datetime = "datetime"
    contact = "contact"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FormField(Strict):
    """One field of the notification's form, as the official template asks for it."""

    id: str = Field(pattern=_ID)
    label: str = Field(min_length=1)
    kind: FieldKind = FieldKind.text
    required: bool = True
    source: str = Field(default="", description="Where the template asks for it.")
    fact: str | None = Field(
        default=None,
        pattern=_ID,
        description="The scenario fact a number must stay within (e.g. people_affected): "
        "a figure above what the team knew when it filed is inconsistent.",
    )


class Limit(Strict):
    """A second limit on the same duty, from another event (DORA: 4 h from the
    classification and no later than 24 h from awareness): the earliest one binds."""

    starts_on: str
    within: DeadlineField


class Threshold(Strict):
    """The duty applies only when a scenario fact reaches a figure (HIPAA's 500)."""

    fact: str = Field(pattern=_ID)
    at_least: int = Field(ge=0)


class Duty(Strict):
    id: str = Field(pattern=_ID)
    title: str = Field(min_length=1)
    recipient: Recipient
    recipient_name: str = Field(min_length=1, description="Whom it is owed to, in words.")
    starts_on: str = Field(
        description="One of the regime's events, or `filed:<duty>` for a follow-up."
    )
    within: DeadlineField
    no_later_than: list[Limit] = Field(default_factory=list)
    threshold: Threshold | None = None
    condition: str = Field(
        default="",
        description="When the duty applies, in words (e.g. a high risk to people): the "
        "scenario decides whether it holds.",
    )
    source: str = Field(min_length=1, description="The article or section it comes from.")
    fields: list[FormField] = Field(min_length=1)
    note: str = ""

    @property
    def chained_from(self) -> str | None:
        """The duty whose filing starts this one, if it is a follow-up."""
        return self.starts_on.removeprefix(FILED_PREFIX) if self.is_follow_up else None

    @property
    def is_follow_up(self) -> bool:
        return self.starts_on.startswith(FILED_PREFIX)

    def starts(self) -> list[str]:
        """Every event this duty's limits count from (its own and its extra limits)."""
        return [self.starts_on, *(limit.starts_on for limit in self.no_later_than)]


class Regime(Strict):
    """A notification regime: its duties and the events that start their clocks."""

    format: Literal[1] = 1  # REGIME_FORMAT
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1)
    title: str = Field(min_length=1, description="The instrument, in full.")
    version: int = Field(ge=1, description="Raised whenever a duty changes.")
    as_of: str = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}$", description="The date the text was checked against."
    )
    jurisdiction: str = Field(
        description="Where it applies, in words (e.g. EU, United States, New York)."
    )
    calendar: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$",
        description="The public holidays business days skip (ISO 3166 country, optional "
        "subdivision, e.g. US or US-NY); None: the scenario's jurisdiction for it.",
    )
    events: dict[str, str] = Field(
        min_length=1, description="The events its clocks start from, id: in words."
    )
    duties: list[Duty] = Field(min_length=1)

    @model_validator(mode="after")
    def _references_hold(self) -> Self:
        ids = [d.id for d in self.duties]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duty ids must be unique; repeated: {', '.join(duplicates)}")
        for duty in self.duties:
            for start in duty.starts():
                if start.startswith(FILED_PREFIX):
                    if start.removeprefix(FILED_PREFIX) not in ids:
                        raise ValueError(
                            f"duty {duty.id!r} starts on {start!r}, but the regime has no "
                            f"such duty; its duties are: {', '.join(ids)}"
                        )
                elif start not in self.events:
                    raise ValueError(
                        f"duty {duty.id!r} starts on {start!r}, which is not one of the "
                        f"regime's events: {', '.join(self.events)}"
                    )
            if duty.chained_from == duty.id:
                raise ValueError(f"duty {duty.id!r} cannot start on its own filing")
        return self

    def duty(self, duty_id: str) -> Duty:
        for duty in self.duties:
            if duty.id == duty_id:
                return duty
        raise KeyError(duty_id)


def regime_json_schema() -> dict[str, Any]:
    document = Regime.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["$id"] = "https://tabletop.invalid/schema/regime-v1.json"
    return document
