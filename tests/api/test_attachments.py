"""An inject's files, served to whoever may see the inject and to nobody else: with their
real media type, `nosniff`, images inline and every other file as a download. Walked as
every kind of caller on the shipped bundle (the insider scenario: a DLP log to the SOC
analyst, a screenshot to HR and others), and a bundle uploaded through the library page:
a good one is kept with its files, a hostile one refused with nothing stored."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.db.models import ScenarioAsset, ScenarioVersion
from app.engine import commands as c
from app.services.archive import ArchiveError, export_drill, import_drill
from tests.conftest import ROOT
from tests.live import LiveServer, join, sign_in

SCENARIOS = ROOT / "scenarios"


def _seq_of(client: httpx.Client, drill_id: str, inject_id: str) -> int:
    events: list[dict[str, Any]] = client.get(f"/api/drills/{drill_id}/events").json()
    return next(
        int(e["seq"])
        for e in events
        if e["type"] == "inject_delivered" and e["data"]["inject_id"] == inject_id
    )


@pytest.mark.live_settings(scenarios_dir=SCENARIOS)
def test_attachments_reach_only_who_may_see_their_inject(live_server: LiveServer) -> None:
    live = live_server
    fac = sign_in(live)
    made = fac.post("/api/drills", json={"scenario": "insider-departing-engineer", "name": "Files"})
    assert made.status_code == 201, made.text
    drill = made.json()
    soc = join(live, drill["join_code"], "Sam", "soc_analyst")
    hr = join(live, drill["join_code"], "Hana", "hr")
    observer = join(live, drill["join_code"], "Obi", None)
    service = live.app.state.service
    live.run(service.execute(drill["id"], c.StartClock(confirm_unfilled=True)))
    live.run(service.execute(drill["id"], c.FireInject("kestrel-link")))

    dlp = _seq_of(fac, drill["id"], "dlp-alert")
    log_url = f"/api/drills/{drill['id']}/attachments/{dlp}/0"
    got = soc.get(log_url)
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/plain")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in got.headers["content-security-policy"]
    assert b"FileUploaded" in got.content

    post = _seq_of(fac, drill["id"], "kestrel-link")
    image_url = f"/api/drills/{drill['id']}/attachments/{post}/0"
    shown = hr.get(image_url)
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
    assert "content-disposition" not in shown.headers  # an image shows inline
    assert shown.content.startswith(b"\x89PNG")

    # Whoever may not see the inject gets what they would for one that does not exist.
    assert hr.get(log_url).status_code == 404
    assert soc.get(image_url).status_code == 404
    assert soc.get(f"/api/drills/{drill['id']}/attachments/{dlp}/1").status_code == 404
    assert soc.get(f"/api/drills/{drill['id']}/attachments/1/0").status_code == 404
    assert live.client().get(log_url).status_code == 401
    for everyone in (fac, observer):
        assert everyone.get(log_url).status_code == 200
        assert everyone.get(image_url).status_code == 200
    # Another drill's participant with this drill's address: refused.
    other = fac.post("/api/drills", json={"scenario": "insider-departing-engineer", "name": "2"})
    stranger = join(live, other.json()["join_code"], "Stan", "soc_analyst")
    assert stranger.get(log_url).status_code in (401, 403)

    # The report embeds the image (HTML, PDF) and lists the log; its JSON carries no bytes.
    live.run(service.execute(drill["id"], c.EndDrill()))
    html = fac.get(f"/drills/{drill['id']}/report.html")
    assert html.status_code == 200 and "data:image/png;base64,iVBORw0KGgo" in html.text
    assert "DLP activity export for the alert" in html.text
    assert "assets/dlp-activity.log, text/plain, 1,006 bytes" in html.text
    as_json = fac.get(f"/drills/{drill['id']}/report.json").json()
    assert [f["file"] for f in as_json["files"]] == [
        "assets/dlp-activity.log",
        "assets/kestrel-post.png",
    ]
    assert "data_uri" not in as_json["files"][1]


def _bundle(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _count(live: LiveServer, model: type) -> int:
    async def count() -> int:
        async with live.app.state.service.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    counted: int = live.run(count())
    return counted


@pytest.mark.live_settings(scenarios_dir=SCENARIOS)
def test_a_bundle_uploads_with_its_files_and_a_hostile_one_leaves_nothing(
    live_server: LiveServer,
) -> None:
    live = live_server
    fac = sign_in(live)
    folder = SCENARIOS / "insider-departing-engineer"
    files = {
        "scenario.yaml": (folder / "scenario.yaml").read_bytes(),
        "assets/dlp-activity.log": (folder / "assets" / "dlp-activity.log").read_bytes(),
        "assets/kestrel-post.png": (folder / "assets" / "kestrel-post.png").read_bytes(),
    }
    csrf = fac.cookies.get("tabletop_csrf") or ""
    page = fac.get("/")
    assert page.status_code == 200
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    versions, assets = _count(live, ScenarioVersion), _count(live, ScenarioAsset)

    hostile = _bundle({**files, "assets/kestrel-post.png": b"<svg><script>x</script></svg>"})
    refused = fac.post(
        "/scenarios/upload",
        data={"csrf": token or csrf},
        files={"file": ("evil.zip", hostile, "application/zip")},
    )
    assert refused.status_code == 400
    assert "SVG is refused (it can carry script)" in refused.text
    assert (_count(live, ScenarioVersion), _count(live, ScenarioAsset)) == (versions, assets)
    slip = _bundle({**files, "../outside.log": b"x"})
    refused = fac.post(
        "/scenarios/upload",
        data={"csrf": token},
        files={"file": ("slip.zip", slip, "application/zip")},
    )
    assert refused.status_code == 400 and "a path out of the bundle is refused" in refused.text
    assert (_count(live, ScenarioVersion), _count(live, ScenarioAsset)) == (versions, assets)

    added = fac.post(
        "/scenarios/upload",
        data={"csrf": token},
        files={"file": ("insider.zip", _bundle(files), "application/zip")},
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    assert _count(live, ScenarioAsset) == assets + 2
    key = added.headers["location"].split("/scenarios/", 1)[1].split("?", 1)[0]
    made = fac.post("/api/drills", json={"scenario": key, "name": "From the upload"})
    assert made.status_code == 201, made.text


@pytest.mark.live_settings(scenarios_dir=SCENARIOS)
def test_an_exported_drill_carries_its_bundle_files_and_an_edited_one_is_refused(
    live_server: LiveServer,
) -> None:
    live = live_server
    service, reviews = live.app.state.service, live.app.state.reviews
    made = sign_in(live).post(
        "/api/drills", json={"scenario": "insider-departing-engineer", "name": "Export"}
    )
    drill_id = made.json()["id"]
    live.run(service.execute(drill_id, c.StartClock(confirm_unfilled=True)))
    exported = live.run(export_drill(service, reviews, drill_id))
    files = {a["path"] for a in exported["scenario"]["assets"]}
    assert files == {"assets/dlp-activity.log", "assets/kestrel-post.png"}
    copy = live.run(import_drill(service, reviews, exported, as_new=True))
    original = {a.path: a.data for a in live.run(service.scenario_assets(drill_id))}
    assert {a.path: a.data for a in live.run(service.scenario_assets(copy))} == original

    edited = json.loads(json.dumps(exported))
    log = next(a for a in edited["scenario"]["assets"] if a["path"].endswith(".log"))
    log["data"] = base64.b64encode(b"nothing to see here\n").decode()
    with pytest.raises(ArchiveError, match="does not match its sha256"):
        live.run(import_drill(service, reviews, edited, as_new=True))
