"""The reviewer's side: the after-action report page with its edits and downloads, the
improvement plan, and the drill programme over time. Thin: the report is built by
`app.reports.build`, edits are stored by `app.services.reviews.ReviewService`.

Who: facilitators open any drill's report (a draft while it runs); reviewers open finished
drills. Participants never see the report; they see scores only once released.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from app.authoring.graph import branch_graph, render_svg
from app.db.models import Drill, User
from app.engine.scenario import Scenario
from app.reports import charts, render
from app.reports.model import RATING_LABELS, Element, ItemStatus, Report, report_schema
from app.services.drills import DrillNotFound
from app.services.reviews import (
    ItemDraft,
    ReviewError,
    ReviewService,
    add_months,
    days_late,
    programme_trends,
    regime_trends,
    utc_date,
)
from app.web.api import DrillIdPath
from app.web.auth import is_facilitator, report_refusal, require_staff, run_refusal, staff
from app.web.deps import refusals
from app.web.forms import attachment, check_csrf, to_login
from app.web.forms import render as render_page

router = APIRouter(tags=["pages"], include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["reports"])

Format = Literal["html", "pdf", "md", "json", "csv"]
MEDIA = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
}


def reviews(request: Request) -> ReviewService:
    service: ReviewService = request.app.state.reviews
    return service


async def _open_drill(request: Request, user: User, drill_id: str) -> Drill:
    """The drill, if this account may open its report: reviewers only once it ended."""
    try:
        drill = await reviews(request).drills.drill(drill_id)
    except DrillNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "there is no such drill") from exc
    refusal = report_refusal(user, drill) or await run_refusal(request, user, drill_id)
    if refusal is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, refusal)
    return drill


def _require_ended(drill: Drill) -> None:
    if drill.status != "ended":
        raise ReviewError("the report can be edited once the drill has ended")


# ------------------------------------------------------------------ the report page


@router.get("/drills/{drill_id}/report")
async def report_page(request: Request, drill_id: str) -> Response:
    user = await staff(request)
    if user is None:
        return to_login(request)
    await _open_drill(request, user, drill_id)
    return await _report_page(request, user, drill_id)


async def _report_page(
    request: Request, user: User, drill_id: str, error: str | None = None, code: int = 200
) -> Response:
    report, scenario = await reviews(request).report_with_scenario(drill_id)
    context: dict[str, Any] = {
        "user": user,
        "report": report,
        "scenario": scenario,
        "ratings": [(r.value, label) for r, label in RATING_LABELS.items()],
        "elements": [e.value for e in Element],
        "statuses": [s.value for s in ItemStatus],
        "editable": report.overview.status == "ended",
        "error": error,
        "formats": [
            ("html", "HTML"),
            ("pdf", "PDF"),
            ("md", "Markdown"),
            ("json", "JSON"),
        ],
    }
    return render_page(request, "report.html", context, code)


async def _edit(request: Request, drill_id: str, csrf: str) -> tuple[User, Drill]:
    check_csrf(request, csrf)
    user = await require_staff(request)
    return user, await _open_drill(request, user, drill_id)


def _back(drill_id: str, anchor: str) -> RedirectResponse:
    return RedirectResponse(f"/drills/{drill_id}/report#{anchor}", status.HTTP_303_SEE_OTHER)


@router.post("/drills/{drill_id}/report/summary")
async def edit_summary(
    request: Request,
    drill_id: str,
    summary: Annotated[str, Form(max_length=40_000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    user, drill = await _edit(request, drill_id, csrf)
    try:
        _require_ended(drill)
        await reviews(request).edit_summary(drill_id, summary, user.username)
    except ReviewError as exc:
        return await _report_page(request, user, drill_id, str(exc), 400)
    return _back(drill_id, "summary")


@router.post("/drills/{drill_id}/report/objectives/{objective_id}")
async def edit_objective(
    request: Request,
    drill_id: str,
    objective_id: str,
    rating: Annotated[str, Form(max_length=4)] = "",
    strengths: Annotated[str, Form(max_length=40_000)] = "",
    improvements: Annotated[str, Form(max_length=40_000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    user, drill = await _edit(request, drill_id, csrf)
    try:
        _require_ended(drill)
        await reviews(request).edit_objective(
            drill_id,
            objective_id,
            user.username,
            rating=rating or None,
            strengths=strengths,
            improvements=improvements,
        )
    except ReviewError as exc:
        return await _report_page(request, user, drill_id, str(exc), 400)
    return _back(drill_id, f"objective-{objective_id}")


def _date(value: object, what: str) -> date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReviewError(f"write the {what} as a date, YYYY-MM-DD") from None


def _draft(form: FormData) -> ItemDraft:
    def field(name: str) -> str:
        value = form.get(name, "")
        return value if isinstance(value, str) else ""

    return ItemDraft(
        capability=field("capability"),
        issue=field("issue"),
        corrective_action=field("corrective_action"),
        element=field("element"),
        responsible=field("responsible"),
        contact=field("contact"),
        objective_id=field("objective_id") or None,
        start=_date(field("start"), "start date"),
        due=_date(field("due"), "due date"),
        status=field("status") or ItemStatus.open.value,
    )


async def _form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=30, max_part_size=64 * 1024)


@router.post("/drills/{drill_id}/report/items")
async def add_item(request: Request, drill_id: str) -> Response:
    form = await _form(request)
    user, drill = await _edit(request, drill_id, str(form.get("csrf", "")))
    try:
        _require_ended(drill)
        await reviews(request).add_item(drill_id, _draft(form), user.username)
    except ReviewError as exc:
        return await _report_page(request, user, drill_id, str(exc), 400)
    return _back(drill_id, "improvement-plan")


@router.post("/drills/{drill_id}/report/items/{item_id}")
async def update_item(request: Request, drill_id: str, item_id: str) -> Response:
    form = await _form(request)
    user, _ = await _edit(request, drill_id, str(form.get("csrf", "")))
    try:
        if item_id not in {i.id for i in await reviews(request).items(drill_id=drill_id)}:
            raise ReviewError("no such improvement item in this drill; reload the page")
        await reviews(request).update_item(item_id, _draft(form), user.username)
    except ReviewError as exc:
        return await _report_page(request, user, drill_id, str(exc), 400)
    return _back(drill_id, "improvement-plan")


# ------------------------------------------------------------------ downloads


async def _report_for(request: Request, drill_id: str) -> tuple[Report, Scenario]:
    user = await require_staff(request)
    await _open_drill(request, user, drill_id)
    report, scenario = await reviews(request).report_with_scenario(drill_id)
    return report, scenario


def _file_name(report: Report, extension: str, suffix: str = "") -> str:
    safe = "".join(ch if ch.isalnum() else "-" for ch in report.overview.name.lower()).strip("-")
    # In any script: the header carries it encoded (forms.attachment).
    day = utc_date(report.overview.created_at).isoformat()
    return f"after-action-{safe[:40] or 'drill'}-{day}{suffix}.{extension}"


@router.get("/drills/{drill_id}/report.{fmt}")
async def download(
    request: Request, drill_id: str, fmt: Format, table: Literal["timeline", "plan"] = "timeline"
) -> Response:
    """One export of the report, as a file to save."""
    report, scenario = await _report_for(request, drill_id)
    body: str | bytes
    suffix = ""
    if fmt == "pdf":  # seconds of CPU: keep the event loop (and every websocket) free
        body = await asyncio.to_thread(render.render_pdf, report, scenario)
    elif fmt == "html":
        body = render.render_html(report, scenario)
    elif fmt == "md":
        body = render.render_markdown(report)
    elif fmt == "json":
        body = render.render_json(report)
    else:
        body, suffix = render.render_csv(report, table), f"-{table}"
    name = _file_name(report, fmt, suffix)
    return Response(
        body,
        media_type=MEDIA[fmt],
        headers=attachment(name),
    )


@router.get("/drills/{drill_id}/report/graph.svg")
async def report_graph(request: Request, drill_id: str) -> Response:
    report, scenario = await _report_for(request, drill_id)
    svg = render_svg(branch_graph(scenario), highlight=set(report.path), title=scenario.title)
    return Response(svg, media_type="image/svg+xml")


@router.get("/drills/{drill_id}/report/timeline.svg")
async def report_timeline(request: Request, drill_id: str) -> Response:
    report, _ = await _report_for(request, drill_id)
    return Response(charts.timeline_chart(report), media_type="image/svg+xml")


@router.get("/drills/{drill_id}/report/pressure.svg")
async def report_pressure(request: Request, drill_id: str) -> Response:
    report, _ = await _report_for(request, drill_id)
    return Response(charts.pressure_chart(report), media_type="image/svg+xml")


# ------------------------------------------------------------------ the programme


@router.get("/programme")
async def programme(request: Request) -> Response:
    user = await staff(request)
    if user is None:
        return to_login(request)
    service = reviews(request)
    records = await service.records()
    today = utc_date(service.clock())
    months: int = request.app.state.settings.drill_interval_months
    last = max((utc_date(r.drill.created_at) for r in records), default=None)
    next_due = add_months(last, months) if last else today
    drill_names = {r.drill.id: r.drill.name for r in records}
    closed = await _closed_reports(request, user, [r.drill for r in records])
    items = await service.items()
    open_items = [i for i in items if i.status is not ItemStatus.closed]
    context = {
        "user": user,
        "records": list(reversed(records)),
        "next_due": next_due,
        "overdue": next_due < today,
        "months": months,
        "today": today,
        "open_items": sorted(open_items, key=lambda i: (i.due or date.max, i.capability)),
        "closed_items": [i for i in items if i.status is ItemStatus.closed][-20:],
        "late": {i.id: days_late(i, today) for i in open_items},
        "drill_names": drill_names,
        "closed_reports": closed,
        "regimes_played": any(r.scenario.regimes for r in records),
        "utc_date": utc_date,
    }
    return render_page(request, "programme.html", context)


async def _closed_reports(request: Request, user: User, drills: list[Drill]) -> dict[str, str]:
    """The drills whose report this account may not open, each with a short why, so the
    programme page links only what opens (the rules of _open_drill, in one query)."""
    own: set[str] | None = None
    if is_facilitator(user):
        own = {d.id for d in await reviews(request).drills.list_drills(run_by=user.id)}
    closed: dict[str, str] = {}
    for drill in drills:
        if own is not None and drill.id not in own:
            closed[drill.id] = "run by another facilitator"
        elif report_refusal(user, drill) is not None:
            closed[drill.id] = "report once it ends"
    return closed


@router.get("/programme/trends/{kind}.svg")
async def programme_trend(
    request: Request, kind: Literal["objectives", "roles", "regimes"]
) -> Response:
    await require_staff(request)
    records = await reviews(request).records()
    labels, objectives, roles = programme_trends(records)
    chosen = {"objectives": objectives, "roles": roles, "regimes": regime_trends(records)}[kind]
    series = {name: list(zip(labels, values, strict=True)) for name, values in chosen.items()}
    title = {
        "objectives": "Score per capability",
        "roles": "Score per role",
        "regimes": "Regulatory notifications per regime",
    }[kind]
    return Response(charts.trend_chart(series, title), media_type="image/svg+xml")


@router.post("/items/{item_id}/status")
async def item_status(
    request: Request,
    item_id: str,
    new_status: Annotated[str, Form(alias="status", max_length=20)],
    csrf: Annotated[str, Form(max_length=200)] = "",
    back: Annotated[str, Form(max_length=200)] = "/programme",
) -> Response:
    """Close an item (who and when are recorded) or reopen it, from the programme page."""
    check_csrf(request, csrf)
    user = await require_staff(request)
    try:
        await reviews(request).set_item_status(item_id, new_status, user.username)
    except ReviewError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    target = back if back.startswith("/") and not back.startswith("//") else "/programme"
    return RedirectResponse(target, status.HTTP_303_SEE_OTHER)


# ------------------------------------------------------------------ JSON API


@api_router.get(
    "/drills/{drill_id}/report",
    # Documented as the Report; sent as the JSON export's exact bytes.
    response_model=Report,
    responses=refusals(401, 403, 404),
)
async def report_json(request: Request, drill_id: DrillIdPath) -> JSONResponse:
    """The after-action report as JSON (the same document as the JSON export)."""
    report, _ = await _report_for(request, drill_id)
    return JSONResponse(report.model_dump(mode="json"))


@api_router.get("/report-schema")
async def report_json_schema() -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12) of the report's JSON export."""
    return report_schema()
