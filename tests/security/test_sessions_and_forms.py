"""Sign-in throttling, join-code guessing, session fixation and CSRF on every state-changing
route, against a real server.

tests/api/test_api.py already shows the JSON sign-in throttle (401 x 10, then 429), the
JSON join-code limit (404 x 20, then 429) and a whole room joining from one address; the
role-isolation walk refuses a few foreign-Origin calls. Here: the form and the API share
one sign-in limit, the right password is refused while throttled and nobody else is;
every way of trying a join code shares one limit; a planted session cookie never survives
sign-in and sign-out ends the session on the server; and the CSRF walk derives the
state-changing routes from `app.routes`, so a route added later without a case here (and
without protection) fails it.

Another address: uvicorn trusts X-Forwarded-For from 127.0.0.1 (a local reverse proxy),
which is how these tests come from a second client.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.engine import commands as c
from app.realtime.codes import Close
from app.services import security
from app.services.accounts import AccountRole, AccountService
from app.services.audit import SHELL
from app.services.drills import DrillService, new_drill_id
from app.services.reviews import ItemDraft, ReviewService
from app.services.security import format_join_code
from app.web.deps import SESSION_COOKIE, require_same_origin
from app.web.forms import CSRF_COOKIE
from app.web.limits import JOIN_LIMIT, LOGIN_ADDRESS_LIMIT, LOGIN_LIMIT
from tests.live import FIXTURES, PASSWORD, LiveServer, join, sign_in
from tests.security.test_role_isolation_walk import served_routes

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
ELSEWHERE = {"X-Forwarded-For": "198.51.100.23"}
LEE_PASSWORD = "lee's long password"
MINI = (FIXTURES / "mini.yaml").read_text()
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _accounts(live: LiveServer) -> AccountService:
    found: AccountService = live.app.state.accounts
    return found


def _service(live: LiveServer) -> DrillService:
    found: DrillService = live.app.state.service
    return found


def _csrf(client: httpx.Client, path: str = "/login") -> str:
    """Open a page as a browser does: the CSRF cookie comes with it."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.cookies[CSRF_COOKIE]


def _form_sign_in(
    client: httpx.Client, username: str, password: str, **headers: str
) -> httpx.Response:
    token = _csrf(client)
    data = {"csrf": token, "username": username, "password": password, "next": "/"}
    return client.post("/login", data=data, headers=headers)


def _api_sign_in(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/api/session", json={"username": username, "password": password})


# ------------------------------------------------------------------ sign-in throttle


def test_the_form_and_the_api_share_one_sign_in_limit_per_account_from_any_address(
    live_server: LiveServer,
) -> None:
    """Counted per account, whatever the address: guesses at one password from many
    machines add up. The refusal says when to come back (Retry-After)."""
    live = live_server
    live.run(_accounts(live).create_user("lee", LEE_PASSWORD, AccountRole.facilitator))
    attacker = live.client()
    half = LOGIN_LIMIT // 2
    wrong = [_form_sign_in(attacker, "fac", f"guess {n}").status_code for n in range(half)]
    wrong += [
        _api_sign_in(attacker, "FAC", f"guess {n}").status_code  # any case: one account
        for n in range(LOGIN_LIMIT - half)
    ]
    assert wrong == [401] * LOGIN_LIMIT

    form = _form_sign_in(attacker, "fac", PASSWORD)
    assert form.status_code == 429 and "Too many sign-in attempts" in form.text
    api = _api_sign_in(attacker, "fac", PASSWORD)
    assert api.status_code == 429 and "too many sign-in attempts" in api.text
    for refused in (form, api):
        assert 0 < int(refused.headers["retry-after"]) <= 300
    assert SESSION_COOKIE not in attacker.cookies  # throttled means not signed in

    # The same account from another address is refused too; another account is not.
    desk = live.client()
    desk.headers.update(ELSEWHERE)
    assert _form_sign_in(desk, "fac", PASSWORD, **ELSEWHERE).status_code == 429
    assert _api_sign_in(desk, "fac", PASSWORD).status_code == 429
    lee = live.client()
    assert _form_sign_in(lee, "lee", LEE_PASSWORD).status_code == 303
    assert _api_sign_in(live.client(), "lee", LEE_PASSWORD).status_code == 200


def test_fresh_names_from_one_address_are_throttled_too(live_server: LiveServer) -> None:
    """Throttling by address and name let an address try a new name each time, never
    throttled. Per address now, whatever the names; other addresses are not affected."""
    live = live_server
    attacker = live.client()
    answers = [
        _api_sign_in(attacker, f"name{n}", "guess").status_code
        for n in range(LOGIN_ADDRESS_LIMIT + 1)
    ]
    assert answers == [401] * LOGIN_ADDRESS_LIMIT + [429]
    desk = live.client()
    desk.headers.update(ELSEWHERE)
    assert _api_sign_in(desk, "fac", PASSWORD).status_code == 200


def test_sign_ins_failures_and_throttles_are_audited(live_server: LiveServer) -> None:
    live = live_server
    client = live.client()
    assert _api_sign_in(client, "fac", "a wrong guess").status_code == 401
    assert _api_sign_in(client, "fac", PASSWORD).status_code == 200
    for n in range(LOGIN_LIMIT):
        _api_sign_in(live.client(), "fac", f"guess {n}")
    entries = live.run(_accounts(live).audit_entries(50))
    actions = [(e.action, e.target or e.actor) for e in reversed(entries)]
    assert actions[:3] == [
        ("account_created", "fac"),
        ("sign_in_failed", "fac"),
        ("sign_in", "fac"),
    ]
    assert ("sign_in_throttled", "fac") in actions
    assert all(e.address == "127.0.0.1" for e in entries if e.action != "account_created")
    assert not [e for e in entries if PASSWORD in e.detail or "guess" in e.detail]


# ------------------------------------------------------------------ join-code guessing


def test_wrong_join_codes_count_once_across_every_way_in_and_lock_out_only_that_address(
    live_server: LiveServer,
) -> None:
    live = live_server
    facilitator = sign_in(live)
    made = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "Friday"})
    assert made.status_code == 201, made.text
    code = made.json()["join_code"]
    guesser = live.client()
    token = _csrf(guesser, "/join")

    def ways(typed: str) -> list[Callable[[], httpx.Response]]:
        return [
            lambda: guesser.post("/api/join", json={"code": typed, "name": "G", "role": None}),
            lambda: guesser.get(f"/api/join/{typed}"),
            lambda: guesser.get(f"/join/{typed}"),
            lambda: guesser.get("/join", params={"code": typed}),
            lambda: guesser.post("/join", data={"csrf": token, "code": typed, "name": "G"}),
        ]

    statuses = [ways(f"ZZZZZ-ZZZ{n:02d}")[n % 5]().status_code for n in range(JOIN_LIMIT)]
    assert statuses == [404] * JOIN_LIMIT
    # Now every way is refused from here, wrong code or right.
    for typed in ("ZZZZZ-ZZZZZ", code):
        answers = [way() for way in ways(typed)]
        assert [a.status_code for a in answers] == [429] * 5, typed
        assert "Too many wrong codes" in answers[2].text
    # Another address joins with the right code, by the API and by the form.
    other = live.client()
    other.headers.update(ELSEWHERE)
    joined = other.post("/api/join", json={"code": code, "name": "Lee", "role": "legal"})
    assert joined.status_code == 200, joined.text
    other_token = _csrf(other, f"/join/{code}")
    form = other.post("/join", data={"csrf": other_token, "code": code, "name": "Eve"})
    assert form.status_code == 303 and form.headers["location"].endswith("/play")


def test_a_burst_of_concurrent_guesses_gets_only_the_limit_answered(
    live_server: LiveServer,
) -> None:
    """Guesses sent all at once, not one after another: still only 20 wrong join codes
    and 10 passwords are answered; a room joining at once with the right code is not
    held up."""
    live = live_server
    service = _service(live)
    drill_id = live.run(service.create_drill(MINI, "mini.yaml", c.CreateDrill(new_drill_id(), "B")))
    code = format_join_code(service.join_code(drill_id))

    async def burst() -> tuple[list[int], list[int], list[int]]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(
            base_url=live.url, headers={"Origin": live.url}, timeout=30, limits=limits
        ) as client:
            codes = await asyncio.gather(
                *(client.get(f"/api/join/ZZZZZ-Z{n:04d}") for n in range(100))
            )
            passwords = await asyncio.gather(
                *(
                    client.post("/api/session", json={"username": "fac", "password": f"g{n}"})
                    for n in range(40)
                )
            )
            room = await asyncio.gather(
                *(
                    client.post(
                        "/api/join",
                        json={"code": code, "name": f"P{n}", "role": None},
                        headers=ELSEWHERE,
                    )
                    for n in range(15)
                )
            )
        return (
            [r.status_code for r in codes],
            [r.status_code for r in passwords],
            [r.status_code for r in room],
        )

    codes, passwords, room = asyncio.run(burst())
    assert sorted(codes) == [404] * JOIN_LIMIT + [429] * (100 - JOIN_LIMIT)
    assert sorted(passwords) == [401] * LOGIN_LIMIT + [429] * (40 - LOGIN_LIMIT)
    assert room == [200] * 15


# ------------------------------------------------------------------ session fixation


def test_a_planted_session_cookie_never_becomes_the_signed_in_session(
    live_server: LiveServer,
) -> None:
    """Session fixation: whatever session cookie the browser had before signing in (made
    up, or the attacker's own real session), sign-in replaces it with a new one, and the
    planted value never signs anyone in as the victim."""
    live = live_server
    live.run(_accounts(live).create_user("mallory", LEE_PASSWORD, AccountRole.reviewer))
    attackers_own = _api_sign_in(live.client(), "mallory", LEE_PASSWORD)
    assert attackers_own.status_code == 200
    attackers_token = attackers_own.cookies[SESSION_COOKIE]
    for planted in ("planted-by-an-attacker-0123456789abcdef0123456789", attackers_token):
        for how in ("form", "api"):
            victim = live.client()
            victim.cookies.set(SESSION_COOKIE, planted, domain="127.0.0.1")
            if how == "form":
                assert _form_sign_in(victim, "fac", PASSWORD).status_code == 303
            else:
                assert _api_sign_in(victim, "fac", PASSWORD).status_code == 200
            token = victim.cookies[SESSION_COOKIE]
            assert token != planted, how
            assert live.run(_accounts(live).user_for_session(token)).username == "fac"
            # The planted value is still nobody, or still only the attacker (a reviewer).
            still = live.run(_accounts(live).user_for_session(planted))
            assert still is None or still.username == "mallory"


def test_each_sign_in_is_a_new_session_and_sign_out_ends_it_on_the_server(
    live_server: LiveServer,
) -> None:
    live = live_server
    browser = live.client()
    tokens = []
    for sign in ("form", "form", "api", "api"):
        if sign == "form":
            assert _form_sign_in(browser, "fac", PASSWORD).status_code == 303
        else:
            assert _api_sign_in(browser, "fac", PASSWORD).status_code == 200
        tokens.append(browser.cookies[SESSION_COOKIE])
    assert len(set(tokens)) == 4  # never the same session twice

    made = browser.post("/api/drills", json={"scenario": "mini.yaml", "name": "Out"})
    drill_id = made.json()["id"]

    def signed_in(token: str) -> bool:
        return live.run(_accounts(live).user_for_session(token)) is not None

    def reused(token: str) -> list[object]:
        """What a stolen copy of the cookie gets after sign-out."""
        thief = httpx.Client(base_url=live.url, headers={"Origin": live.url}, timeout=10)
        thief.cookies.set(SESSION_COOKIE, token, domain="127.0.0.1")
        home = thief.get("/")
        header = {"Origin": live.url, "Cookie": f"{SESSION_COOKIE}={token}"}
        url = f"{live.ws_url}/ws/drills/{drill_id}"
        with connect(url, additional_headers=header, open_timeout=10) as sock:
            try:
                sock.recv(5)
                closed: object = "open"
            except ConnectionClosed as exc:
                closed = exc.rcvd.code if exc.rcvd else None
        return [
            home.status_code,
            home.headers.get("location"),
            thief.get("/api/scenarios").status_code,
            closed,
        ]

    assert all(signed_in(t) for t in tokens)
    # Sign out with the form (session 2) and the API (session 4): each ends on the server.
    browser.cookies.set(SESSION_COOKIE, tokens[1], domain="127.0.0.1")
    out = browser.post("/logout", data={"csrf": _csrf(browser)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert 'tt_session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    browser.cookies.set(SESSION_COOKIE, tokens[3], domain="127.0.0.1")
    assert browser.delete("/api/session").status_code == 204
    for ended in (tokens[1], tokens[3]):
        assert not signed_in(ended)
        assert reused(ended) == [303, "/login?next=%2F", 401, Close.unauthorized]
    # The others were not signed out with them.
    assert signed_in(tokens[0]) and signed_in(tokens[2])
    assert reused(tokens[0])[:3] == [200, None, 200]


# ------------------------------------------------------------------ the CSRF walk


@dataclass
class World:
    live: LiveServer
    database: Path
    code: str
    lobby: str
    ended: str
    open_item: str
    closed_item: str
    setup_token: str
    participant: httpx.Client
    password: str = PASSWORD
    """fac's password: the walk's own password change changes it for the cases after."""


@pytest.fixture
def world(live_server: LiveServer, tmp_path: Path) -> Iterator[World]:
    """A drill in its lobby (to join), an ended one with an open and a closed improvement
    item (to review), a participant, and an unused setup link."""
    live = live_server
    service = _service(live)
    reviews: ReviewService = live.app.state.reviews
    lobby = live.run(
        service.create_drill(MINI, "mini.yaml", c.CreateDrill(new_drill_id(), "L"), "fac")
    )
    ended = live.run(service.create_drill(MINI, "mini.yaml", c.CreateDrill(new_drill_id(), "E")))
    live.run(service.execute(ended, c.StartClock()))
    live.run(service.execute(ended, c.EndDrill()))

    def item(issue: str) -> str:
        draft = ItemDraft("Comms", issue, "Drill it", "planning", "SOC", "Dana")
        return str(live.run(reviews.add_item(ended, draft, "fac")).id)

    open_item, closed_item = item("Legal heard late"), item("Press line missing")
    live.run(reviews.set_item_status(closed_item, "closed", "fac"))
    code = format_join_code(service.join_code(lobby))
    participant = join(live, code, "Pat", "legal")
    accounts = _accounts(live)
    # fac manages accounts too, so the admin pages' forms are walked as well.
    live.run(accounts.set_role("fac", AccountRole.admin, SHELL))
    setup_token = live.run(accounts.create_with_link("second", AccountRole.reviewer, SHELL)).secret
    live.run(accounts.create_user("victim", LEE_PASSWORD, AccountRole.reviewer))
    live.run(accounts.create_api_token("walk-old", "fac"))
    for name in ("cofac", "cofac2", "cofac3", "cofac4"):
        live.run(accounts.create_user(name, LEE_PASSWORD, AccountRole.facilitator))
    for name in ("cofac2", "cofac4"):  # to be removed by the walk
        live.run(service.add_facilitator(lobby, name, "fac"))
    yield World(
        live,
        tmp_path / "tabletop.db",
        code,
        lobby,
        ended,
        open_item,
        closed_item,
        setup_token,
        participant,
    )
    participant.close()


def database(path: Path) -> dict[str, list[str]]:
    """Every row of every table, read from the SQLite file by another connection."""
    uri = f"file:{path}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}


Payload = dict[str, Any]
"""What a request sends: `data` (form fields), `files`, or `json`."""
ITEM = {
    "capability": "Legal escalation",
    "issue": "Changed by the walk",
    "corrective_action": "Call tree",
    "element": "training",
    "responsible": "SOC",
    "contact": "Dana",
    "status": "open",
}
NEW_PASSWORD = "the second facilitator's password"

# Posts that look something up without storing anything (the join code rides in a body to
# stay out of URLs): done properly, the answer shows this text instead of a changed row.
LOOKUPS = {"/join/code": "Your name"}

# Every state-changing route, with a request that changes something when it carries its
# CSRF token (forms) or this server's Origin (the JSON API). A route the app serves
# without a row here fails test_every_state_changing_route_has_a_csrf_case.
CASES: dict[tuple[str, str], Callable[[World], tuple[str, Payload]]] = {
    ("POST", "/login"): lambda w: (
        "/login",
        {"data": {"username": "fac", "password": w.password, "next": "/"}},
    ),
    ("POST", "/account/password"): lambda w: _new_password(w),
    ("POST", "/admin/accounts"): lambda w: (
        "/admin/accounts",
        {"data": {"username": "walked", "role": "reviewer"}},
    ),
    ("POST", "/admin/accounts/{username}/{change}"): lambda w: (
        "/admin/accounts/victim/disable",
        {"data": {}},
    ),
    ("POST", "/admin/tokens"): lambda w: (
        "/admin/tokens",
        {"data": {"name": "walk-new", "username": "fac"}},
    ),
    ("POST", "/admin/tokens/{name}/revoke"): lambda w: (
        "/admin/tokens/walk-old/revoke",
        {"data": {}},
    ),
    ("POST", "/logout"): lambda w: ("/logout", {"data": {}}),
    ("POST", "/setup"): lambda w: (
        "/setup",
        {
            "data": {
                "token": w.setup_token,
                "username": "second",
                "password": NEW_PASSWORD,
                "confirm": NEW_PASSWORD,
            }
        },
    ),
    ("POST", "/scenarios/upload"): lambda w: (
        "/scenarios/upload",
        {"data": {}, "files": {"file": ("walk.yaml", MINI + "\n# walked\n", "text/yaml")}},
    ),
    ("POST", "/drills/new"): lambda w: (
        "/drills/new",
        {"data": {"scenario": "mini.yaml", "name": "Forged"}},
    ),
    ("POST", "/join/code"): lambda w: ("/join/code", {"data": {"code": w.code}}),
    ("POST", "/join"): lambda w: (
        "/join",
        {"data": {"code": w.code, "name": "Mallory", "role": "legal"}},
    ),
    ("POST", "/drills/{drill_id}/report/summary"): lambda w: (
        f"/drills/{w.ended}/report/summary",
        {"data": {"summary": "Rewritten by the walk"}},
    ),
    ("POST", "/drills/{drill_id}/report/objectives/{objective_id}"): lambda w: (
        f"/drills/{w.ended}/report/objectives/comms",
        {"data": {"rating": "U", "strengths": "", "improvements": "Walked"}},
    ),
    ("POST", "/drills/{drill_id}/report/items"): lambda w: (
        f"/drills/{w.ended}/report/items",
        {"data": ITEM},
    ),
    ("POST", "/drills/{drill_id}/report/items/{item_id}"): lambda w: (
        f"/drills/{w.ended}/report/items/{w.open_item}",
        {"data": ITEM},
    ),
    ("POST", "/items/{item_id}/status"): lambda w: (
        f"/items/{w.closed_item}/status",
        {"data": {"status": "open"}},
    ),
    ("POST", "/drills/{drill_id}/facilitators"): lambda w: (
        f"/drills/{w.lobby}/facilitators",
        {"data": {"username": "cofac"}},
    ),
    ("POST", "/drills/{drill_id}/facilitators/{username}/remove"): lambda w: (
        f"/drills/{w.lobby}/facilitators/cofac2/remove",
        {"data": {}},
    ),
    ("POST", "/api/drills/{drill_id}/facilitators"): lambda w: (
        f"/api/drills/{w.lobby}/facilitators",
        {"json": {"username": "cofac3"}},
    ),
    ("DELETE", "/api/drills/{drill_id}/facilitators/{username}"): lambda w: (
        f"/api/drills/{w.lobby}/facilitators/cofac4",
        {},
    ),
    ("POST", "/api/session"): lambda w: (
        "/api/session",
        {"json": {"username": "fac", "password": w.password}},
    ),
    ("DELETE", "/api/session"): lambda w: ("/api/session", {}),
    ("POST", "/api/drills"): lambda w: (
        "/api/drills",
        {"json": {"scenario": "mini.yaml", "name": "Forged"}},
    ),
    ("POST", "/api/join"): lambda w: (
        "/api/join",
        {"json": {"code": w.code, "name": "Mallory", "role": "legal"}},
    ),
    ("DELETE", "/api/drills/{drill_id}/participants/{participant_id}"): lambda w: (
        f"/api/drills/{w.lobby}/participants/{_someone_to_remove(w)}",
        {},
    ),
    ("POST", "/api/drills/{drill_id}/participants/{participant_id}"): lambda w: (
        f"/api/drills/{w.lobby}/participants/{_someone_to_remove(w)}",
        {"json": {"role": "executive"}},
    ),
}


def _new_password(w: World) -> tuple[str, Payload]:
    """fac's own password change: later cases sign in with the new one."""
    current, w.password = w.password, NEW_PASSWORD
    fields = {"current": current, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    return "/account/password", {"data": fields}


def _someone_to_remove(w: World) -> str:
    """A participant who joined for the removal's (or re-role's) case alone."""
    participant_id, _ = w.live.run(_service(w.live).join(w.lobby, "Rem", "legal"))
    return str(participant_id)


def _state_changing(app: Any) -> set[tuple[str, str]]:
    return {(m, p) for m, p in served_routes(app) if m in STATE_CHANGING}


def _is_json_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def test_every_state_changing_route_has_a_csrf_case(live_server: LiveServer) -> None:
    served = _state_changing(live_server.app)
    missing = sorted(served - CASES.keys())
    assert not missing, f"state-changing routes with no CSRF case in CASES: {missing}"
    stale = sorted(CASES.keys() - served)
    assert not stale, f"CASES rows for routes the app no longer serves: {stale}"


def test_every_state_changing_json_route_checks_the_origin(live_server: LiveServer) -> None:
    """Statically too: each JSON route that changes state depends on require_same_origin."""
    unguarded = []
    checked = 0
    for prefix, route in _routes(live_server.app.routes):
        if not isinstance(route, APIRoute) or not _is_json_api(prefix + route.path):
            continue
        methods = route.methods or set()
        if not methods & STATE_CHANGING:
            continue
        checked += 1
        calls = {d.call for d in route.dependant.dependencies}
        if require_same_origin not in calls:
            unguarded.append(f"{sorted(methods)} {prefix + route.path}")
    assert checked >= 4
    assert not unguarded, f"JSON routes that change state without the Origin check: {unguarded}"


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes, prefix + route.include_context.prefix)
        else:
            yield prefix, route


def _send(
    live: LiveServer,
    method: str,
    path: str,
    payload: Payload,
    *,
    cookies: dict[str, str],
    origin: str | None,
    csrf: str | None,
) -> httpx.Response:
    headers = {"Origin": origin} if origin is not None else {}
    with httpx.Client(base_url=live.url, timeout=10, headers=headers) as client:
        for name, value in cookies.items():
            client.cookies.set(name, value, domain="127.0.0.1")
        kwargs: dict[str, Any] = {}
        if "json" in payload:
            kwargs["json"] = payload["json"]
        if "data" in payload:
            kwargs["data"] = dict(payload["data"]) | ({"csrf": csrf} if csrf is not None else {})
        if "files" in payload:
            kwargs["files"] = payload["files"]
        return client.request(method, path, **kwargs)


def test_the_csrf_walk_every_state_changing_route_refuses_a_forged_request(
    world: World,
) -> None:
    """For each state-changing route, as a signed-in facilitator: without the CSRF token,
    with the attacker's own token, or without the CSRF cookie (forms); with no Origin, a
    foreign one or `null` (the JSON API): 403, and not one row of the database changes.
    Then the same request done properly changes something, which shows the refusals were
    the guard's and not a bad request's."""
    live = world.live
    attacker_token = _csrf(live.client())
    problems: list[str] = []
    walked = 0
    for method, template in sorted(_state_changing(live.app)):
        case = CASES.get((method, template))
        if case is None:
            problems.append(f"{method} {template}: no case (see the test above)")
            continue
        walked += 1
        session = live.run(_accounts(live).sign_in("fac", world.password))
        assert session is not None
        path, payload = case(world)
        browser = live.client()
        browser.cookies.set(SESSION_COOKIE, session, domain="127.0.0.1")
        token = _csrf(browser)
        cookies = {SESSION_COOKIE: session, CSRF_COOKIE: token}
        forged: list[tuple[str, dict[str, Any]]]
        if _is_json_api(template):
            assert "data" not in payload, f"{template}: the JSON API takes JSON"
            forged = [
                ("no Origin", {"origin": None, "csrf": None}),
                ("a foreign Origin", {"origin": "https://evil.example", "csrf": None}),
                ("Origin null", {"origin": "null", "csrf": None}),
                ("another port", {"origin": "http://127.0.0.1:1", "csrf": None}),
            ]
            proper: dict[str, Any] = {"origin": live.url, "csrf": None}
        else:
            forged = [
                ("no CSRF field", {"origin": live.url, "csrf": None}),
                ("an empty CSRF field", {"origin": live.url, "csrf": ""}),
                ("the attacker's own token", {"origin": live.url, "csrf": attacker_token}),
            ]
            proper = {"origin": live.url, "csrf": token}
        before = database(world.database)
        for what, how in forged:
            response = _send(live, method, path, payload, cookies=cookies, **how)
            if response.status_code != 403:
                problems.append(f"{method} {path} with {what}: {response.status_code}")
            if database(world.database) != before:
                problems.append(f"{method} {path} with {what}: the database changed")
                before = database(world.database)
        if not _is_json_api(template):
            # The token right but its cookie missing (a cross-site request: SameSite=Strict).
            response = _send(
                live, method, path, payload, cookies={SESSION_COOKIE: session}, **proper
            )
            if response.status_code != 403 or database(world.database) != before:
                problems.append(f"{method} {path} without the CSRF cookie: not refused")
        done = _send(live, method, path, payload, cookies=cookies, **proper)
        if done.status_code in (401, 403, 422) or done.status_code >= 500:
            problems.append(f"{method} {path} done properly: {done.status_code} {done.text[:200]}")
        elif template in LOOKUPS:
            if LOOKUPS[template] not in done.text:
                problems.append(f"{method} {path} done properly did not answer: the case is wrong")
        elif database(world.database) == before:
            problems.append(f"{method} {path} done properly changed nothing: the case is wrong")
        browser.close()
    assert walked == len(CASES) >= 15
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ forms carry the token


class _Forms(HTMLParser):
    """Each <form>: its method, action and hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = {
                "method": found.get("method", "get").lower(),
                "action": found.get("action", ""),
                "hidden": {},
            }
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and found.get("type") == "hidden":
            self._open["hidden"][found.get("name", "")] = found.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def _forms(html: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def _route_of(action: str, templates: set[tuple[str, str]]) -> str | None:
    path = action.split("?")[0].split("#")[0]
    for _, template in templates:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return template
    return None


def test_every_post_form_the_pages_render_carries_the_csrf_token(world: World) -> None:
    """Render every HTML page the app serves (its GET routes, found in app.routes) as the
    facilitator, a participant and a stranger; every <form method="post"> must carry the
    browser's CSRF token, and together the forms must reach every state-changing form route."""
    live = world.live
    facilitator = sign_in(live)
    callers = {"facilitator": facilitator, "participant": world.participant, "stranger": None}
    values = {
        "code": world.code,
        "name": "mini.yaml",
        "fmt": "html",
        "kind": "objectives",
        "objective_id": "comms",
        "item_id": world.open_item,
    }
    queries = {"/drills/new": "?scenario=mini.yaml", "/setup": f"?token={world.setup_token}"}
    skip = ("/api/", "/docs", "/redoc", "/openapi.json", "/asyncapi.json", "/healthz", "/readyz")
    pages = sorted(p for m, p in served_routes(live.app) if m == "GET" and not p.startswith(skip))
    rendered: set[str] = set()
    reached: set[str] = set()
    problems: list[str] = []
    forms_checked = 0
    for template in pages:
        drills = [world.lobby, world.ended] if "{drill_id}" in template else [""]
        for drill_id in drills:
            path = template.format(**values, drill_id=drill_id) + queries.get(template, "")
            for who, client in callers.items():
                browser = client or live.client()
                page = browser.get(path)
                if page.status_code != 200 or "text/html" not in page.headers["content-type"]:
                    continue
                rendered.add(template)
                token = browser.cookies.get(CSRF_COOKIE)
                for form in _forms(page.text):
                    if form["method"] != "post":
                        continue
                    forms_checked += 1
                    sent = form["hidden"].get("csrf")
                    if not sent or sent != token:
                        problems.append(f"{path} as {who}: form to {form['action']} lacks it")
                    route = _route_of(form["action"], _state_changing(live.app))
                    if route is None:
                        problems.append(f"{path}: form to {form['action']}, no such route")
                    else:
                        reached.add(route)
    form_routes = {p for _, p in _state_changing(live.app) if not _is_json_api(p)}
    assert not problems, "\n".join(problems)
    unrendered = sorted(set(pages) - rendered - _not_html(pages))
    assert not unrendered, f"pages never rendered as HTML: {unrendered}"
    assert reached == form_routes, f"form routes no page posts to: {form_routes - reached}"
    assert forms_checked >= 20, forms_checked


def _not_html(pages: list[str]) -> set[str]:
    """GET routes that serve files or images, not pages."""
    return {p for p in pages if p.endswith((".svg", ".{fmt}"))}


def test_every_post_form_in_the_templates_has_a_csrf_field() -> None:
    """The templates themselves, including forms on pages the walk above cannot reach."""
    problems, found = [], 0
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text()
        for match in re.finditer(r"<form\b[^>]*>(.*?)</form>", text, re.S | re.I):
            if not re.search(r"method\s*=\s*\"?post", match.group(0)[:200], re.I):
                continue
            found += 1
            if 'name="csrf" value="{{ csrf }}"' not in match.group(1):
                problems.append(f"{template.relative_to(ROOT)}: {match.group(0)[:80]!r}")
    assert found >= 10
    assert not problems, "\n".join(problems)


def test_an_unknown_user_name_costs_a_password_check_like_a_known_one(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answering an unknown name with less argon2 work (or more) than a known one would
    tell an attacker which names exist. The work is argon2's: each sign-in is recorded as
    the hashing operations it ran and their cost parameters ($m, $t, $p), and a known and
    an unknown name must run the same."""
    work: list[tuple[str, str, str]] = []
    real_verify, real_hash = security.verify_password, security.hash_password

    def cost(stored_hash: str) -> str:
        return stored_hash.split("$")[3]  # "m=...,t=...,p=..."

    def verify(stored_hash: str, password: str) -> bool:
        work.append(("verify", cost(stored_hash), password))
        return real_verify(stored_hash, password)

    def hashing(password: str) -> str:
        hashed = real_hash(password)
        work.append(("hash", cost(hashed), password))
        return hashed

    monkeypatch.setattr(security, "verify_password", verify)
    monkeypatch.setattr(security, "hash_password", hashing)
    client = live_server.client()
    per_attempt = []
    for username in ("fac", "nobody", "no\x00body"):
        work.clear()
        response = client.post("/api/session", json={"username": username, "password": "x1"})
        assert response.status_code in (401, 422), response.text
        per_attempt.append(list(work))
    known, unknown, nul = per_attempt
    assert len(known) == 1 and known[0][0] == "verify", known
    assert unknown == known  # the same operation at the same cost
    assert nul == []  # the NUL name is refused (422) before any lookup
    browser = live_server.client()
    browser.get("/login")
    form = {"csrf": browser.cookies["tt_csrf"], "username": "nobody", "password": "x2"}
    work.clear()
    assert browser.post("/login", data=form).status_code == 401
    assert work == [("verify", known[0][1], "x2")]
