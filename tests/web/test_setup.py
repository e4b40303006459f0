"""First run: the one-time setup link, and `serve --demo`'s sample drill."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.cli.serve import _first_run
from app.config import Settings
from app.services.accounts import AccountRole
from tests.conftest import SCENARIOS
from tests.live import LiveServer
from tests.web.test_pages import _csrf


def test_the_setup_link_creates_the_first_facilitator_once(live_server: LiveServer) -> None:
    token = live_server.run(live_server.app.state.accounts.new_setup_token())
    client = live_server.client()
    csrf = _csrf(client, "/setup")
    form = {
        "csrf": csrf,
        "token": token,
        "username": "first",
        "password": "a new password",
        "confirm": "a new password",
    }
    done = client.post("/setup", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert "Scenario library" in client.get("/").text  # signed in as the new facilitator
    again = live_server.client()
    csrf = _csrf(again, "/setup")
    reused = again.post("/setup", data={**form, "csrf": csrf, "username": "second"})
    assert reused.status_code == 400 and "used or expired" in reused.text


def test_a_name_already_taken_leaves_the_setup_link_usable(live_server: LiveServer) -> None:
    """Found by the form fuzzer: the link was spent before the name was refused, so the
    first facilitator, told to choose another name, found the link dead."""
    accounts = live_server.app.state.accounts
    live_server.run(accounts.create_user("taken", "a password here", AccountRole.reviewer))
    token = live_server.run(accounts.new_setup_token())
    client = live_server.client()
    form = {"token": token, "password": "a new password", "confirm": "a new password"}
    csrf = _csrf(client, "/setup")
    refused = client.post("/setup", data={**form, "csrf": csrf, "username": "taken"})
    assert refused.status_code == 400 and "already a user called &#39;taken&#39;" in refused.text
    done = client.post(
        "/setup", data={**form, "csrf": csrf, "username": "first"}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/"


def test_setup_says_what_is_wrong_with_a_password(live_server: LiveServer) -> None:
    token = live_server.run(live_server.app.state.accounts.new_setup_token())
    client = live_server.client()
    csrf = _csrf(client, "/setup")
    short = client.post(
        "/setup",
        data={
            "csrf": csrf,
            "token": token,
            "username": "x1",
            "password": "short",
            "confirm": "short",
        },
    )
    assert short.status_code == 400 and "at least 10 characters" in short.text


def test_first_start_prints_a_setup_link_and_demo_creates_a_drill(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, scenarios_dir=SCENARIOS, secret_key="k")
    lines = asyncio.run(_first_run(settings, "http://127.0.0.1:8000", demo=True))
    assert "http://127.0.0.1:8000/setup#token=" in lines[0]  # never sent to a server
    assert "Demo drill from" in lines[1] and "/drills/" in lines[1] and "code" in lines[1]
