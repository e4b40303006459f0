"""A facilitator adds a scenario from their computer, and chooses backups for a drill."""

from __future__ import annotations

import re

import httpx

from tests.live import FIXTURES, LiveServer, sign_in


def _csrf(client: httpx.Client, path: str = "/") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def _mini(scenario_id: str = "uploaded-mini", title: str = "Uploaded mini drill") -> str:
    source = (FIXTURES / "mini.yaml").read_text()
    assert "id: mini\n" in source and "title: Mini drill\n" in source
    return source.replace("id: mini\n", f"id: {scenario_id}\n", 1).replace(
        "title: Mini drill\n", f"title: {title}\n", 1
    )


def _upload(client: httpx.Client, name: str, content: bytes, token: str | None) -> httpx.Response:
    data = {"csrf": token} if token is not None else {}
    return client.post(
        "/scenarios/upload",
        data=data,
        files={"file": (name, content, "application/yaml")},
        follow_redirects=True,  # a valid upload redirects to its storyboard
    )


def _library_keys(client: httpx.Client) -> list[str]:
    return re.findall(r'href="/drills/new\?scenario=([^"]+)"', client.get("/").text)


def test_a_broken_upload_shows_where_it_is_wrong_and_is_not_added(
    live_server: LiveServer,
) -> None:
    facilitator = sign_in(live_server)
    before = _library_keys(facilitator)
    # A key the schema does not know, under the first inject; the title is markup.
    broken = _mini(title="<b>Broken</b>").replace(
        "  - id: alert\n", "  - id: alert\n    nonsense_key: 1\n", 1
    )
    line = broken.splitlines().index("    nonsense_key: 1") + 1
    response = _upload(facilitator, "<evil>.yaml", broken.encode(), _csrf(facilitator))
    assert response.status_code == 400
    assert "does not validate" in response.text
    assert re.search(rf"&lt;evil&gt;\.yaml:{line}:\d+", response.text), response.text
    assert "nonsense_key" in response.text
    assert "<evil>" not in response.text
    assert _library_keys(facilitator) == before
    assert "Broken" not in facilitator.get("/").text


def test_a_valid_upload_joins_the_library_and_a_drill_runs_from_it(
    live_server: LiveServer,
) -> None:
    facilitator = sign_in(live_server)
    response = _upload(facilitator, "mine.yaml", _mini().encode(), _csrf(facilitator))
    assert response.status_code == 200, response.text
    assert "Uploaded mini drill" in response.text
    home = facilitator.get("/").text
    assert "Mini drill" in home and "Uploaded mini drill" in home and "mine.yaml" in home
    keys = _library_keys(facilitator)
    assert "mini.yaml" in keys
    uploaded = [k for k in keys if k.startswith("upload-")]
    assert len(uploaded) == 1
    key = uploaded[0]

    board = facilitator.get(f"/scenarios/{key}")
    assert board.status_code == 200
    assert "Uploaded mini drill" in board.text and "Ransom note" in board.text
    graph = facilitator.get(f"/scenarios/{key}/graph.svg")
    assert graph.status_code == 200 and graph.headers["content-type"].startswith("image/svg")

    token = _csrf(facilitator, f"/drills/new?scenario={key}")
    created = facilitator.post(
        "/drills/new", data={"csrf": token, "scenario": key, "name": "From an upload"}
    )
    assert created.status_code == 303, created.text
    console = facilitator.get(created.headers["location"])
    assert console.status_code == 200 and "From an upload" in console.text
    drill_id = created.headers["location"].split("/")[2]
    events = facilitator.get(f"/api/drills/{drill_id}/events").json()
    first = events[0]
    assert first["data"]["scenario_id"] == "uploaded-mini"

    # Uploading the same text again adds nothing; a key that is not there is a 404.
    again = _upload(facilitator, "mine.yaml", _mini().encode(), _csrf(facilitator))
    assert again.status_code == 200
    assert len([k for k in _library_keys(facilitator) if k.startswith("upload-")]) == 1
    assert facilitator.get("/scenarios/upload-000000000000").status_code == 404
    assert facilitator.get("/drills/new?scenario=upload-zz").status_code == 404


def test_a_newer_upload_of_the_same_scenario_replaces_it_in_the_library(
    live_server: LiveServer,
) -> None:
    facilitator = sign_in(live_server)
    _upload(facilitator, "a.yaml", _mini(title="First take").encode(), _csrf(facilitator))
    _upload(facilitator, "b.yaml", _mini(title="Second take").encode(), _csrf(facilitator))
    home = facilitator.get("/").text
    assert "Second take" in home and "First take" not in home


def test_uploads_that_are_too_big_not_utf8_or_without_a_token_are_refused(
    live_server: LiveServer,
) -> None:
    facilitator = sign_in(live_server)
    before = _library_keys(facilitator)
    big = _mini().encode() + b"#" * (2 * 1024 * 1024)
    too_big = _upload(facilitator, "big.yaml", big, _csrf(facilitator))
    assert too_big.status_code == 413
    assert "too large" in too_big.text and "2 MiB" in too_big.text

    latin1 = _mini(title="Caf\u00e9 drill").encode("latin-1")
    not_utf8 = _upload(facilitator, "latin1.yaml", latin1, _csrf(facilitator))
    assert not_utf8.status_code == 400 and "not UTF-8" in not_utf8.text

    no_token = _upload(facilitator, "mine.yaml", _mini().encode(), None)
    assert no_token.status_code == 403
    wrong = _upload(facilitator, "mine.yaml", _mini().encode(), "x" * 43)
    assert wrong.status_code == 403
    anonymous = live_server.client()
    refused = _upload(anonymous, "mine.yaml", _mini().encode(), _csrf(anonymous, "/login"))
    assert refused.history and "/login" in str(refused.url)  # sent to sign in, nothing added
    assert _library_keys(facilitator) == before


def test_the_backup_chosen_on_the_form_is_the_drills_backup(live_server: LiveServer) -> None:
    facilitator = sign_in(live_server)
    page = facilitator.get("/drills/new?scenario=mini.yaml").text
    # The scenario's own backup is preselected.
    chosen = re.search(
        r'<select name="backup_incident_manager">.*?</select>', page, flags=re.DOTALL
    )
    assert chosen is not None
    assert re.search(r'<option value="executive" selected>', chosen.group(0))
    token = _csrf(facilitator, "/drills/new?scenario=mini.yaml")
    created = facilitator.post(
        "/drills/new",
        data={
            "csrf": token,
            "scenario": "mini.yaml",
            "name": "Backups",
            "roles": ["incident_manager", "executive", "legal"],
            "backup_incident_manager": "legal",
            "backup_legal": "executive",
            "backup_executive": "",
        },
    )
    assert created.status_code == 303, created.text
    drill_id = created.headers["location"].split("/")[2]
    events = facilitator.get(f"/api/drills/{drill_id}/events").json()
    first = events[0]
    assert first["type"] == "drill_created"
    assert first["data"]["backups"] == {"incident_manager": "legal", "legal": "executive"}


def test_a_backup_who_is_not_in_play_is_explained(live_server: LiveServer) -> None:
    facilitator = sign_in(live_server)
    token = _csrf(facilitator, "/drills/new?scenario=mini.yaml")
    refused = facilitator.post(
        "/drills/new",
        data={
            "csrf": token,
            "scenario": "mini.yaml",
            "name": "Backups",
            "roles": ["incident_manager", "executive"],
            "backup_incident_manager": "legal",
        },
    )
    assert refused.status_code == 400
    assert "backup" in refused.text
    # The form comes back with the choice kept.
    assert re.search(r'<option value="legal" selected>', refused.text)


def test_the_api_lists_and_runs_an_uploaded_scenario_like_the_pages(
    live_server: LiveServer,
) -> None:
    facilitator = sign_in(live_server)
    _upload(facilitator, "mine.yaml", _mini().encode(), _csrf(facilitator))
    listed = facilitator.get("/api/scenarios").json()
    keys = [s["file"] for s in listed]
    assert keys == _library_keys(facilitator)  # one library, whichever door you use
    key = next(k for k in keys if k.startswith("upload-"))
    created = facilitator.post("/api/drills", json={"scenario": key, "name": "From the API"})
    assert created.status_code == 201, created.text
    log = facilitator.get(f"/api/drills/{created.json()['id']}/events").json()
    assert log[0]["data"]["scenario_id"] == "uploaded-mini"
