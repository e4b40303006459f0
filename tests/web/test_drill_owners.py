"""Drills have owners: the facilitator who creates a drill runs it with the co-facilitators
they add; every other facilitator is refused, on every route of the drill, its pages and
its websocket, with a sentence that names the owner."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.engine import commands as c
from app.realtime.codes import Close
from app.services.accounts import AccountRole
from tests.live import PASSWORD, LiveServer, sign_in
from tests.security.test_role_isolation_walk import served_routes
from tests.ws.test_revocation import _answer, _inject, _open, _send

SAM_PASSWORD = "sam facilitates other drills"


def _sam(live: LiveServer) -> httpx.Client:
    """Another facilitator of the same Tabletop."""
    live.run(live.app.state.accounts.create_user("sam", SAM_PASSWORD, AccountRole.facilitator))
    sam = live.client()
    signed = sam.post("/api/session", json={"username": "sam", "password": SAM_PASSWORD})
    assert signed.status_code == 200
    return sam


def _drill(fac: httpx.Client, name: str = "Fac's drill") -> str:
    made = fac.post("/api/drills", json={"scenario": "mini.yaml", "name": name})
    assert made.status_code == 201, made.text
    drill_id: str = made.json()["id"]
    return drill_id


def _filled(template: str, drill_id: str) -> str:
    values = {
        "drill_id": drill_id,
        "participant_id": "p",
        "username": "fac",
        "item_id": "i",
        "objective_id": "comms",
        "fmt": "md",
        "seq": "1",
        "index": "0",
    }
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def test_another_facilitator_is_refused_on_every_route_of_the_drill(
    live_server: LiveServer,
) -> None:
    """Found from the app's own routes: a new route with a drill id is walked too."""
    live = live_server
    fac = sign_in(live)
    drill_id = _drill(fac)
    sam = _sam(live)
    sam.get("/login")
    token = sam.cookies.get("tt_csrf", "")
    walked, problems = 0, []
    for method, template in sorted(served_routes(live.app)):
        if "{drill_id}" not in template or method in ("WS", "MOUNT"):
            continue
        if template.endswith("/play"):
            continue  # the participants' page: anyone without a join token goes to /join
        walked += 1
        url = _filled(template, drill_id).replace("report.{fmt}", "report.md")
        kwargs: dict[str, object] = {}
        if method != "GET":
            if url.startswith("/api/"):
                kwargs = {"json": {"username": "sam", "role": "legal"}}
            else:
                kwargs = {"data": {"csrf": token, "username": "sam", "summary": "x"}}
        answer = sam.request(method, url, **kwargs)  # type: ignore[arg-type]
        if answer.status_code != 403 or "run by fac" not in answer.text:
            problems.append(f"{method} {url}: {answer.status_code} {answer.text[:120]}")
    assert walked >= 15
    assert not problems, "\n".join(problems)
    assert drill_id not in sam.get("/").text  # not among sam's drills either
    assert drill_id in fac.get("/").text


def test_the_websocket_refuses_another_facilitator_naming_the_owner(
    live_server: LiveServer,
) -> None:
    live = live_server
    drill_id = _drill(sign_in(live))
    sam = _sam(live)
    cookie = "; ".join(f"{k}={v}" for k, v in sam.cookies.items())
    with (
        connect(
            f"{live.ws_url}/ws/drills/{drill_id}?since=0",
            additional_headers={"Origin": live.origin, "Cookie": cookie},
            open_timeout=10,
        ) as sock,
        pytest.raises(ConnectionClosed) as closed,
    ):
        sock.recv(5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == Close.not_drill_facilitator
    assert "run by fac" in closed.value.rcvd.reason


def test_a_co_facilitator_runs_the_drill_until_the_owner_removes_them(
    live_server: LiveServer,
) -> None:
    live = live_server
    fac = sign_in(live)
    drill_id = _drill(fac)
    sam = _sam(live)
    added = fac.post(f"/api/drills/{drill_id}/facilitators", json={"username": "sam"})
    assert added.status_code == 201, added.text
    assert added.json() == {"owner": "fac", "facilitators": ["fac", "sam"]}
    assert sam.get(f"/drills/{drill_id}/console").status_code == 200
    assert drill_id in sam.get("/").text
    # A co-facilitator runs the drill but does not change who runs it.
    more = sam.post(f"/api/drills/{drill_id}/facilitators", json={"username": "fac"})
    assert more.status_code == 403 and "only the drill's owner, fac" in more.text
    sock = _open(live, drill_id, dict(sam.cookies.items()))
    assert _answer(sock, _send(sock, {"type": "start"}))["type"] == "ack"
    first = _answer(sock, _send(sock, _inject("from sam")))
    assert first["type"] == "ack", first

    removed = fac.delete(f"/api/drills/{drill_id}/facilitators/sam")
    assert removed.status_code == 200 and removed.json()["facilitators"] == ["fac"]
    started = time.monotonic()
    sent = _send(sock, _inject("after the removal"))
    with pytest.raises(ConnectionClosed) as closed:
        _answer(sock, sent)
    assert time.monotonic() - started < 1
    assert closed.value.rcvd is not None and closed.value.rcvd.code == Close.unauthorized
    titles = [e["data"].get("title") for e in fac.get(f"/api/drills/{drill_id}/events").json()]
    assert "from sam" in titles and "after the removal" not in titles
    assert sam.get(f"/drills/{drill_id}/console").status_code == 403


def test_only_accounts_that_run_drills_can_be_added(live_server: LiveServer) -> None:
    live = live_server
    fac = sign_in(live)
    drill_id = _drill(fac)
    accounts = live.app.state.accounts
    live.run(accounts.create_user("rita", "rita reviews the reports", AccountRole.reviewer))
    reviewer = fac.post(f"/api/drills/{drill_id}/facilitators", json={"username": "rita"})
    assert (
        reviewer.status_code == 400 and "only facilitators and admins run drills" in reviewer.text
    )
    nobody = fac.post(f"/api/drills/{drill_id}/facilitators", json={"username": "ghost"})
    assert nobody.status_code == 400 and "no active account 'ghost'" in nobody.text
    owner = fac.delete(f"/api/drills/{drill_id}/facilitators/fac")
    assert owner.status_code == 400 and "owner cannot be removed" in owner.text


def test_the_console_form_adds_a_co_facilitator(live_server: LiveServer) -> None:
    live = live_server
    fac = sign_in(live)
    drill_id = _drill(fac)
    sam = _sam(live)
    page = fac.get(f"/drills/{drill_id}/console")
    assert "(owner)" in page.text
    token = fac.cookies["tt_csrf"]
    done = fac.post(
        f"/drills/{drill_id}/facilitators",
        data={"csrf": token, "username": "sam"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert sam.get(f"/drills/{drill_id}/console").status_code == 200
    wrong = fac.post(f"/drills/{drill_id}/facilitators", data={"csrf": token, "username": "x"})
    assert wrong.status_code == 400 and "no active account" in wrong.text
    assert json.dumps("sam") in json.dumps(live.run(live.app.state.service.facilitators(drill_id)))
    fac_password_still_works = fac.post(
        "/api/session", json={"username": "fac", "password": PASSWORD}
    )
    assert fac_password_still_works.status_code == 200


def test_the_programme_links_only_the_reports_an_account_may_open(
    live_server: LiveServer,
) -> None:
    """Every facilitator sees the team's programme (its drills, scores and trends), but a
    link to another facilitator's report would only answer 403: it is named, not linked."""
    live = live_server
    fac = sign_in(live)
    fac_drill = _drill(fac, "Fac's drill")
    sam = _sam(live)
    sam_drill = _drill(sam, "Sam's drill")
    for drill_id in (fac_drill, sam_drill):
        live.run(live.app.state.service.execute(drill_id, c.EndDrill()))
    page = sam.get("/programme")
    assert page.status_code == 200
    assert f'href="/drills/{sam_drill}/report"' in page.text
    assert f'href="/drills/{fac_drill}/report"' not in page.text
    assert "Fac&#39;s drill" in page.text and "run by another facilitator" in page.text
    assert sam.get(f"/drills/{fac_drill}/report").status_code == 403  # what the link hid
    live.run(live.app.state.accounts.create_user("rita", SAM_PASSWORD, AccountRole.reviewer))
    rita = live.client()
    rita.post("/api/session", json={"username": "rita", "password": SAM_PASSWORD})
    shown = rita.get("/programme").text
    for drill_id in (fac_drill, sam_drill):  # a reviewer opens every finished drill
        assert f'href="/drills/{drill_id}/report"' in shown
        assert rita.get(f"/drills/{drill_id}/report").status_code == 200
