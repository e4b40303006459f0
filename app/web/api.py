"""The JSON API: thin adapters over the drills and accounts services."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, Field, StringConstraints

from app.db.models import Drill
from app.engine import commands as c
from app.engine.errors import Code, DomainError
from app.engine.regulatory import (
    clock_summary,
    notice_summary,
    recipient_party,
    story_seconds,
    visible_to,
)
from app.engine.scenario import MAX_SPEED, fill
from app.engine.scoring import Scorecard
from app.engine.state import notice_key
from app.realtime.visibility import visible, visible_log
from app.services import library
from app.services.drills import DrillNotFound, ScenarioInvalid, new_drill_id
from app.services.security import format_join_code
from app.web import signin
from app.web.auth import (
    DrillFacilitatorUser,
    Facilitator,
    require_drill_viewer,
    run_refusal,
    score_refusal,
    signed_in,
)
from app.web.deps import (
    SESSION_COOKIE,
    SameOrigin,
    TooManyWrongCodes,
    accounts,
    cookie,
    delete_secret_cookie,
    drill_for_join_code,
    drills,
    participant_cookie,
    participant_of,
    refusals,
    set_secret_cookie,
)
from app.web.forms import attachment as download_headers

router = APIRouter(prefix="/api", tags=["api"])

# PostgreSQL's text cannot hold NUL (SQLite's can): refused at the door with a 422, not
# left to fail the query (a 500) or the write (a 503).
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, StringConstraints(pattern=NO_NUL)]
DrillIdPath = Annotated[str, Path(pattern=NO_NUL)]


class Credentials(BaseModel):
    username: Text = Field(max_length=80)
    password: str = Field(max_length=1024)


class SignedIn(BaseModel):
    username: str
    role: str


@router.post("/session", dependencies=[SameOrigin], responses=refusals(400, 401, 403, 429, 503))
async def sign_in(body: Credentials, request: Request, response: Response) -> SignedIn:
    """Sign in; the session cookie is new on every sign-in (no session fixation). 429
    (with Retry-After) after 10 attempts at one account, or 30 from one address, in 5
    minutes; 403 for a disabled account."""
    token = await signin.sign_in(request, body.username, body.password)
    user = await accounts(request).user_for_session(token)
    assert user is not None
    set_secret_cookie(response, request, SESSION_COOKIE, token)
    return SignedIn(username=user.username, role=user.role)


@router.delete("/session", dependencies=[SameOrigin], status_code=204, responses=refusals(403, 503))
async def sign_out(request: Request, response: Response) -> None:
    await accounts(request).sign_out(cookie(request, SESSION_COOKIE), signin.actor(request))
    delete_secret_cookie(response, request, SESSION_COOKIE)


class ScenarioSummary(BaseModel):
    file: str
    id: str
    title: str
    roles: list[str]


@router.get("/scenarios", responses=refusals(401, 403))
async def list_scenarios(request: Request, user: Facilitator) -> list[ScenarioSummary]:
    """The scenario library: shipped files and uploads that validate, by their key."""
    found = await library.library(request.app.state.settings.scenarios_dir, drills(request))
    return [
        ScenarioSummary(file=f.key, id=s.id, title=s.title, roles=list(s.roles))
        for f in found
        if (s := f.loaded.scenario) is not None
    ]


class NewDrill(BaseModel):
    scenario: Text = Field(
        description="A library key: a shipped file's name (e.g. mini.yaml) or an upload's "
        "upload-<sha256 prefix>, as GET /api/scenarios lists them",
        max_length=200,
    )
    name: Text = Field(max_length=80)
    speed: float | None = Field(default=None, gt=0, le=MAX_SPEED)
    roles: list[Text] | None = Field(default=None, max_length=50)
    backups: dict[Text, Text] = Field(default_factory=dict)
    variables: dict[Text, Text] = Field(default_factory=dict)


class DrillSummary(BaseModel):
    id: str
    name: str
    status: str
    join_code: str | None = None


@router.post(
    "/drills",
    dependencies=[SameOrigin],
    status_code=201,
    responses=refusals(400, 401, 403, 404, 503),
)
async def create_drill(body: NewDrill, request: Request, user: Facilitator) -> DrillSummary:
    found = await library.find(
        request.app.state.settings.scenarios_dir, drills(request), body.scenario
    )
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no scenario {body.scenario!r} in the library: use a key that GET "
            "/api/scenarios lists (a file's name, such as ransomware-holiday-weekend.yaml)",
        )
    service = drills(request)
    command = c.CreateDrill(
        new_drill_id(), body.name, body.speed, body.variables, body.roles, body.backups
    )
    try:
        drill_id = await service.create_drill(
            found.source,
            found.origin,
            command,
            created_by=user.username,
            assets=found.loaded.assets,
        )
    except ScenarioInvalid as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    except DomainError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{exc.code}: {exc.message}") from exc
    drill = await service.drill(drill_id)
    return DrillSummary(
        id=drill.id,
        name=drill.name,
        status=drill.status,
        join_code=format_join_code(service.join_code(drill.id)),
    )


class JoinRequest(BaseModel):
    code: str = Field(max_length=40)
    name: Text = Field(max_length=200)
    role: Text | None = Field(
        default=None, max_length=64, description="A role in play, or null to observe."
    )
    attempt: str | None = Field(
        default=None,
        min_length=16,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="A random id for this join: sent again after a 503 or a lost answer, "
        "it joins the same participant once (with a new token), never a second one.",
    )
    parties: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list,
        max_length=50,
        description="With the white-cell code: the outside parties this person plays.",
    )


class Joined(BaseModel):
    drill_id: str
    participant_id: str
    role: str | None


@router.post("/join", dependencies=[SameOrigin], responses=refusals(400, 403, 404, 429, 503))
async def join(body: JoinRequest, request: Request, response: Response) -> Joined:
    """Join a drill with its code; the participant token goes in an HttpOnly cookie."""
    service = drills(request)
    drill = await _drill_for_code(request, body.code)
    white_cell = service.is_white_cell_code(drill, body.code)
    if white_cell != bool(body.parties) or (white_cell and body.role is not None):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            "the white-cell code joins to play outside parties: choose `parties` and no "
            "role; the team's code joins with a role (or none, to observe) and no parties",
        )
    try:
        participant_id, token = await service.join(
            drill.id, body.name, body.role, body.attempt, tuple(body.parties)
        )
    except DomainError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{exc.code}: {exc.message}") from exc
    set_secret_cookie(response, request, participant_cookie(drill.id), token)
    return Joined(drill_id=drill.id, participant_id=participant_id, role=body.role)


@router.get(
    "/drills/{drill_id}/attachments/{seq}/{index}",
    responses=refusals(401, 403, 404),
    response_class=Response,
)
async def inject_attachment(
    drill_id: DrillIdPath,
    seq: Annotated[int, Path(ge=1, le=2**31 - 1)],
    index: Annotated[int, Path(ge=0, le=50)],
    request: Request,
) -> Response:
    """A file an inject carried, for whoever may see that inject (404 for anyone else,
    as for an inject that does not exist): its real media type, never sniffed by the
    browser; images shown inline, every other kind downloaded."""
    viewer = await require_drill_viewer(request, drill_id)
    service = drills(request)
    try:
        events = await service.events(drill_id, seq - 1, limit=1)
    except DrillNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    # Who sees an inject does not depend on whether scores are released.
    shown = visible(events[0], viewer, scores_released=False) if events else None
    files = shown["data"].get("attachments", []) if shown is not None else []
    if shown is None or shown["type"] != "inject_delivered" or index >= len(files):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such attachment")
    asset = await service.attachment(drill_id, files[index]["file"])
    if asset is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such attachment")
    name = files[index]["file"].rsplit("/", 1)[-1]
    inline = asset.media_type.startswith("image/")
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=3600",
        **({} if inline else download_headers(name)),
    }
    return Response(asset.data, media_type=asset.media_type, headers=headers)


class JoinInfo(BaseModel):
    drill_id: str
    name: str
    status: str
    roles: dict[str, str] = Field(description="The roles in play: id to title.")
    white_cell: bool = Field(
        default=False, description="The white-cell code: join to play outside parties."
    )
    parties: dict[str, str] = Field(
        default_factory=dict,
        description="With the white-cell code: the outside parties, id to name.",
    )


@router.get("/join/{code}", responses=refusals(404, 429))
async def join_info(code: str, request: Request) -> JoinInfo:
    """What a join code opens (what the join page shows): the drill and its roles."""
    drill = await _drill_for_code(request, code)
    service = drills(request)
    scenario, state = await service.state(drill.id)
    white_cell = service.is_white_cell_code(drill, code)
    return JoinInfo(
        drill_id=drill.id,
        name=state.name,
        status=str(state.status),
        roles={} if white_cell else {r: scenario.role_title(r) for r in state.roles},
        white_cell=white_cell,
        parties={k: fill(v.name, state.variables) for k, v in scenario.parties.items()}
        if white_cell
        else {},
    )


async def _drill_for_code(request: Request, code: str) -> Drill:
    """The drill with this code, or the 429 / 404 that says why not."""
    try:
        drill = await drill_for_join_code(request, code)
    except TooManyWrongCodes:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many wrong join codes from here; wait a minute and try again",
        ) from None
    if drill is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "no drill has that code; check it with your facilitator"
        )
    return drill


@router.get("/drills/{drill_id}/events", responses=refusals(401, 404))
async def drill_events(
    drill_id: DrillIdPath, request: Request, since: Annotated[int, Query(ge=0)] = 0
) -> list[dict[str, Any]]:
    """The drill's log after `since`, as the caller may see it."""
    viewer = await require_drill_viewer(request, drill_id)
    service = drills(request)
    try:
        _, state = await service.state(drill_id)
        events = await service.events(drill_id, since)
    except DrillNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return visible_log(events, viewer, state.scores_released)


@router.delete(
    "/drills/{drill_id}/participants/{participant_id}",
    dependencies=[SameOrigin],
    status_code=204,
    responses=refusals(400, 401, 403, 404, 503),
)
async def remove_participant(
    drill_id: DrillIdPath,
    participant_id: Annotated[str, Path(pattern=NO_NUL, max_length=64)],
    request: Request,
    user: DrillFacilitatorUser,
) -> None:
    """Take a participant off the drill's roster: their token stops working at once, every
    websocket they have open closes with 4001 (on every worker), and the log records
    `participant_left`. They may join again with the code (as someone new)."""
    service = drills(request)
    try:
        await service.drill(drill_id)
        await service.remove_participant(
            drill_id, participant_id, c.Actor(None, user=user.username)
        )
    except DrillNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except DomainError as exc:
        unknown = exc.code is Code.unknown_participant
        code = status.HTTP_404_NOT_FOUND if unknown else status.HTTP_400_BAD_REQUEST
        raise HTTPException(code, exc.message) from exc


class NewRole(BaseModel):
    role: Annotated[str, StringConstraints(pattern=NO_NUL, max_length=64)] | None = Field(
        description="The role from now on; null makes them an observer."
    )


class Reroled(BaseModel):
    participant_id: str = Field(description="Their id from now on (the log's new join).")
    role: str | None


@router.post(
    "/drills/{drill_id}/participants/{participant_id}",
    dependencies=[SameOrigin],
    responses=refusals(400, 401, 403, 404, 503),
)
async def rerole_participant(
    drill_id: DrillIdPath,
    participant_id: Annotated[str, Path(pattern=NO_NUL, max_length=64)],
    body: NewRole,
    request: Request,
    user: DrillFacilitatorUser,
) -> Reroled:
    """Give a participant another role (`null`: observer). The log records it as their
    join with the new role (under a new participant id) and the old id's leaving; every
    websocket they had open closes with 4001, and their page shows the new role's share
    once reloaded (their cookie stays good). 400 for a role not in play."""
    service = drills(request)
    try:
        await service.drill(drill_id)
        new_id = await service.rerole_participant(
            drill_id, participant_id, body.role, c.Actor(None, user=user.username)
        )
    except DrillNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except DomainError as exc:
        unknown = exc.code is Code.unknown_participant
        code = status.HTTP_404_NOT_FOUND if unknown else status.HTTP_400_BAD_REQUEST
        raise HTTPException(code, exc.message) from exc
    return Reroled(participant_id=new_id, role=body.role)


@router.get("/drills/{drill_id}/score", responses=refusals(401, 403, 404))
async def drill_score(drill_id: DrillIdPath, request: Request) -> Scorecard:
    """The drill's scorecard: every point with the events behind it, totals per objective,
    role and dimension. The facilitator always; reviewers once the drill has ended;
    participants once the facilitator has released the scores; observers, who see every
    scoring event as it happens, always."""
    user = await signed_in(request)
    participant = await participant_of(request, drill_id)
    if user is None and participant is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in, or join this drill first")
    service = drills(request)
    not_theirs = await run_refusal(request, user, drill_id)
    if not_theirs is not None and participant is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, not_theirs)
    try:
        _, state = await service.state(drill_id)
        refusal = score_refusal(None if not_theirs else user, participant, state)
        if refusal is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, refusal)
        return await service.scorecard(drill_id)
    except DrillNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


class NoticeRating(BaseModel):
    complete: bool
    reason: str


class NoticeFieldOut(BaseModel):
    id: str
    label: str
    kind: str
    """text, number, datetime or contact."""
    required: bool
    source: str
    """The article or section of the template that asks for it."""
    value: str
    """As drafted so far, or as filed."""
    edited_by: str | None
    """The role that last wrote it."""
    status: str | None
    """Once filed: complete, not yet known, missing or inconsistent."""
    detail: str | None
    counts: bool | None
    """Once filed: whether it counts as complete (the facilitator's rating first)."""
    rating: NoticeRating | None


class NoticeOut(BaseModel):
    fields: list[NoticeFieldOut]
    follow_up: bool
    """The notice promises to send what is not yet known."""
    sign_off: str | None
    """The role that must sign it off before it is filed (None: no sign-off)."""
    sign_off_title: str | None
    signed_off: bool
    """Signed off as it stands now."""
    signed_off_by: str | None
    filed: bool
    filed_by: str | None
    filed_as: str | None
    """`form`, or `message` when a free-text message filed the duty."""
    filed_text: str | None
    complete: int | None
    """Once filed: the required fields complete (for participants once the scores are
    released, like every score; None until then)."""
    required: int


class DutyClockOut(BaseModel):
    regime: str
    duty: str
    title: str
    owed_to: str
    state: str
    """waiting, running, filed, late, missed or not required."""
    started: str | None
    due: str | None
    filed: str | None
    """Moments of the story, ISO 8601 in the scenario's time zone."""
    due_scenario_time: float | None
    """The deadline on the scenario clock (seconds since its start), for countdowns."""
    source: str
    party: str | None
    """The scenario's party the notice goes to (None: the scenario names none)."""
    notice: NoticeOut
    may_draft: bool
    """This viewer's role drafts and files this regime's notices."""
    may_sign_off: bool


class RegulatoryClocks(BaseModel):
    scenario_time: float
    clocks: list[DutyClockOut]
    may_rate: bool
    """This viewer (the facilitator) may rate the fields of filed notices."""


@router.get("/drills/{drill_id}/regulatory", responses=refusals(401, 403, 404))
async def regulatory_clocks(drill_id: DrillIdPath, request: Request) -> RegulatoryClocks:
    """Every notification duty's clock as of now, with its notice form as drafted or
    filed: the facilitator and observers see every regime's; a participant those the
    scenario names their role for (403 otherwise)."""
    viewer = await require_drill_viewer(request, drill_id)
    try:
        scenario, state, in_play, now = await drills(request).regulatory(drill_id)
    except DrillNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    sees_all = viewer.kind in ("facilitator", "observer")
    shown = [u for u in in_play if sees_all or visible_to(u.use, viewer.role)]
    if in_play and not shown:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "the regulatory clocks are for the roles the scenario names for them",
        )
    role = viewer.role if viewer.kind == "participant" else None
    judged = role is None or state.scores_released  # how complete a notice was is a score
    clocks = [
        DutyClockOut(
            **clock_summary(scenario, use.use, clock),
            due_scenario_time=story_seconds(scenario, clock.due_at),
            party=recipient_party(use.use, clock.duty),
            notice=NoticeOut.model_validate(
                notice_summary(
                    scenario,
                    use,
                    clock.duty,
                    state.notices.get(notice_key(use.regime.id, clock.duty.id)),
                    judged,
                )
            ),
            may_draft=role is not None and role in use.use.drafters(),
            may_sign_off=role is not None and role == use.use.sign_off,
        )
        for use in shown
        for clock in use.clocks
    ]
    return RegulatoryClocks(scenario_time=now, clocks=clocks, may_rate=viewer.kind == "facilitator")


class Facilitators(BaseModel):
    owner: str | None
    """Who made the drill (None: made from the shell, or before drills had owners)."""
    facilitators: list[str]
    """Everyone who runs it, the owner first; empty: open to every facilitator."""


class NewFacilitator(BaseModel):
    username: Text = Field(max_length=80)


@router.get("/drills/{drill_id}/facilitators", responses=refusals(401, 403, 404))
async def list_facilitators(
    drill_id: DrillIdPath, request: Request, user: DrillFacilitatorUser
) -> Facilitators:
    """Who runs the drill: its owner and the co-facilitators they added."""
    return await _facilitators(request, drill_id)


async def _facilitators(request: Request, drill_id: str) -> Facilitators:
    service = drills(request)
    try:
        drill = await service.drill(drill_id)
        names = await service.facilitators(drill_id)
    except DrillNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return Facilitators(owner=drill.created_by, facilitators=names)


@router.post(
    "/drills/{drill_id}/facilitators",
    dependencies=[SameOrigin],
    status_code=201,
    responses=refusals(400, 401, 403, 404, 503),
)
async def add_facilitator(
    drill_id: DrillIdPath, body: NewFacilitator, request: Request, user: DrillFacilitatorUser
) -> Facilitators:
    """Add a co-facilitator (the owner only): an active facilitator or admin account."""
    await _require_owner(request, drill_id, user.username)
    try:
        await drills(request).add_facilitator(drill_id, body.username, user.username)
    except DomainError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, exc.message) from exc
    return await _facilitators(request, drill_id)


@router.delete(
    "/drills/{drill_id}/facilitators/{username}",
    dependencies=[SameOrigin],
    responses=refusals(400, 401, 403, 404, 503),
)
async def remove_facilitator(
    drill_id: DrillIdPath, username: str, request: Request, user: DrillFacilitatorUser
) -> Facilitators:
    """Remove a co-facilitator (the owner only): their open sockets on the drill close
    with 4001 at once, and nothing they send after is applied."""
    await _require_owner(request, drill_id, user.username)
    try:
        await drills(request).remove_facilitator(drill_id, username)
    except DomainError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, exc.message) from exc
    return await _facilitators(request, drill_id)


async def _require_owner(request: Request, drill_id: str, username: str) -> None:
    try:
        drill = await drills(request).drill(drill_id)
    except DrillNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    if drill.created_by is None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            "this drill has no owner (it was made from the shell or before drills had "
            "owners): every facilitator runs it, so there is no one to add",
        )
    if drill.created_by != username:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"only the drill's owner, {drill.created_by}, adds or removes its facilitators",
        )
