"""First run: the one-time setup link, and `serve --demo`'s sample drill."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from app.cli.serve import _first_run
from app.config import Settings
from app.services.accounts import AccountError, AccountRole
from app.services.audit import SHELL
from tests.conftest import SCENARIOS
from tests.live import LiveServer
from tests.web.test_pages import _csrf


def _setup(client: httpx.Client, token: str, username: str, password: str) -> httpx.Response:
    csrf = _csrf(client, "/setup")
    form = {"csrf": csrf, "token": token, "username": username}
    form |= {"password": password, "confirm": password}
    return client.post("/setup", data=form, follow_redirects=False)


def test_the_setup_link_creates_the_first_account_an_admin_once(fresh_server: LiveServer) -> None:
    token = fresh_server.run(fresh_server.app.state.accounts.new_setup_token())
    client = fresh_server.client()
    done = _setup(client, token, "first", "a new password")
    assert done.status_code == 303 and done.headers["location"] == "/"
    home = client.get("/").text
    assert "Scenario library" in home  # signed in, and runs drills
    assert 'href="/admin/accounts"' in home  # the first account manages the others
    reused = _setup(fresh_server.client(), token, "second", "a new password")
    assert reused.status_code == 400 and "used or expired" in reused.text


def test_a_first_run_link_stops_working_once_any_account_exists(fresh_server: LiveServer) -> None:
    """Every start with no account printed a new link, and any of them made a facilitator
    even after accounts existed: a stale link from a log was a way in."""
    accounts = fresh_server.app.state.accounts
    stale = fresh_server.run(accounts.new_setup_token())
    fresh_server.run(accounts.create_user("admin1", "a password here", AccountRole.admin))
    refused = _setup(fresh_server.client(), stale, "intruder", "a new password")
    assert refused.status_code == 400 and "already has accounts" in refused.text
    names = [u.username for u in fresh_server.run(accounts.users())]
    assert names == ["admin1"]


def test_two_first_run_links_used_at_once_make_one_account(fresh_server: LiveServer) -> None:
    accounts = fresh_server.app.state.accounts
    links = [fresh_server.run(accounts.new_setup_token()) for _ in range(2)]

    async def both() -> list[object]:
        outcomes: list[object] = await asyncio.gather(
            *(
                accounts.use_setup_token(link, f"first{n}", "a new password")
                for n, link in enumerate(links)
            ),
            return_exceptions=True,
        )
        return outcomes

    outcomes = fresh_server.run(both())
    refused = [o for o in outcomes if isinstance(o, AccountError)]
    assert len(refused) == 1 and "already has accounts" in str(refused[0])
    assert len(fresh_server.run(accounts.users())) == 1


def test_a_name_already_taken_leaves_an_account_link_usable(live_server: LiveServer) -> None:
    """Found by the form fuzzer: the link was spent before the name was refused, so the
    person, told to type another name, found the link dead. Here with an admin's link
    for a new account: a wrong name is refused, the right one still works."""
    accounts = live_server.app.state.accounts
    link = live_server.run(accounts.create_with_link("newbie", AccountRole.reviewer, SHELL))
    client = live_server.client()
    refused = _setup(client, link.secret, "fac", "a new password")
    assert refused.status_code == 400 and "another user name" in refused.text
    done = _setup(client, link.secret, "newbie", "a new password")
    assert done.status_code == 303 and done.headers["location"] == "/"


def test_setup_says_what_is_wrong_with_a_password(fresh_server: LiveServer) -> None:
    token = fresh_server.run(fresh_server.app.state.accounts.new_setup_token())
    short = _setup(fresh_server.client(), token, "x1", "short")
    assert short.status_code == 400 and "at least 10 characters" in short.text
    common = _setup(fresh_server.client(), token, "x1", "password12")
    assert common.status_code == 400 and "very common password" in common.text
    fine = _setup(fresh_server.client(), token, "x1", "a new password")
    assert fine.status_code == 303  # the refusals left the link usable


def test_first_start_prints_a_setup_link_and_demo_creates_a_drill(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, scenarios_dir=SCENARIOS, secret_key="k")
    lines = asyncio.run(_first_run(settings, "http://127.0.0.1:8000", demo=True))
    assert "http://127.0.0.1:8000/setup#token=" in lines[0]  # never sent to a server
    assert "Demo drill from" in lines[1] and "/drills/" in lines[1] and "code" in lines[1]
