"""A browser that meets a refusal gets a page it can read, with the way back; scripts and
the JSON API keep their JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.db.test_storage_faults import locked
from tests.live import LiveServer, sign_in

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_a_missing_drill_is_a_page_for_a_browser_and_json_for_the_api(
    live_server: LiveServer,
) -> None:
    facilitator = sign_in(live_server)
    page = facilitator.get("/drills/no-such-drill/console", headers=BROWSER)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "there is no such drill" in page.text and 'href="/"' in page.text
    assert "Content-Security-Policy" in page.headers
    api = facilitator.get("/api/drills/no-such-drill/events", headers=BROWSER)
    assert api.status_code == 404 and "detail" in api.json()
    scripted = facilitator.get("/drills/no-such-drill/console")  # no Accept: text/html
    assert scripted.status_code == 404 and "detail" in scripted.json()


@pytest.mark.live_settings(sqlite_busy_timeout_ms=200)
def test_a_busy_database_on_the_join_form_is_a_page_that_says_nothing_was_lost(
    live_server: LiveServer,
) -> None:
    facilitator = sign_in(live_server)
    code = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "Busy"}).json()[
        "join_code"
    ]
    browser = live_server.client()
    form_page = browser.get(f"/join?code={code}", headers=BROWSER)
    attempt = form_page.text.split('name="attempt" value="')[1].split('"')[0]
    form = {"csrf": browser.cookies["tt_csrf"], "code": code, "name": "Dana", "attempt": attempt}
    path = Path(live_server.app.state.settings.data_dir) / "tabletop.db"
    with locked(path):
        refused = browser.post("/join", data=form | {"role": "legal"}, headers=BROWSER)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "2"
    assert refused.headers["content-type"].startswith("text/html")
    assert "nothing was recorded" in refused.text and "Nothing was lost" in refused.text
    again = browser.post("/join", data=form | {"role": "legal"}, headers=BROWSER)
    assert again.status_code == 303  # the same form, sent again, joins
