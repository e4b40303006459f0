"""Server-rendered pages: sign-in, the facilitator's home and console, joining, playing.

The pages render the static frame; the live parts (feed, inbox, clock) are filled in by
small ES modules over the drill websocket. Every state-changing form carries a CSRF token
that must match the `tt_csrf` cookie (double submit): a cross-site page can make the
browser send the cookie but cannot read it to put it in the form.
"""

from __future__ import annotations

import io
import json
import secrets
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import RedirectResponse, Response

from app.authoring.bundle import MAX_BUNDLE_BYTES, Asset, BundleError, bundle_sha256, read_zip
from app.authoring.graph import branch_graph, describe_condition, render_svg
from app.db import repository as repo
from app.db.models import Drill, User
from app.engine import commands as c
from app.engine.durations import format_clock, format_duration
from app.engine.errors import DomainError
from app.engine.filled import drill_values, filled_scenario
from app.engine.regulatory import visible_to
from app.engine.scenario import EVERYONE, MAX_SPEED, Channel, Inject, Scenario, fill
from app.engine.state import DrillState
from app.realtime.visibility import decision_options
from app.services import library
from app.services.drills import DrillNotFound, ScenarioInvalid, new_drill_id
from app.services.security import format_join_code
from app.web import signin
from app.web.auth import facilitator, is_reviewer, run_refusal, signed_in
from app.web.briefing import briefing_for, span, story_seconds
from app.web.deps import (
    SESSION_COOKIE,
    TooManyWrongCodes,
    accounts,
    cookie,
    delete_secret_cookie,
    drill_for_join_code,
    drills,
    participant_cookie,
    participant_of,
    set_secret_cookie,
)
from app.web.forms import check_csrf, error_page, render, to_login
from app.web.join_link import join_link

router = APIRouter(tags=["pages"], include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a local path: never an open redirect to another site."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


MAX_UPLOAD_BYTES = 2 * 1024 * 1024


def _entry(key: str, scenario: Scenario, uploaded: str | None) -> dict[str, Any]:
    story = story_seconds(scenario)
    return {
        "file": key,
        "title": scenario.title,
        "summary": scenario.summary,
        "roles": {r: scenario.role_title(r) for r in scenario.roles},
        "backups": {r: spec.backup or "" for r, spec in scenario.roles.items()},
        "uploaded": uploaded,
        # Planning: how much story it plays and how long that takes at its own speed.
        "speed": scenario.clock.speed,
        "story_seconds": story,
        "story_length": span(story),
        "real_length": span(story / scenario.clock.speed),
    }


async def _library(request: Request) -> list[dict[str, Any]]:
    """The library as the home page lists it (the same as GET /api/scenarios)."""
    folder = request.app.state.settings.scenarios_dir
    return [
        _entry(f.key, f.loaded.scenario, f.uploaded_as)
        for f in await library.library(folder, drills(request))
        if f.loaded.scenario is not None
    ]


async def _find_scenario(request: Request, key: str) -> library.Found | None:
    return await library.find(request.app.state.settings.scenarios_dir, drills(request), key)


async def _library_entry(request: Request, key: str) -> tuple[library.Found, dict[str, Any]]:
    found = await _find_scenario(request, key)
    if found is None or found.loaded.scenario is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such scenario in the library")
    return found, _entry(key, found.loaded.scenario, found.uploaded_as)


def qr_svg(url: str) -> str:
    """The join link as an SVG QR code, with attributes only (the CSP forbids style=)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(
        out, kind="svg", scale=6, border=2, xmldecl=False, svgns=True, nl=False
    )
    return out.getvalue().decode()


def _roster(state: DrillState) -> list[dict[str, Any]]:
    return [
        {"id": p.id, "name": p.name, "role": p.role, "present": p.present, "parties": p.parties}
        for p in state.participants.values()
    ]


async def _load(request: Request, drill_id: str) -> tuple[Scenario, DrillState]:
    try:
        return await drills(request).state(drill_id)
    except DrillNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "there is no such drill") from exc


# ------------------------------------------------------------------ sign-in


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=80)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    check_csrf(request, csrf)
    try:
        token = await signin.sign_in(request, username, password)
    except HTTPException as refused:
        error = str(refused.detail)
        error = error[0].upper() + error[1:] + "."
        page = render(request, "login.html", {"next": next, "error": error}, refused.status_code)
        page.headers.update(refused.headers or {})
        return page
    response = RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)
    set_secret_cookie(response, request, SESSION_COOKIE, token)
    return response


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(request, csrf)
    await accounts(request).sign_out(cookie(request, SESSION_COOKIE), signin.actor(request))
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    delete_secret_cookie(response, request, SESSION_COOKIE)
    return response


# ------------------------------------------------------------------ facilitator


@router.get("/")
async def home(request: Request) -> Response:
    if is_reviewer(await signed_in(request)):  # reviewers work on reports
        return RedirectResponse("/programme", status.HTTP_303_SEE_OTHER)
    user = await facilitator(request)
    if user is None:
        return to_login(request)
    return await _home(request, user)


async def _home(
    request: Request,
    user: User,
    *,
    upload_error: str | None = None,
    findings: list[dict[str, object]] | None = None,
    uploaded: str | None = None,
    code: int = 200,
) -> Response:
    mine = await drills(request).list_drills(run_by=user.id)  # those this account runs
    recent = sorted(mine, key=lambda d: d.created_at, reverse=True)[:20]
    context = {
        "user": user,
        "library": await _library(request),
        "drills": recent,
        "upload_error": upload_error,
        "findings": findings or [],
        "uploaded": uploaded,
        "max_upload_mib": MAX_UPLOAD_BYTES // (1024 * 1024),
    }
    return render(request, "home.html", context, code)


def _upload_name(filename: str | None) -> str:
    """The uploaded file's own name, without any folders, for the library and findings."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())[:120]
    return name or "scenario.yaml"


@router.post("/scenarios/upload")
async def upload_scenario(
    request: Request,
    file: UploadFile,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Add a scenario to the library from the facilitator's computer: validated first,
    stored only when it validates, the findings shown when it does not."""
    check_csrf(request, csrf)
    user = await facilitator(request)
    if user is None:
        return to_login(request)
    name = _upload_name(file.filename)
    bundle = name.lower().endswith(".zip")
    cap = MAX_BUNDLE_BYTES if bundle else MAX_UPLOAD_BYTES
    data = await file.read(cap + 1)
    if len(data) > cap:
        message = (
            f"{name} is too large: a scenario {'bundle' if bundle else 'file'} may be at most "
            f"{cap // (1024 * 1024)} MiB. Nothing was added."
        )
        return await _home(request, user, upload_error=message, code=413)
    if not data.strip():
        message = f"{name} is empty. Choose a scenario YAML file or a bundle (.zip)."
        return await _home(request, user, upload_error=message, code=400)
    assets: dict[str, Asset] = {}
    try:
        if bundle:
            read = read_zip(data, name)
            source, assets = read.source, read.assets
            if read.refused:
                path, why = next(iter(sorted(read.refused.items())))
                raise BundleError(f"{path} is refused: {why}")
        else:
            source = data.decode("utf-8")
    except UnicodeDecodeError:
        message = f"{name} is not UTF-8 text; save it as UTF-8 and upload it again."
        return await _home(request, user, upload_error=message, code=400)
    except BundleError as exc:
        message = f"{name} was refused, and nothing of it was added: {exc}"
        return await _home(request, user, upload_error=message, code=400)
    try:
        await drills(request).store_scenario(source, f"{repo.UPLOAD_ORIGIN}{name}", assets)
    except ScenarioInvalid as exc:
        findings = [
            {
                "file": name,
                "line": f.line,
                "column": f.column,
                "level": str(f.level),
                "message": f.message,
                "path": f.path,
            }
            for f in exc.loaded.errors
        ]
        message = f"{name} does not validate, so it was not added to the library."
        return await _home(request, user, upload_error=message, findings=findings, code=400)
    # Post/redirect/get: a reload must not send the file again. Read it first.
    key = library.upload_key(bundle_sha256(source, assets))
    return RedirectResponse(f"/scenarios/{key}?added=1", status.HTTP_303_SEE_OTHER)


def _when(inject: Inject) -> tuple[float, str]:
    """Sort key and label for an inject's timing, as a facilitator reads a storyboard."""
    if inject.at is not None:
        return inject.at, format_clock(inject.at)
    delay = f" + {format_duration(inject.delay)}" if inject.delay else ""
    after = inject.after
    if after is None:
        return float("inf"), f"when an option triggers it{delay}"
    if after.inject is not None:
        return float("inf"), f"after {after.inject}{delay}"
    if after.decision is not None:
        return float("inf"), f"after decision {after.decision}{delay}"
    if after.option is not None:
        return float("inf"), f"if {after.option} is chosen{delay}"
    return float("inf"), f"after a message{delay}"


def _storyboard(scenario: Scenario) -> dict[str, Any]:
    """The scenario in reading order: timed injects first, then what follows from events.
    `scenario` comes with its variables filled at their defaults (see `storyboard`)."""
    variables = {k: v.default for k, v in scenario.variables.items()}
    ordered = sorted(enumerate(scenario.injects), key=lambda pair: (_when(pair[1])[0], pair[0]))
    return {
        "injects": [
            {
                "inject": inject,
                "title": inject.title,
                "body": inject.body,
                "when": _when(inject)[1],
                "condition": describe_condition(inject.when) if inject.when else None,
                "to": ", ".join(
                    "everyone" if r == EVERYONE else scenario.role_title(r) for r in inject.to
                ),
            }
            for _, inject in ordered
        ],
        "roles": {r: scenario.role_title(r) for r in scenario.roles},
        "variables": variables,
        "briefing": scenario.briefing,
    }


@router.get("/scenarios/{name}")
async def storyboard(request: Request, name: str, added: bool = False) -> Response:
    """Read a scenario before running it: its graph, injects in order, decisions, deadlines."""
    user = await facilitator(request)
    if user is None:
        return to_login(request)
    found, entry = await _library_entry(request, name)
    loaded = found.loaded
    assert loaded.scenario is not None
    # Read as a drill of it would show it: every {{variable}} at its default.
    scenario = filled_scenario(loaded.scenario, drill_values(loaded.scenario, None))
    context = {
        "user": user,
        "file": name,
        "scenario": scenario,
        "counts": loaded.counts,
        "uploaded": entry["uploaded"],
        "added": added,
    }
    return render(request, "storyboard.html", context | _storyboard(scenario))


@router.get("/scenarios/{name}/graph.svg")
async def storyboard_graph(request: Request, name: str) -> Response:
    """The branch graph, served as an image (its own styles stay inside the SVG)."""
    if await facilitator(request) is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in as a facilitator first")
    found, _ = await _library_entry(request, name)
    loaded = found.loaded
    assert loaded.scenario is not None
    svg = render_svg(branch_graph(loaded.scenario), title=loaded.scenario.title)
    return Response(svg, media_type="image/svg+xml")


@router.get("/drills/new")
async def new_drill_page(request: Request, scenario: str = "") -> Response:
    user = await facilitator(request)
    if user is None:
        return to_login(request)
    _, entry = await _library_entry(request, scenario)
    context = {"user": user, "scenario": entry, "error": None}
    return render(request, "new_drill.html", context)


@router.post("/drills/new")
async def create_drill(
    request: Request,
    scenario: Annotated[str, Form(max_length=200)],
    name: Annotated[str, Form(max_length=80)],
    csrf: Annotated[str, Form(max_length=200)] = "",
    speed: Annotated[str, Form(max_length=20)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf)
    user = await facilitator(request)
    if user is None:
        return to_login(request)
    found, entry = await _library_entry(request, scenario)
    in_play = roles or list(entry["roles"])
    form = await request.form()  # parsed once already; the backup_<role> selects
    chosen_backups = {
        r: v[:64] for r in entry["roles"] if isinstance(v := form.get(f"backup_{r}"), str)
    }
    # Only what differs from the scenario's own backups, which the engine applies anyway.
    backups = {
        r: b
        for r, b in chosen_backups.items()
        if b and r in in_play and b != entry["backups"].get(r)
    }

    def again(error: str) -> Response:
        shown = entry | {"backups": entry["backups"] | chosen_backups}
        context = {"user": user, "scenario": shown, "error": error}
        return render(request, "new_drill.html", context, 400)

    try:
        pace = float(speed) if speed.strip() else None
    except ValueError:
        return again("Speed must be a number, e.g. 10 for ten scenario minutes a minute.")
    if pace is not None and not 0 < pace <= MAX_SPEED:
        return again(f"Speed must be above 0 and at most {MAX_SPEED:g}.")
    # The same call as POST /api/drills.
    command = c.CreateDrill(new_drill_id(), name, pace, {}, roles or None, backups)
    try:
        drill_id = await drills(request).create_drill(
            found.source,
            found.origin,
            command,
            created_by=user.username,
            assets=found.loaded.assets,
        )
    except ScenarioInvalid as exc:
        return again(str(exc))
    except DomainError as exc:
        return again(exc.message)
    return RedirectResponse(f"/drills/{drill_id}/console", status.HTTP_303_SEE_OTHER)


@router.get("/drills/{drill_id}/console")
async def console(request: Request, drill_id: str) -> Response:
    user = await facilitator(request)
    if user is None:
        return to_login(request)
    return await _console(request, user, drill_id)


async def _console(
    request: Request, user: User, drill_id: str, facilitator_error: str | None = None
) -> Response:
    refusal = await run_refusal(request, user, drill_id)
    if refusal is not None:
        return error_page(request, 403, refusal)
    scenario, state = await _load(request, drill_id)
    service = drills(request)
    code = format_join_code(service.join_code(drill_id))
    link = join_link(request.app.state.settings.public_url, str(request.base_url), code)
    await service.ensure_white_cell_code(drill_id)
    owner = (await service.drill(drill_id)).created_by
    return render(
        request,
        "console.html",
        {
            "user": user,
            "drill": state,
            "scenario": scenario,
            "roles": {r: scenario.role_title(r) for r in state.roles},
            "roster": _roster(state),
            "code": code,
            "white_cell_code": format_join_code(service.white_cell_code(drill_id)),
            "join_url": link.url,
            "join_link_is_loopback": link.loopback,
            "qr": qr_svg(link.url),
            "objectives": json.dumps({k: o.title for k, o in scenario.objectives.items()}),
            "regulatory": bool(scenario.regimes),
            "channels": [str(ch) for ch in Channel],
            "owner": owner,
            "is_owner": owner is not None and owner == user.username,
            "facilitators": await service.facilitators(drill_id),
            "facilitator_error": facilitator_error,
        },
        400 if facilitator_error else 200,
    )


@router.post("/drills/{drill_id}/facilitators")
async def add_co_facilitator(
    request: Request,
    drill_id: str,
    username: Annotated[str, Form(max_length=80)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    return await _change_facilitators(request, drill_id, csrf, add=username)


@router.post("/drills/{drill_id}/facilitators/{username}/remove")
async def remove_co_facilitator(
    request: Request, drill_id: str, username: str, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    return await _change_facilitators(request, drill_id, csrf, remove=username)


async def _change_facilitators(
    request: Request, drill_id: str, csrf: str, add: str = "", remove: str = ""
) -> Response:
    """The owner adds or removes a co-facilitator from the console (the JSON API's
    /api/drills/{id}/facilitators does the same)."""
    check_csrf(request, csrf)
    user = await facilitator(request)
    if user is None:
        return to_login(request)
    refusal = await run_refusal(request, user, drill_id)
    if refusal is not None:
        return error_page(request, 403, refusal)
    service = drills(request)
    drill = await _drill_or_404(request, drill_id)
    if drill.created_by != user.username:
        who = drill.created_by or "nobody (it is open to every facilitator)"
        return error_page(
            request, 403, f"only the drill's owner adds or removes facilitators: {who}"
        )
    try:
        if add:
            await service.add_facilitator(drill_id, add, user.username)
        else:
            await service.remove_facilitator(drill_id, remove)
    except DomainError as exc:
        return await _console(request, user, drill_id, exc.message)
    return RedirectResponse(f"/drills/{drill_id}/console", status.HTTP_303_SEE_OTHER)


async def _drill_or_404(request: Request, drill_id: str) -> Drill:
    try:
        return await drills(request).drill(drill_id)
    except DrillNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "there is no such drill") from exc


# ------------------------------------------------------------------ participants


@router.get("/join")
async def join_page(request: Request, code: str = "") -> Response:
    if not code.strip():
        return render(request, "join_code.html", {"error": None, "code": ""})
    return await _join_form(request, code)


@router.post("/join/code")
async def join_code_form(
    request: Request,
    code: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The code typed (or taken from the link's fragment by the page's script), posted:
    in the body, it reaches no access log. Then the name-and-role form."""
    check_csrf(request, csrf)
    if not code.strip():
        message = "Type the code your facilitator shows on screen."
        return render(request, "join_code.html", {"error": message, "code": ""}, 400)
    return await _join_form(request, code)


@router.get("/join/{code}")
async def join_with_code(request: Request, code: str) -> Response:
    return await _join_form(request, code)


async def _join_form(request: Request, code: str, error: str | None = None) -> Response:
    drill = await _drill_for_code(request, code)
    if isinstance(drill, Response):
        return drill
    if drill is None:
        message = "No drill has that code. Check it with your facilitator."
        return render(request, "join_code.html", {"error": message, "code": code}, 404)
    scenario, state = await _load(request, drill.id)
    attempt = secrets.token_urlsafe(16)
    if drills(request).is_white_cell_code(drill, code):
        parties = [
            {"id": k, "name": fill(v.name, state.variables), "kind": str(v.kind)}
            for k, v in scenario.parties.items()
        ]
        context = {"drill": state, "code": code, "parties": parties, "error": error}
        return render(
            request, "join_white_cell.html", context | {"attempt": attempt}, 400 if error else 200
        )
    taken: dict[str, int] = {}
    for p in state.participants.values():
        if p.role is not None:
            taken[p.role] = taken.get(p.role, 0) + 1
    roles = [
        {"id": r, "title": scenario.role_title(r), "joined": taken.get(r, 0)} for r in state.roles
    ]
    # A new id per form: the same form posted twice (a retry after an error) joins once.
    context = {"drill": state, "code": code, "roles": roles, "error": error, "attempt": attempt}
    return render(request, "join.html", context, 400 if error else 200)


async def _drill_for_code(request: Request, code: str) -> Drill | Response | None:
    """The drill with this code, None, or the page saying to wait."""
    try:
        return await drill_for_join_code(request, code)
    except TooManyWrongCodes:
        message = "Too many wrong codes from here. Wait a minute and try again."
        return render(request, "join_code.html", {"error": message, "code": code}, 429)


@router.post("/join")
async def join(
    request: Request,
    code: Annotated[str, Form(max_length=40)],
    name: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=64)] = "",
    attempt: Annotated[str, Form(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] = "",
    parties: Annotated[list[Annotated[str, Form(max_length=64)]] | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf)
    service = drills(request)
    drill = await _drill_for_code(request, code)
    if isinstance(drill, Response):
        return drill
    if drill is None:
        message = "No drill has that code. Check it with your facilitator."
        return render(request, "join_code.html", {"error": message, "code": code}, 404)
    # The team's code joins with a role; the white-cell code with parties to play.
    white_cell = service.is_white_cell_code(drill, code)
    played = tuple(parties or ()) if white_cell else ()
    if white_cell and not played:
        return await _join_form(request, code, "Choose at least one outside party to play.")
    try:
        _, token = await service.join(drill.id, name, role or None, attempt or None, played)
    except DomainError as exc:
        return await _join_form(request, code, exc.message)
    response = RedirectResponse(f"/drills/{drill.id}/play", status.HTTP_303_SEE_OTHER)
    set_secret_cookie(response, request, participant_cookie(drill.id), token)
    return response


@router.get("/drills/{drill_id}/play")
async def play(request: Request, drill_id: str) -> Response:
    participant = await participant_of(request, drill_id)
    if participant is None:
        return RedirectResponse("/join", status.HTTP_303_SEE_OTHER)
    scenario, state = await _load(request, drill_id)
    if participant.played_parties:
        parties = {
            k: fill(scenario.parties[k].name, state.variables)
            for k in participant.played_parties
            if k in scenario.parties
        }
        context = {"drill": state, "scenario": scenario, "me": participant, "parties": parties}
        return render(request, "white_cell.html", context | {"parties_json": json.dumps(parties)})
    return render(
        request,
        "play.html",
        {
            "drill": state,
            "scenario": scenario,
            "me": participant,
            "role_title": scenario.role_title(participant.role) if participant.role else None,
            "decisions": json.dumps(decision_options(scenario, state, participant.role)),
            "briefing": briefing_for(scenario, state, participant.role),
            "regulatory": any(visible_to(u, participant.role) for u in scenario.regimes),
        },
    )
