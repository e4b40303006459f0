"""Build the after-action report from a scenario and a drill's log. Pure and synchronous:
the same log, review and items always give the same report (`generated_at` aside).

Scores come from `app.engine.scoring.scorecard`, so the report, the console, the API and
every export show the same numbers.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.authoring.graph import taken_path
from app.engine import payloads as p
from app.engine.events import FACILITATOR, SYSTEM, Event, EventType, is_facilitator_actor
from app.engine.index import index_of
from app.engine.notices import FieldCheck
from app.engine.payloads import NoticeFiled
from app.engine.regulatory import owed_to, regimes_in_play, story_seconds
from app.engine.scenario import PartyKind, Scenario, story_datetime
from app.engine.scoring import Dimension, Scorecard, ScoreItem, scorecard
from app.engine.timeline import end_reason, told
from app.heap import collector_held
from app.reports.model import (
    RATING_LABELS,
    FeedItem,
    HotWashResponse,
    HotWashRole,
    ImprovementItem,
    InjectFile,
    ItemStatus,
    KnowledgeLine,
    Note,
    NoticeField,
    ObjectiveSection,
    OutsideThread,
    Overview,
    ParticipantLine,
    Rating,
    RegulatoryDuty,
    Report,
    Review,
    RoadNotTaken,
    RoadOption,
    ThreadItem,
    TimelineLine,
)

RATING_BANDS: tuple[tuple[float, Rating], ...] = (
    (85.0, Rating.P),
    (60.0, Rating.S),
    (30.0, Rating.M),
)
"""Lowest percentage for each rating; below the last it is U (unable to be performed)."""

ESCALATION_ROLES = ("legal", "executive")


@dataclass(frozen=True, slots=True)
class DrillMeta:
    """What the log does not hold: who ran the drill."""

    facilitator: str | None = None


@dataclass(frozen=True, slots=True)
class Inputs:
    scenario: Scenario
    events: Sequence[Event]
    meta: DrillMeta = DrillMeta()
    review: Review = field(default_factory=Review)
    items: Sequence[ImprovementItem] = ()
    """This drill's improvement plan."""
    earlier_open_items: Sequence[ImprovementItem] = ()
    """Items still open from earlier drills, to find which ones this drill re-tested."""
    assets: Mapping[str, tuple[str, bytes]] = field(default_factory=dict)
    """The scenario bundle's files: path -> (media type, content)."""
    scores: Scorecard | None = None
    """The log's scorecard, when the caller holds it already (a stored copy that still
    holds, app/services/scorecards): the same numbers, without replaying the log."""


def derive_rating(percent: float | None) -> Rating | None:
    if percent is None:
        return None
    for lowest, rating in RATING_BANDS:
        if percent >= lowest:
            return rating
    return Rating.U


def build_report(inputs: Inputs, now: float) -> Report:
    with collector_held():  # the report of a long drill: tens of thousands of objects
        return _report(inputs, now)


def _report(inputs: Inputs, now: float) -> Report:
    scenario, events = inputs.scenario, inputs.events
    if not events or events[0].type is not EventType.drill_created:
        raise ValueError("a report needs a drill's log, starting with drill_created")
    scores = inputs.scores if inputs.scores is not None else scorecard(scenario, events)
    names = _names(events)
    return Report(
        generated_at=now,
        overview=_overview(scenario, events, inputs.meta, names),
        summary=inputs.review.summary,
        scores=scores,
        objectives=_objectives(scenario, events, scores, inputs.review, names),
        timeline=_timeline(scenario, events),
        path=sorted(taken_path(scenario, events)),
        knowledge=_knowledge(scenario, events),
        regulatory=_regulatory(scenario, events),
        files=_files(events, inputs.assets),
        threads=_threads(scenario, events),
        feed=_feed(events),
        road_not_taken=_road_not_taken(scenario, scores),
        hot_wash=_hot_wash(events, names),
        hot_wash_by_role=_hot_wash_by_role(scenario, events),
        notes=_notes(events, names),
        improvement_plan=list(inputs.items),
        retested=_retested(
            scenario, p.drill_created(events[0])["drill_id"], inputs.earlier_open_items
        ),
    )


# --------------------------------------------------------------------------- regulatory

STATE_LABELS = {
    "waiting": "Never started",
    "running": "Not filed; due after the drill",
    "filed": "Filed on time",
    "late": "Filed late",
    "missed": "Missed",
    "not required": "Not required (below its threshold)",
}
WHILE_RUNNING = {"waiting": "Not started yet", "running": "Not filed yet; still due"}
"""A draft report of a drill still running words the open clocks differently."""


def _regulatory(scenario: Scenario, events: Sequence[Event]) -> list[RegulatoryDuty]:
    """Every duty's clock as of the log's last event (the drill's end once it ended)."""
    last = max(e.scenario_time for e in events)
    ended = any(e.type is EventType.drill_ended for e in events)
    by_seq = {e.seq: e for e in events}
    rows: list[RegulatoryDuty] = []
    for use in regimes_in_play(scenario, events, last):
        for clock in use.clocks:
            filing = use.filing(clock.duty.id)
            message = by_seq.get(filing.seq) if filing is not None else None
            text = None
            if message is not None:
                sent = p.message_sent(message)
                text = "\n\n".join(part for part in (sent["subject"], sent["body"]) if part)
            state = str(clock.state)
            label = STATE_LABELS[state] if ended else WHILE_RUNNING.get(state, STATE_LABELS[state])
            written = use.written_instead(scenario, clock)
            if written is not None:
                label = f"Missed: written to {', '.join(written)} instead"
            complete = use.completeness.get(clock.duty.id)
            notice = None if filing is None else filing.notice
            rows.append(
                RegulatoryDuty(
                    regime=clock.regime.id,
                    regime_name=clock.regime.name,
                    duty=clock.duty.id,
                    title=clock.duty.title,
                    owed_to=owed_to(scenario, use.use, clock.duty),
                    source=clock.duty.source,
                    state=state,
                    state_label=label,
                    started_at=story_seconds(scenario, clock.started_at),
                    due_at=story_seconds(scenario, clock.due_at),
                    filed_at=None if filing is None else filing.scenario_time,
                    story_due=None
                    if clock.due_at is None
                    else clock.due_at.isoformat(timespec="minutes"),
                    filed_by=None if filing is None else scenario.role_title(filing.from_role),
                    filed_text=text,
                    filed_as=None if filing is None else ("form" if notice else "message"),
                    signed_off_by=_title_of(scenario, notice["signed_off_by"] if notice else None),
                    follow_up=bool(notice and notice["follow_up"]),
                    complete=None if complete is None else complete.complete,
                    required=sum(1 for f in clock.duty.fields if f.required),
                    fields=[]
                    if complete is None
                    else [_notice_field(scenario, check, notice) for check in complete.checks],
                )
            )
    return rows


def _notice_field(scenario: Scenario, check: FieldCheck, notice: NoticeFiled | None) -> NoticeField:
    editor = None if notice is None else notice["edited_by"].get(check.field.id)
    return NoticeField(
        label=check.field.label,
        source=check.field.source,
        required=check.field.required,
        value=check.value,
        status=str(check.status),
        detail=check.detail,
        counts=check.counts,
        rated=None if check.rating is None else check.rating.reason,
        edited_by=_title_of(scenario, editor),
    )


def _title_of(scenario: Scenario, role: str | None) -> str | None:
    return None if role is None else scenario.role_title(role)


# --------------------------------------------------------------------------- outside world


def _files(events: Sequence[Event], assets: Mapping[str, tuple[str, bytes]]) -> list[InjectFile]:
    """Each file a delivered inject carried; images embedded for the HTML and PDF."""
    found: list[InjectFile] = []
    for e in events:
        if e.type is not EventType.inject_delivered:
            continue
        delivered = p.inject_delivered(e)
        for item in delivered.get("attachments", ()):
            media_type, data = assets.get(item["file"], ("application/octet-stream", b""))
            image = media_type.startswith("image/") and data
            found.append(
                InjectFile(
                    scenario_time=e.scenario_time,
                    inject_title=delivered["title"],
                    title=item["title"],
                    file=item["file"],
                    media_type=media_type,
                    size=len(data),
                    data_uri=f"data:{media_type};base64,{base64.b64encode(data).decode()}"
                    if image
                    else None,
                )
            )
    return found


def _threads(scenario: Scenario, events: Sequence[Event]) -> list[OutsideThread]:
    """Each role's exchanges with each outside party (messages to it, its answers), in
    the order the first one happened."""
    threads: dict[tuple[str, str], list[ThreadItem]] = {}
    parties = scenario.parties
    for e in events:
        if e.type is EventType.message_sent:
            sent = p.message_sent(e)
            for party in sent["to"]:
                if party not in parties:  # most messages go to roles only
                    continue
                threads.setdefault((party, sent["from_role"]), []).append(
                    ThreadItem(
                        scenario_time=e.scenario_time,
                        from_team=True,
                        by=scenario.role_title(sent["from_role"]),
                        subject=sent["subject"],
                        body=sent["body"],
                    )
                )
        elif e.type is EventType.party_replied:
            replied = p.party_replied(e)
            how = "white cell" if replied["by"] == "white_cell" else "sent by itself"
            for role in replied["to"]:
                threads.setdefault((replied["party"], role), []).append(
                    ThreadItem(
                        scenario_time=e.scenario_time,
                        from_team=False,
                        by=f"{scenario.recipient_name(replied['party'])} ({how})",
                        subject=replied["subject"],
                        body=replied["body"],
                    )
                )
    return [
        OutsideThread(
            party=party,
            party_name=scenario.recipient_name(party),
            role=role,
            role_title=scenario.role_title(role),
            items=items,
            unanswered=items[-1].from_team,
        )
        for (party, role), items in threads.items()
        # A party that never answers and plays no part (the board, staff) is no thread.
        if any(not i.from_team for i in items) or _answers(scenario, party)
    ]


def _answers(scenario: Scenario, party: str) -> bool:
    """A party the story expects to answer: it has replies, or it is the press or a
    regulator (whom a white cell would play)."""
    found = scenario.parties[party]
    return bool(found.replies) or found.kind in (PartyKind.press, PartyKind.regulator)


def _feed(events: Sequence[Event]) -> list[FeedItem]:
    items: list[FeedItem] = []
    for e in events:
        if e.type is EventType.inject_delivered and "post" in e.data:
            delivered = p.inject_delivered(e)
            post = delivered["post"]
            items.append(
                FeedItem(
                    scenario_time=e.scenario_time,
                    outlet=post["outlet"],
                    handle=post["handle"],
                    title=delivered["title"],
                    text=delivered["body"],
                    tone=post["tone"],
                    likes=post["likes"],
                    shares=post["shares"],
                    replies=post["replies"],
                    source="story",
                )
            )
        elif e.type is EventType.feed_posted:
            posted = p.feed_posted(e)
            items.append(
                FeedItem(
                    scenario_time=e.scenario_time,
                    outlet=posted["outlet"],
                    handle=posted["handle"],
                    title="",
                    text=posted["text"],
                    tone=posted["tone"],
                    likes=posted["likes"],
                    shares=posted["shares"],
                    replies=posted["replies"],
                    source="team" if posted["by"] == "team" else "white cell",
                )
            )
    return items


# --------------------------------------------------------------------------- overview


def _names(events: Sequence[Event]) -> dict[str, str]:
    names = {FACILITATOR: "Facilitator", SYSTEM: "System"}
    for e in events:
        if e.type is EventType.participant_joined:
            joined = p.participant_joined(e)
            names[joined["participant_id"]] = joined["name"]
        elif e.actor not in names and is_facilitator_actor(e.actor):
            names[e.actor] = f"Facilitator ({e.actor.partition(':')[2]})"
    return names


def _first(events: Sequence[Event], kind: EventType) -> Event | None:
    return next((e for e in events if e.type is kind), None)


def _overview(
    scenario: Scenario, events: Sequence[Event], meta: DrillMeta, names: dict[str, str]
) -> Overview:
    created = p.drill_created(events[0])
    started = _first(events, EventType.clock_started)
    ended = _first(events, EventType.drill_ended)
    last = ended or events[-1]
    covered = _stand_ins(scenario, events)
    participants = [
        _participant_line(scenario, p.participant_joined(e), covered)
        for e in events
        if e.type is EventType.participant_joined
    ]
    participants.sort(key=lambda line: (line.role is None, line.role_title, line.name))
    dry_run = created.get("dry_run")
    return Overview(
        drill_id=created["drill_id"],
        name=created["name"],
        scenario_id=scenario.id,
        scenario_title=scenario.title,
        scenario_version=str(created["scenario_version"]),
        created_at=events[0].at,
        started_at=started.at if started else None,
        ended_at=ended.at if ended else None,
        end_reason=_why_it_ended(scenario, ended),
        status="ended" if ended else ("running" if started else "lobby"),
        scenario_duration=(last.scenario_time if started else 0.0),
        real_duration=(last.at - started.at) if started else 0.0,
        dry_run_seconds=dry_run["seconds"] if dry_run else None,
        story_start=story_datetime(scenario, 0.0).isoformat(),
        facilitator=meta.facilitator,
        started_without=[
            scenario.role_title(r)
            for r in (p.clock_started(started).get("unfilled_required", []) if started else [])
        ],
        participants=participants,
        compliance=list(scenario.compliance),
        attack=list(scenario.attack),
    )


def _participant_line(
    scenario: Scenario, joined: p.ParticipantJoinedData, covered: dict[str, set[str]]
) -> ParticipantLine:
    role = joined["role"]
    return ParticipantLine(
        name=joined["name"],
        role=role,
        role_title=scenario.role_title(role) if role else "Observer",
        stood_in_for=sorted(covered.get(role, set())) if role else [],
    )


def _why_it_ended(scenario: Scenario, ended: Event | None) -> str | None:
    if ended is None:
        return None
    d = p.drill_ended(ended)
    why: str | None = d.get("why")
    return str(why or end_reason(scenario, d["reason"] or "ended"))


def _stand_ins(scenario: Scenario, events: Sequence[Event]) -> dict[str, set[str]]:
    """Backup role -> the roles it acted for during the drill: roles away in the story,
    and roles of the scenario not in play this time."""
    created = p.drill_created(events[0])
    backups = created["backups"]
    covered: dict[str, set[str]] = defaultdict(set)
    for role in scenario.roles:
        if role not in created["roles"] and backups.get(role) in created["roles"]:
            covered[backups[role]].add(role)
    for e in events:
        if e.type is EventType.role_unavailable:
            away = p.role_unavailable(e)
            if away["backup"]:
                covered[away["backup"]].add(away["role"])
    return covered


# --------------------------------------------------------------------------- objectives


def _objectives(
    scenario: Scenario,
    events: Sequence[Event],
    scores: Scorecard,
    review: Review,
    names: dict[str, str],
) -> list[ObjectiveSection]:
    notes: dict[str, list[str]] = defaultdict(list)
    for e in events:
        if e.type is EventType.note_added:
            note = p.note_added(e)
            if note["objective_id"]:
                notes[note["objective_id"]].append(f"{names.get(e.actor, e.actor)}: {note['text']}")
    sections = []
    for objective_id, objective in scenario.objectives.items():
        score = scores.objectives[objective_id]
        items = [i for i in scores.items if i.objective == objective_id]
        edited = review.objectives.get(objective_id)
        derived = derive_rating(score.percent)
        rating = edited.rating if edited and edited.rating else derived
        strengths, improvements = _drafts(scenario, items)
        if edited and edited.strengths is not None:
            strengths = list(edited.strengths)
        if edited and edited.improvements is not None:
            improvements = list(edited.improvements)
        sections.append(
            ObjectiveSection(
                id=objective_id,
                title=objective.title,
                phase=objective.phase.value,
                capability=objective.capability or objective.title,
                score=score,
                derived_rating=derived,
                rating=rating,
                rating_label=RATING_LABELS[rating] if rating else "Not rated",
                rating_edited=bool(edited and edited.rating and edited.rating != derived),
                strengths=strengths,
                improvements=improvements,
                notes=notes.get(objective_id, []),
            )
        )
    return sections


def _drafts(scenario: Scenario, items: list[ScoreItem]) -> tuple[list[str], list[str]]:
    """Strengths and areas for improvement drafted from the scored log; reviewers edit them."""
    strengths: list[str] = []
    improvements: list[str] = []
    for item in items:
        who = scenario.role_title(item.role) if item.role else "The team"
        if item.dimension is Dimension.adjustments:
            target = strengths if item.points > 0 else improvements
            target.append(f"Facilitator ({item.points:+g}): {item.detail}")
        elif item.status == "timed_out":
            # Nobody decided: never a strength, whatever the default was worth.
            if item.max_points > 0 or item.points < 0:
                improvements.append(f"{item.title} ({who}): {item.detail}.")
        elif item.max_points <= 0:
            continue
        elif item.points >= item.max_points:
            strengths.append(f"{item.title} ({who}): {item.detail}.")
        else:
            improvements.append(
                f"{item.title} ({who}): {item.detail}; "
                f"{item.points:g} of {item.max_points:g} points."
            )
    return list(dict.fromkeys(strengths)), list(dict.fromkeys(improvements))


# --------------------------------------------------------------------------- timeline


def _timeline(scenario: Scenario, events: Sequence[Event]) -> list[TimelineLine]:
    return told(scenario, events, _line)


_TIMELINE_LINE = TimelineLine.__pydantic_validator__
"""TimelineLine's own validator: given a dict, it checks and builds the same model as
`TimelineLine(...)` does, at about half the cost of pydantic's keyword `__init__` around
it. A long drill's report makes 10,000 lines."""


def _line(event: Event, offset: str, story_time: str, text: str) -> TimelineLine:
    line: TimelineLine = _TIMELINE_LINE.validate_python(
        {
            "seq": event.seq,
            "scenario_time": event.scenario_time,
            "offset": offset,
            "story_time": story_time,
            "kind": str(event.type),  # the value: a C call, where `.value` is enum's property
            "text": text,
            "roles": _roles_of(event),
        }
    )
    return line


def _roles_of(event: Event) -> list[str]:
    kind = event.type
    if kind is EventType.message_sent:  # first: nine lines in ten of a long log
        return [p.message_sent(event)["from_role"]]
    if kind is EventType.inject_delivered:
        return list(p.inject_delivered(event)["recipients"])
    if kind is EventType.role_unavailable:
        return [p.role_unavailable(event)["role"]]
    if kind is EventType.role_available:
        return [p.role_available(event)["role"]]
    return []


# --------------------------------------------------------------------------- who knew what


def _knowledge(scenario: Scenario, events: Sequence[Event]) -> list[KnowledgeLine]:
    """Facts reach a role by an inject that reveals them, or by a message from someone who
    already knew; an outside party learns them only by a message."""
    regulators = [
        party_id
        for party_id, party in scenario.parties.items()
        if party.kind is PartyKind.regulator
    ]
    # One pass over the log for all facts (a long drill has 10,000s of events). `knows`
    # is what each role or party knows so far: a message passes on only what its
    # recipients do not know yet, which soon is nothing.
    first_seen: dict[str, dict[str, float]] = {fact: {} for fact in scenario.facts}
    first_revealed: dict[str, float] = {}
    knows: defaultdict[str, set[str]] = defaultdict(set)
    for e in events:
        if e.type is EventType.message_sent:  # first: nine events in ten
            message = p.message_sent(e)
            told = knows.get(message["from_role"])
            if not told:
                continue
            for recipient in [*message["to"], *message.get("recipients", [])]:
                known = knows[recipient]
                if told <= known:  # the usual case, soon: no set made to learn nothing
                    continue
                for fact in told - known:
                    first_seen[fact].setdefault(recipient, e.scenario_time)
                known |= told
        elif e.type is EventType.inject_delivered:
            inject = p.inject_delivered(e)
            for fact in inject["facts"]:
                reached = first_seen.get(fact)
                if reached is None:  # not a fact of this scenario
                    continue
                first_revealed.setdefault(fact, e.scenario_time)
                for role in inject["recipients"]:
                    reached.setdefault(role, e.scenario_time)
                    knows[role].add(fact)
    lines = []
    for fact, title in scenario.facts.items():
        seen = first_seen[fact]
        revealed = first_revealed.get(fact)
        escalation: dict[str, float | None] = {}
        for target in [*ESCALATION_ROLES, *regulators[:1]]:
            if target not in scenario.roles and target not in scenario.parties:
                continue
            key = "regulator" if target in regulators else target
            when = seen.get(target)
            escalation[key] = None if when is None or revealed is None else when - revealed
        lines.append(
            KnowledgeLine(
                fact=fact,
                title=title,
                revealed_at=revealed,
                first_seen=seen,
                escalation=escalation,
            )
        )
    return lines


# --------------------------------------------------------------------------- road not taken


def _road_not_taken(scenario: Scenario, scores: Scorecard) -> list[RoadNotTaken]:
    index = index_of(scenario)
    roads = []
    for result in scores.decisions:
        spec = scenario.decision(result.decision_id)
        chosen = {a.option_id for a in result.answers}
        untaken = []
        for option in spec.options:
            if option.id in chosen:
                continue
            followers = index.after_option.get(f"{spec.id}.{option.id}")
            brought = [scenario.inject(i) for i in option.triggers]
            brought += list(followers.injects) if followers is not None else []
            untaken.append(
                RoadOption(
                    option_id=option.id,
                    label=option.label,
                    leads_to=list(dict.fromkeys(i.title for i in brought)),
                    would_skip=[scenario.inject(i).title for i in option.suppresses],
                    ends_drill=option.ends_drill,
                    feedback=option.feedback,
                )
            )
        roads.append(
            RoadNotTaken(
                decision_id=spec.id,
                prompt=result.prompt,
                title=result.title,
                chosen=[a.option_label for a in result.answers],
                untaken=untaken,
            )
        )
    return roads


# --------------------------------------------------------------------------- hot wash, notes


def _hot_wash(events: Sequence[Event], names: dict[str, str]) -> list[HotWashResponse]:
    return [
        _hot_wash_response(p.feedback_given(e), names)
        for e in events
        if e.type is EventType.feedback_given
    ]


def _hot_wash_response(d: p.FeedbackGivenData, names: dict[str, str]) -> HotWashResponse:
    return HotWashResponse(
        name=names.get(d["participant_id"], d["participant_id"]),
        role=d["role"],
        went_well=d["went_well"],
        improve=d["improve"],
        confidence=int(d["confidence"]),
    )


def _hot_wash_by_role(scenario: Scenario, events: Sequence[Event]) -> list[HotWashRole]:
    by_role: dict[str | None, list[int]] = defaultdict(list)
    for e in events:
        if e.type is EventType.feedback_given:
            feedback = p.feedback_given(e)
            by_role[feedback["role"]].append(int(feedback["confidence"]))
    return [
        HotWashRole(
            role=role,
            role_title=scenario.role_title(role) if role else "Observers",
            responses=len(scores),
            mean_confidence=round(sum(scores) / len(scores), 2),
        )
        for role, scores in sorted(by_role.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    ]


def _notes(events: Sequence[Event], names: dict[str, str]) -> list[Note]:
    return [_note(e, p.note_added(e), names) for e in events if e.type is EventType.note_added]


def _note(e: Event, d: p.NoteAddedData, names: dict[str, str]) -> Note:
    return Note(
        seq=e.seq,
        scenario_time=e.scenario_time,
        author=names.get(e.actor, e.actor),
        objective_id=d["objective_id"],
        text=d["text"],
    )


def _retested(
    scenario: Scenario, drill_id: str, open_items: Sequence[ImprovementItem]
) -> list[ImprovementItem]:
    """Open items from other drills this scenario exercised: the same scenario, or an
    objective with the same capability."""
    capabilities = {
        (o.capability or o.title).strip().casefold() for o in scenario.objectives.values()
    }
    return [
        item
        for item in open_items
        if item.drill_id != drill_id
        and item.status is not ItemStatus.closed
        and (item.scenario_id == scenario.id or item.capability.strip().casefold() in capabilities)
    ]
