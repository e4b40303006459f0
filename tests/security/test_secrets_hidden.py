"""Secrets (session and participant tokens, passwords, the signing key) are long, kept only
as hashes, and never appear in a URL, a page or the server's log.

The secrets looked for are the real ones a run handed out: every tt_session and tt_p_*
cookie value, every password typed (right and wrong), the CSRF tokens and the secret key.
One thing is shown by design and is not a secret of this kind: a drill's join code, which
people type and which the join link and QR code carry (it only opens the join page, and
guessing it is limited). The one-time first-run setup code is printed once by `tabletop
serve`, for the operator, in a link's #fragment, which no browser sends: the server's
access log never sees it.
"""

from __future__ import annotations

import base64
import re
import sqlite3
from pathlib import Path

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.services.security import new_token, normalise_join_code, token_hash
from app.web.deps import PARTICIPANT_COOKIE_PREFIX, SESSION_COOKIE
from app.web.forms import CSRF_COOKIE
from tests.live import PASSWORD, LiveServer, join, sign_in
from tests.scale.cluster import SECRET, Socket, http, server_env, workers

WRONG_PASSWORD = "a wrong guess 5d2a"


def _bits(token: str) -> int:
    """The entropy a URL-safe base64 token can carry: its decoded length."""
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token), token
    return len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8


def _participant(client: httpx.Client | httpx.AsyncClient) -> str:
    """The participant token this browser holds (it has joined one drill)."""
    (token,) = (v for k, v in client.cookies.items() if k.startswith(PARTICIPANT_COOKIE_PREFIX))
    return token


def _form_csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.cookies[CSRF_COOKIE]


def test_every_token_the_app_hands_out_carries_at_least_128_random_bits(
    live_server: LiveServer,
) -> None:
    made = [new_token() for _ in range(1000)]
    assert len(set(made)) == len(made) and min(map(_bits, made)) >= 128
    live = live_server
    facilitator = sign_in(live)
    code = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "X"}).json()[
        "join_code"
    ]
    participant = join(live, code, "Pat", "legal")
    _form_csrf(participant, "/join")
    handed_out = {
        "session": facilitator.cookies[SESSION_COOKIE],
        "participant": _participant(participant),
        "csrf": participant.cookies[CSRF_COOKIE],
        "setup": live.run(live.app.state.accounts.new_setup_token()),
    }
    for what, token in handed_out.items():
        assert _bits(token) >= 128, what
    assert len(set(handed_out.values())) == len(handed_out)


def test_the_database_keeps_only_hashes_of_tokens_and_passwords(
    live_server: LiveServer, tmp_path: Path
) -> None:
    """After sign-ins and joins by the form and the API, read the SQLite file (and its
    write-ahead log) byte by byte: no token, password or join code is there as it is,
    and each token's SHA-256 is (so these are the right bytes to look at)."""
    live = live_server
    by_api = sign_in(live)
    by_form = live.client()
    signed = by_form.post(
        "/login",
        data={"csrf": _form_csrf(by_form, "/login"), "username": "fac", "password": PASSWORD},
    )
    assert signed.status_code == 303
    made = by_api.post("/api/drills", json={"scenario": "mini.yaml", "name": "X"})
    drill_id, code = made.json()["id"], made.json()["join_code"]
    joined_api = join(live, code, "Pat", "legal")
    joined_form = live.client()
    form = {"csrf": _form_csrf(joined_form, "/join"), "code": code, "name": "Lee", "role": ""}
    assert joined_form.post("/join", data=form).status_code == 303
    setup = live.run(live.app.state.accounts.new_setup_token())
    tokens = {
        by_api.cookies[SESSION_COOKIE],
        by_form.cookies[SESSION_COOKIE],
        joined_api.cookies[f"{PARTICIPANT_COOKIE_PREFIX}{drill_id}"],
        joined_form.cookies[f"{PARTICIPANT_COOKIE_PREFIX}{drill_id}"],
        setup,
    }
    assert len(tokens) == 5

    database = tmp_path / "tabletop.db"
    stored = b"".join(
        p.read_bytes() for p in (database, database.with_name("tabletop.db-wal")) if p.exists()
    )
    for token in tokens:
        assert token.encode() not in stored
        assert token_hash(token).encode() in stored
    assert PASSWORD.encode() not in stored
    plain_code = normalise_join_code(code)
    assert plain_code.encode() not in stored and token_hash(plain_code).encode() in stored
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        hashes = [
            row[0]
            for table in ("web_sessions", "participants", "setup_tokens")
            for row in conn.execute(f"SELECT token_hash FROM {table}")
        ]
        passwords = [row[0] for row in conn.execute("SELECT password_hash FROM users")]
    assert len(hashes) == 5 and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
    assert passwords and all(p.startswith("$argon2id$") for p in passwords)


def test_tokens_never_appear_in_a_url_a_redirect_or_a_page(live_server: LiveServer) -> None:
    """Every request and response of a facilitator's and two participants' session, by
    the forms and the API, and everything their websockets receive: the tokens travel only
    in Cookie and Set-Cookie headers."""
    live = live_server
    addresses: list[str] = []  # every URL asked for and every redirect's Location
    pages: list[str] = []  # every body: pages, JSON, websocket messages

    def record(response: httpx.Response) -> None:
        response.read()
        addresses.append(str(response.request.url))
        addresses.append(response.headers.get("location", ""))
        pages.append(response.text)

    def browser() -> httpx.Client:
        client = live.client()
        client.event_hooks["response"] = [record]
        return client

    facilitator = browser()
    token = _form_csrf(facilitator, "/login?next=/")
    signed = facilitator.post(
        "/login", data={"csrf": token, "username": "fac", "password": PASSWORD, "next": "/"}
    )
    assert signed.status_code == 303
    facilitator.get(signed.headers["location"])
    token = _form_csrf(facilitator, "/drills/new?scenario=mini.yaml")
    created = facilitator.post(
        "/drills/new", data={"csrf": token, "scenario": "mini.yaml", "name": "Seen"}
    )
    assert created.status_code == 303
    console = facilitator.get(created.headers["location"])
    drill_id = created.headers["location"].split("/")[2]
    code = re.search(r"[A-Z0-9]{5}-[A-Z0-9]{5}", console.text)
    assert code is not None
    api = browser()
    assert (
        api.post("/api/session", json={"username": "fac", "password": PASSWORD}).status_code == 200
    )
    api.post("/api/drills", json={"scenario": "mini.yaml", "name": "Seen too"})

    lee = browser()
    page = lee.get(f"/join?code={code.group(0)}")
    assert page.status_code == 200
    form = {"csrf": lee.cookies[CSRF_COOKIE], "code": code.group(0), "name": "Lee"}
    joined = lee.post("/join", data=form | {"role": "legal"})
    assert joined.status_code == 303
    lee.get(joined.headers["location"])
    lee.get(f"/api/drills/{drill_id}/events")
    pat = browser()
    pat.post("/api/join", json={"code": code.group(0), "name": "Pat", "role": "executive"})
    pat.get(f"/drills/{drill_id}/play")

    for client in (facilitator, lee, pat):
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        headers = {"Origin": live.url, "Cookie": cookie}
        with connect(
            f"{live.ws_url}/ws/drills/{drill_id}?since=0", additional_headers=headers
        ) as sock:
            try:
                pages.append(str(sock.recv(5)))
            except ConnectionClosed as exc:  # pragma: no cover - shown if it happens
                raise AssertionError(f"the websocket closed: {exc}") from exc

    out = facilitator.post("/logout", data={"csrf": facilitator.cookies[CSRF_COOKIE]})
    assert out.status_code == 303
    browsers = (facilitator, api, lee, pat)
    tokens = {
        value
        for client in browsers
        for name, value in client.cookies.items()
        if name == SESSION_COOKIE or name.startswith(PARTICIPANT_COOKIE_PREFIX)
    }
    tokens |= {signed.cookies[SESSION_COOKIE], PASSWORD}
    csrf = {c.cookies[CSRF_COOKIE] for c in browsers if CSRF_COOKIE in c.cookies}
    assert len(tokens) >= 5 and len(csrf) >= 3
    urls, bodies = "\n".join(addresses), "\n".join(pages)
    assert f"/drills/{drill_id}/play" in urls  # what was recorded is this session
    assert not [t for t in tokens if t in urls or t in bodies], "a token in a URL or a page"
    # The CSRF token is in the page's own forms (that is how double submit works), never
    # in a URL.
    assert not [t for t in csrf if t in urls], "a CSRF token in a URL"


async def test_secrets_never_reach_the_server_log(tmp_path: Path) -> None:
    """A real `tabletop serve` with its access log on: first-run setup, sign-in by the
    form and the API, a wrong password, joining by both, play over websockets, sign-out
    and a stale cookie reused. Then its whole output is searched for every secret."""
    env = server_env(tmp_path)
    with workers(tmp_path, env) as started:
        worker = await started.ready(started.spawn())
        link = re.search(r"/setup#token=(\S+)", worker.output())
        assert link is not None, worker.output()
        setup_token = link.group(1)
        secrets: set[str] = {PASSWORD, WRONG_PASSWORD, SECRET}

        first = http(worker)
        page = await first.get("/setup")  # the browser keeps the #fragment to itself
        assert page.status_code == 200
        made = await first.post(
            "/setup",
            data={
                "csrf": first.cookies[CSRF_COOKIE],
                "token": setup_token,
                "username": "fac",
                "password": PASSWORD,
                "confirm": PASSWORD,
            },
        )
        assert made.status_code == 303, made.text
        await first.get("/")

        guesser = http(worker)
        wrong = {"username": "fac", "password": WRONG_PASSWORD}
        assert (await guesser.post("/api/session", json=wrong)).status_code == 401
        facilitator = http(worker)
        right = {"username": "fac", "password": PASSWORD}
        assert (await facilitator.post("/api/session", json=right)).status_code == 200
        by_form = http(worker)
        await by_form.get("/login")
        signed = await by_form.post(
            "/login", data={"csrf": by_form.cookies[CSRF_COOKIE], **right, "next": "/"}
        )
        assert signed.status_code == 303

        created = await facilitator.post(
            "/api/drills", json={"scenario": "mini.yaml", "name": "Logged", "speed": 60}
        )
        drill_id, code = created.json()["id"], created.json()["join_code"]
        lee = http(worker)
        joined = await lee.post("/api/join", json={"code": code, "name": "Lee", "role": "legal"})
        assert joined.status_code == 200
        eve = http(worker)
        await eve.get(f"/join?code={code}")
        form = {"csrf": eve.cookies[CSRF_COOKIE], "code": code, "name": "Eve"}
        assert (await eve.post("/join", data=form | {"role": "executive"})).status_code == 303
        await eve.get(f"/drills/{drill_id}/play")

        console = await Socket(worker, drill_id, facilitator).open()
        legal = await Socket(worker, drill_id, lee).open()
        await console.command({"type": "start"})
        await legal.command({"type": "send_message", "to": ["executive"], "body": "Heads up"})
        await console.close()
        await legal.close()

        sessions = {c.cookies[SESSION_COOKIE] for c in (first, facilitator, by_form)}
        participants = {_participant(lee), _participant(eve)}
        csrf = {c.cookies[CSRF_COOKIE] for c in (first, by_form, eve)}
        assert len(sessions) == 3 and len(participants) == 2 and len(csrf) == 3
        secrets |= sessions | participants | csrf
        stale = facilitator.cookies[SESSION_COOKIE]
        assert (await facilitator.delete("/api/session")).status_code == 204
        await by_form.post("/logout", data={"csrf": by_form.cookies[CSRF_COOKIE]})
        thief = http(worker)
        thief.cookies.set(SESSION_COOKIE, stale, domain="127.0.0.1")
        assert (await thief.get("/api/scenarios")).status_code == 401
        for client in (first, guesser, facilitator, by_form, lee, eve, thief):
            await client.aclose()
        started.stop_all()

    log = worker.output()
    # The access log was on, and it saw all of this.
    for line in ("POST /api/session", "POST /login", "POST /join", f"/ws/drills/{drill_id}"):
        assert line in log, line
    assert len(secrets) == 11
    leaked = [s for s in secrets if s in log]
    assert not leaked, f"{len(leaked)} secret(s) in the server's log"
    # The setup code: once, in the link printed for the operator, and nowhere after.
    assert log.count(setup_token) == 1 and f"/setup#token={setup_token}" in log
