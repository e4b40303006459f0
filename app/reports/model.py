"""The after-action report as data: the one structure every export renders.

Shaped after HSEEP's After-Action Report / Improvement Plan and NIST SP 800-84. The JSON
export is `Report.model_dump(mode="json")`; `report_schema()` publishes its JSON Schema.
Bump REPORT_VERSION when a field changes meaning or disappears.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.engine.scoring import Scorecard, Total

REPORT_VERSION = 1


class Rating(StrEnum):
    """HSEEP's performance ratings for a capability or objective."""

    P = "P"
    S = "S"
    M = "M"
    U = "U"

    @property
    def label(self) -> str:
        return RATING_LABELS[self]


RATING_LABELS = {
    Rating.P: "Performed without challenges",
    Rating.S: "Performed with some challenges",
    Rating.M: "Performed with major challenges",
    Rating.U: "Unable to be performed",
}


class Element(StrEnum):
    """HSEEP's capability elements: where a corrective action lands."""

    planning = "planning"
    organisation = "organisation"
    equipment = "equipment"
    training = "training"
    exercise = "exercise"


class ItemStatus(StrEnum):
    open = "open"
    in_progress = "in_progress"
    closed = "closed"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class ImprovementItem(_Model):
    """One row of the improvement plan; items outlive their drill until closed."""

    id: str
    drill_id: str
    scenario_id: str
    objective_id: str | None = None
    capability: str
    issue: str
    corrective_action: str
    element: Element
    responsible: str = Field(description="The team that owns the corrective action.")
    contact: str = Field(description="Point of contact: a person.")
    start: date | None = None
    due: date | None = None
    status: ItemStatus = ItemStatus.open
    created_by: str | None = None
    closed_by: str | None = None
    closed_at: float | None = Field(default=None, description="Unix seconds, UTC.")


class ObjectiveReview(_Model):
    """What a reviewer changed about one objective; None keeps the drafted value."""

    rating: Rating | None = None
    strengths: list[str] | None = None
    improvements: list[str] | None = None


class Review(_Model):
    objectives: dict[str, ObjectiveReview] = Field(default_factory=dict)
    summary: str | None = Field(default=None, description="The reviewer's executive summary.")
    updated_by: str | None = None
    updated_at: float | None = None


class ParticipantLine(_Model):
    name: str
    role: str | None
    role_title: str
    stood_in_for: list[str] = Field(description="Roles this person's role acted for as backup.")


class Overview(_Model):
    drill_id: str
    name: str
    scenario_id: str
    scenario_title: str
    scenario_version: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    end_reason: str | None
    status: str
    scenario_duration: float = Field(description="Scenario seconds from start to end (or now).")
    real_duration: float = Field(description="Wall seconds from start to end (or now).")
    dry_run_seconds: float | None = Field(
        default=None,
        description="Set when the drill was a dry run played headless (`tabletop dry-run "
        "--save`): how long, in real seconds, it took to play.",
    )
    story_start: str = Field(description="In-world start, ISO 8601 in the scenario's zone.")
    facilitator: str | None
    started_without: list[str] = Field(
        default_factory=list,
        description="Titles of required roles nobody played when the facilitator started.",
    )
    participants: list[ParticipantLine]
    compliance: list[str]
    attack: list[str]


class ObjectiveSection(_Model):
    id: str
    title: str
    phase: str
    capability: str
    score: Total
    derived_rating: Rating | None
    rating: Rating | None
    rating_label: str
    rating_edited: bool
    strengths: list[str]
    improvements: list[str]
    notes: list[str] = Field(description="Observer notes tied to this objective.")


class TimelineLine(_Model):
    seq: int
    scenario_time: float
    offset: str
    story_time: str
    kind: str
    text: str
    roles: list[str] = Field(
        default_factory=list,
        description="The roles it concerns: who received an inject, who sent a message, "
        "who became unavailable or available again.",
    )


class KnowledgeLine(_Model):
    """When a key fact of the story first reached each role and outside party."""

    fact: str
    title: str
    revealed_at: float | None = Field(description="Scenario time the story first revealed it.")
    first_seen: dict[str, float] = Field(description="Role or party id -> scenario time.")
    escalation: dict[str, float | None] = Field(
        description="Delay from revelation to legal, the executive and the regulator."
    )


class NoticeField(_Model):
    """One field of a filed notice's form, and whether it counted as complete."""

    label: str
    source: str = Field(description="The article or section of the template that asks for it.")
    required: bool
    value: str = Field(description="As filed; empty when left blank.")
    status: str = Field(description="complete, not yet known, missing or inconsistent.")
    detail: str = Field(description="Why, in words (e.g. the figure the team knew).")
    counts: bool = Field(description="Counted complete (the facilitator's rating first).")
    rated: str | None = Field(description="The facilitator's reason, when they rated it.")
    edited_by: str | None = Field(description="The role that last wrote it.")


class RegulatoryDuty(_Model):
    """One notification duty of a regime the scenario played, as the drill left it."""

    regime: str
    regime_name: str
    duty: str
    title: str
    owed_to: str
    source: str = Field(description="The article or section the duty comes from.")
    state: str = Field(
        description="waiting, running, filed (on time), late, missed or not required, "
        "as of the report's last event."
    )
    state_label: str = Field(description="The state as the report words it.")
    started_at: float | None = Field(description="Scenario time its clock started.")
    due_at: float | None = Field(description="Scenario time of its deadline.")
    filed_at: float | None = Field(description="Scenario time it was filed.")
    story_due: str | None = Field(description="The deadline, ISO 8601 in the scenario's zone.")
    filed_by: str | None = Field(description="The role that filed it.")
    filed_text: str | None = Field(description="The message that filed it, as sent.")
    filed_as: str | None = Field(
        default=None, description="`form`, or `message` for a free-text message."
    )
    signed_off_by: str | None = Field(default=None, description="The role that signed it off.")
    follow_up: bool = Field(
        default=False, description="It promised to follow up with what was not yet known."
    )
    complete: int | None = Field(
        default=None, description="The required fields that counted as complete."
    )
    required: int = Field(default=0, description="The required fields of its form.")
    fields: list[NoticeField] = Field(
        default_factory=list, description="The form's fields as filed, each judged."
    )


class ThreadItem(_Model):
    scenario_time: float
    from_team: bool = Field(description="The team wrote it (else the party answered).")
    by: str = Field(description="Who wrote it: the role, or the party (and how).")
    subject: str
    body: str


class OutsideThread(_Model):
    """The messages between one role and one outside party, both ways, in order."""

    party: str
    party_name: str
    role: str
    role_title: str
    items: list[ThreadItem]
    unanswered: bool = Field(description="The team had the last word: the party never answered.")


class FeedItem(_Model):
    scenario_time: float
    outlet: str
    handle: str | None
    title: str
    text: str
    tone: str
    likes: int
    shares: int
    replies: int
    source: str = Field(description="story (the scenario), white cell, or team (a statement).")


class InjectFile(_Model):
    """A file an inject carried (a scenario bundle's asset)."""

    scenario_time: float
    inject_title: str
    title: str
    file: str
    media_type: str
    size: int
    data_uri: str | None = Field(
        default=None,
        exclude=True,
        description="An image, embedded (HTML and PDF); not in the JSON export.",
    )


class RoadOption(_Model):
    option_id: str
    label: str
    leads_to: list[str] = Field(description="Titles of the injects that branch would bring.")
    would_skip: list[str] = Field(description="Titles of injects it would have suppressed.")
    ends_drill: bool
    feedback: str | None


class RoadNotTaken(_Model):
    decision_id: str
    prompt: str
    title: str = Field(
        description="What is decided: the scenario's title, else the prompt's first sentences."
    )
    chosen: list[str]
    untaken: list[RoadOption]


class HotWashResponse(_Model):
    name: str
    role: str | None
    went_well: str
    improve: str
    confidence: int


class HotWashRole(_Model):
    role: str | None
    role_title: str
    responses: int
    mean_confidence: float


class Note(_Model):
    seq: int
    scenario_time: float
    author: str
    objective_id: str | None
    text: str


class Report(_Model):
    report_version: int = REPORT_VERSION
    generated_at: float
    overview: Overview
    summary: str | None
    scores: Scorecard
    objectives: list[ObjectiveSection]
    timeline: list[TimelineLine]
    path: list[str] = Field(description="Branch-graph node ids the drill went through.")
    knowledge: list[KnowledgeLine]
    files: list[InjectFile] = Field(
        default_factory=list, description="The files the delivered injects carried."
    )
    threads: list[OutsideThread] = Field(
        default_factory=list,
        description="Every exchange with an outside party, per party and role.",
    )
    feed: list[FeedItem] = Field(
        default_factory=list, description="The public feed, in the order it was posted."
    )
    regulatory: list[RegulatoryDuty] = Field(
        default_factory=list,
        description="Every duty of the notification regimes the scenario plays, in order.",
    )
    road_not_taken: list[RoadNotTaken]
    hot_wash: list[HotWashResponse]
    hot_wash_by_role: list[HotWashRole]
    notes: list[Note]
    improvement_plan: list[ImprovementItem]
    retested: list[ImprovementItem] = Field(
        description="Open items from earlier drills that this drill's scenario exercised again."
    )


def report_schema() -> dict[str, Any]:
    schema = Report.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Tabletop after-action report"
    return schema
