"""Accounts in the browser, as an admin and as the people they manage: one-time links,
disable and enable, reset, roles, your own password, the audit log; and the session and
token lifetimes behind them."""

from __future__ import annotations

import asyncio
import re
import threading
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from app.engine import commands as c
from app.realtime.codes import Close
from app.services import security
from app.services.accounts import AccountRole, AccountService
from app.services.security import PasswordChecks
from tests.live import PASSWORD, LiveServer, join
from tests.web.test_pages import _csrf
from tests.ws.test_revocation import _answer, _inject, _open, _send

ADMIN_PASSWORD = "the admin's own pass phrase"
DANA_PASSWORD = "dana runs the spring drill"


def _accounts(live: LiveServer) -> AccountService:
    found: AccountService = live.app.state.accounts
    return found


def _signed_in(live: LiveServer, username: str, password: str) -> httpx.Client:
    client = live.client()
    answer = client.post("/api/session", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return client


def _admin(live: LiveServer) -> httpx.Client:
    live.run(_accounts(live).create_user("boss", ADMIN_PASSWORD, AccountRole.admin))
    return _signed_in(live, "boss", ADMIN_PASSWORD)


def _dana(live: LiveServer) -> httpx.Client:
    """A facilitator, signed in."""
    live.run(_accounts(live).create_user("dana", DANA_PASSWORD, AccountRole.facilitator))
    return _signed_in(live, "dana", DANA_PASSWORD)


def _post(client: httpx.Client, path: str, **fields: str) -> httpx.Response:
    token = _csrf(client, "/admin/accounts")
    return client.post(path, data={"csrf": token, **fields})


def _link_in(page: str) -> str:
    found = re.search(r'value="(http://[^"]+/setup#token=[^"]+)"', page)
    assert found is not None, "no one-time link on the page"
    return found.group(1)


def _choose_password(live: LiveServer, link: str, username: str, password: str) -> httpx.Client:
    """What the person does with the link: the page's script puts the code in the form."""
    client = live.client()
    token = link.split("#token=", 1)[1]
    csrf = _csrf(client, "/setup")
    form = {"csrf": csrf, "token": token, "username": username}
    done = client.post(
        "/setup", data=form | {"password": password, "confirm": password}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    return client


def test_an_admin_makes_an_account_whose_owner_chooses_the_password(
    live_server: LiveServer,
) -> None:
    live = live_server
    admin = _admin(live)
    made = _post(admin, "/admin/accounts", username="dana", role="facilitator")
    assert made.status_code == 201 and "Created facilitator dana" in made.text
    link = _link_in(made.text)
    assert link.startswith(live.url)
    assert "setup#token" not in admin.get("/admin/accounts").text  # shown once, not again
    # No password works until dana chooses one.
    assert (
        live.client()
        .post("/api/session", json={"username": "dana", "password": PASSWORD})
        .status_code
        == 401
    )
    dana = _choose_password(live, link, "dana", DANA_PASSWORD)
    assert "Scenario library" in dana.get("/").text  # signed in, runs drills
    assert dana.get("/admin/accounts").status_code == 403  # but manages no accounts
    again = _choose_password_refused(live, link, "dana")
    assert "used or expired" in again
    audit = admin.get("/admin/audit").text
    for action in ("account created", "password link made", "setup link used"):
        assert action in audit
    assert link.split("#token=")[1] not in audit  # no secret in the log


def _choose_password_refused(live: LiveServer, link: str, username: str) -> str:
    client = live.client()
    csrf = _csrf(client, "/setup")
    form = {"csrf": csrf, "token": link.split("#token=")[1], "username": username}
    strong = "a strong enough phrase"
    answer = client.post("/setup", data=form | {"password": strong, "confirm": strong})
    assert answer.status_code == 400
    return answer.text


def test_disabling_an_account_ends_its_sockets_sessions_and_tokens_at_once(
    live_server: LiveServer,
) -> None:
    live = live_server
    admin, dana = _admin(live), _dana(live)
    secret = live.run(_accounts(live).create_api_token("dana-bot", "dana"))
    drill = dana.post("/api/drills", json={"scenario": "mini.yaml", "name": "Dana's"}).json()
    sock = _open(live, drill["id"], dict(dana.cookies.items()))
    done = _post(admin, "/admin/accounts/dana/disable")
    assert done.status_code == 200 and "dana is disabled" in done.text
    started = time.monotonic()
    sent = _send(sock, _inject("after the disable"))
    with pytest.raises(ConnectionClosed) as closed:
        _answer(sock, sent)  # refused, or never sent: the socket closes either way
    assert time.monotonic() - started < 1
    assert closed.value.rcvd is not None and closed.value.rcvd.code == Close.unauthorized
    assert dana.get("/api/scenarios").status_code == 401
    bearer = {"Authorization": f"Bearer {secret}"}
    assert live.client().get("/api/scenarios", headers=bearer).status_code == 401
    refused = live.client().post(
        "/api/session", json={"username": "dana", "password": DANA_PASSWORD}
    )
    assert refused.status_code == 403 and "disabled" in refused.json()["detail"]
    events = live.run(live.app.state.service.events(drill["id"]))
    assert not [e for e in events if e.data.get("title") == "after the disable"]
    # Enabled again: the password works, the old session stays ended.
    assert _post(admin, "/admin/accounts/dana/enable").status_code == 200
    assert dana.get("/api/scenarios").status_code == 401
    assert _signed_in(live, "dana", DANA_PASSWORD).get("/api/scenarios").status_code == 200


def test_a_reset_ends_the_old_password_and_sessions_and_gives_a_new_link(
    live_server: LiveServer,
) -> None:
    live = live_server
    admin, dana = _admin(live), _dana(live)
    reset = _post(admin, "/admin/accounts/dana/reset")
    assert reset.status_code == 200 and "no longer works" in reset.text
    assert dana.get("/api/scenarios").status_code == 401
    old = live.client().post("/api/session", json={"username": "dana", "password": DANA_PASSWORD})
    assert old.status_code == 401
    renewed = _choose_password(live, _link_in(reset.text), "dana", "dana's brand new phrase")
    assert renewed.get("/api/scenarios").status_code == 200


def test_admins_cannot_lock_everyone_out(live_server: LiveServer) -> None:
    live = live_server
    admin = _admin(live)
    own = _post(admin, "/admin/accounts/boss/disable")
    assert own.status_code == 400 and "cannot disable your own account" in own.text
    demoted = _post(admin, "/admin/accounts/boss/role", role="facilitator")
    assert demoted.status_code == 400 and "last enabled admin" in demoted.text
    promoted = _post(admin, "/admin/accounts/fac/role", role="admin")
    assert promoted.status_code == 200 and "fac is now admin" in promoted.text
    assert _post(admin, "/admin/accounts/boss/role", role="facilitator").status_code == 200


def test_only_admins_reach_the_accounts_pages(live_server: LiveServer) -> None:
    live = live_server
    fac = _signed_in(live, "fac", PASSWORD)
    for path in ("/admin/accounts", "/admin/audit"):
        page = fac.get(path)
        assert page.status_code == 403 and "only an admin can manage accounts" in page.text
    token = _csrf(fac, "/account")
    made = fac.post("/admin/accounts", data={"csrf": token, "username": "x9", "role": "admin"})
    assert made.status_code == 403
    assert [u.username for u in live.run(_accounts(live).users())] == ["fac"]
    outsider = live.client().get("/admin/accounts", follow_redirects=False)
    assert outsider.status_code == 303 and outsider.headers["location"].startswith("/login")


def test_changing_your_own_password_signs_out_your_other_browsers(live_server: LiveServer) -> None:
    live = live_server
    desk, laptop = _signed_in(live, "fac", PASSWORD), _signed_in(live, "fac", PASSWORD)
    token = _csrf(desk, "/account")
    new = "fac's fresh spring phrase"
    form = {"csrf": token, "current": "not my password", "password": new, "confirm": new}
    wrong = desk.post("/account/password", data=form)
    assert wrong.status_code == 400 and "current password is wrong" in wrong.text
    weak = desk.post(
        "/account/password",
        data=form | {"current": PASSWORD} | dict.fromkeys(("password", "confirm"), "qwertyuiop1"),
    )
    assert weak.status_code == 400 and "stronger password" in weak.text
    done = desk.post("/account/password", data=form | {"current": PASSWORD}, follow_redirects=True)
    assert done.status_code == 200 and "Your password is changed" in done.text
    assert desk.get("/api/scenarios").status_code == 200  # this browser stays in
    assert laptop.get("/api/scenarios").status_code == 401  # the others are out
    assert _signed_in(live, "fac", new).get("/api/scenarios").status_code == 200


def test_the_admin_pages_make_and_revoke_api_tokens(live_server: LiveServer) -> None:
    live = live_server
    admin = _admin(live)
    made = _post(admin, "/admin/tokens", name="ci-bot", username="fac")
    assert made.status_code == 201 and "shown only once" in made.text
    secret = re.search(r'value="(tt_[^"]+)"', made.text)
    assert secret is not None
    bearer = {"Authorization": f"Bearer {secret.group(1)}"}
    assert live.client().get("/api/scenarios", headers=bearer).status_code == 200
    assert secret.group(1) not in admin.get("/admin/accounts").text
    assert _post(admin, "/admin/tokens/ci-bot/revoke").status_code == 200
    assert live.client().get("/api/scenarios", headers=bearer).status_code == 401


def _read_until_closed(sock: ClientConnection) -> None:
    while True:
        sock.recv(5)


@pytest.mark.live_settings(session_idle_minutes=0.05)
def test_an_idle_session_ends_and_closes_its_socket(live_server: LiveServer) -> None:
    """Idle limit 3 s here (two hours by default): no request and no command for that long
    and the session is over, on HTTP and on the socket it had open, which closes then
    rather than at its next command."""
    live = live_server
    fac = _signed_in(live, "fac", PASSWORD)
    signed_in_at = time.monotonic()
    drill = fac.post("/api/drills", json={"scenario": "mini.yaml", "name": "Idle"}).json()
    sock = _open(live, drill["id"], dict(fac.cookies.items()))
    with pytest.raises(ConnectionClosed) as closed:
        _read_until_closed(sock)
    took = time.monotonic() - signed_in_at
    assert closed.value.rcvd is not None and closed.value.rcvd.code == Close.unauthorized
    assert "session has ended" in closed.value.rcvd.reason
    assert 2.5 < took < 4.0, f"closed {took:.2f} s after sign-in, idle limit 3 s"
    assert fac.get("/api/scenarios").status_code == 401
    fresh = _signed_in(live, "fac", PASSWORD)
    events = fresh.get(f"/api/drills/{drill['id']}/events").json()
    assert not [e for e in events if e["data"].get("title") == "after the idle limit"]


@pytest.mark.live_settings(participant_hours_after_end=0)
def test_participant_tokens_end_with_their_drill(live_server: LiveServer) -> None:
    live = live_server
    fac = _signed_in(live, "fac", PASSWORD)
    drill = fac.post("/api/drills", json={"scenario": "mini.yaml", "name": "Ends"}).json()
    pat = join(live, drill["join_code"], "Pat", "legal")
    assert pat.get(f"/api/drills/{drill['id']}/events").status_code == 200
    live.run(live.app.state.service.execute(drill["id"], c.EndDrill()))
    time.sleep(1.1)
    assert pat.get(f"/api/drills/{drill['id']}/events").status_code == 401


def test_password_checks_run_off_the_event_loop_a_bounded_number_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """argon2 on the event loop stalled every socket of the worker while it ran; now each
    check runs in a thread, at most `concurrency` at once."""
    seen: list[int] = []
    running = [0]
    most = [0]
    real = security.verify_password

    def verify(stored: str, password: str) -> bool:
        seen.append(threading.get_ident())
        running[0] += 1
        most[0] = max(most[0], running[0])
        time.sleep(0.05)
        running[0] -= 1
        return real(stored, password)

    monkeypatch.setattr(security, "verify_password", verify)
    checks = PasswordChecks(concurrency=2)
    stored = security.hash_password("a pass phrase to check")

    async def burst() -> tuple[int, list[bool]]:
        loop_thread = threading.get_ident()
        answers = await asyncio.gather(
            *(checks.verify(stored, "a pass phrase to check") for _ in range(6))
        )
        return loop_thread, list(answers)

    loop_thread, answers = asyncio.run(burst())
    assert answers == [True] * 6
    assert loop_thread not in seen
    assert most[0] == 2
