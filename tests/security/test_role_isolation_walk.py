"""Role isolation, route by route: every route the app serves, walked as every kind of
caller, against a table of what each caller may get back.

The callers: an outsider (no cookies), `legal` (a participant of the drill), a participant
of ANOTHER drill (who also presents their own token under this drill's cookie name), an
observer (role null), a reviewer account and the facilitator. The drill is the mini
scenario, played far enough to hold what legal must never see: an inject only for the
incident manager, a facilitator note, a skipped inject, a message between two other roles,
a scoring event and a score adjustment, and the other participants' joins. What legal (and
the other drill's participant) may read of a log is decided by the independent oracle in
tests/oracle.py, never by the app's own visibility filter.

The other drill is played and ended too, with real objects: an improvement item, a note,
participants, a report. Every id slot of every route is walked with them: this drill's item
routes get the other drill's real item id (refused, and the item untouched), and the routes
of the other drill are walked by this drill's callers, who are strangers there (legal also
presents its own token under the other drill's cookie name). No body, refusal or not, may
carry the other drill's secrets to anyone but staff.

A route added later without a row in ACCESS fails `test_every_route_is_classified`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import Mount, Route, WebSocketRoute
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.engine import commands as c
from app.realtime.codes import Close
from app.services.accounts import AccountRole
from app.services.reviews import ItemDraft
from app.web.ws import SOCKET_PATH, DrillSockets
from tests.live import FIXTURES, LiveServer, join, sign_in
from tests.oracle import Seat, disagreements

REVIEWER_PASSWORD = "a reviewer's long password"

# What only the facilitator and observers may ever read (until release/end, see below).
SECRET_INJECT = "only-for-the-incident-manager-7f3a"
SECRET_NOTE = "facilitator-note-91c2"
SECRET_MESSAGE = "im-to-executive-message-52be"
SECRET_REASON = "adjustment-reason-0d4e"
# The other drill's: only staff may read them, whichever drill's route is called.
ELSEWHERE_INJECT = "elsewhere-inject-for-the-im-a81f"
ELSEWHERE_NOTE = "elsewhere-note-3b07"
ELSEWHERE_MESSAGE = "elsewhere-im-to-executive-c5d2"
ELSEWHERE_ITEM = "elsewhere-improvement-issue-6e90"
ELSEWHERE_PERSON = "Xena-elsewhere-77d4"
ELSEWHERE_SECRETS = (
    ELSEWHERE_INJECT,
    ELSEWHERE_NOTE,
    ELSEWHERE_MESSAGE,
    ELSEWHERE_ITEM,
    ELSEWHERE_PERSON,
)

OUT, LEGAL, OTHER, OBS, REV, FAC = (
    "outsider",
    "legal",
    "other-drill participant",
    "observer",
    "reviewer",
    "facilitator",
)
CALLERS = (OUT, LEGAL, OTHER, OBS, REV, FAC)

# Expectations. For HTTP: a status class or a redirect target; "allowed" means access
# control let the call through (not 401/403 nor a redirect to /login or /join), whatever
# the handler then said about the body; "skip" means not sent (public sign-in/join forms,
# checked in test_public_forms_still_need_csrf_or_origin). For the websocket: "open" (a
# snapshot arrives) or a close code.
OK, LOGIN, JOIN, PROGRAMME, ALLOWED, SKIP, OPEN = (
    "2xx",
    "303 /login",
    "303 /join",
    "303 /programme",
    "allowed",
    "skip",
    "open",
)
Expect = str | int


def row(
    out: Expect, legal: Expect, other: Expect, obs: Expect, rev: Expect, fac: Expect
) -> dict[str, Expect]:
    return dict(zip(CALLERS, (out, legal, other, obs, rev, fac), strict=True))


def everyone(expect: Expect) -> dict[str, Expect]:
    return dict.fromkeys(CALLERS, expect)


FACILITATOR_PAGE = row(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, OK)
STAFF_PAGE = row(LOGIN, LOGIN, LOGIN, LOGIN, OK, OK)
ADMIN_PAGE = row(LOGIN, LOGIN, LOGIN, LOGIN, 403, 403)
REPORT_FILE = row(401, 401, 401, 401, 403, OK)
REPORT_EDIT = row(401, 401, 401, 401, 403, ALLOWED)
REPORT_ENDED: dict[str, Expect] = {REV: OK}
EDIT_ENDED: dict[str, Expect] = {REV: ALLOWED}


@dataclass(frozen=True)
class Access:
    running: Mapping[str, Expect]
    """While the drill runs and scores are not released."""
    ended: Mapping[str, Expect] = field(default_factory=dict)
    """What changes once scores are released and the drill has ended."""
    body: str | None = None
    """The kind of valid-looking body a state-changing call sends: see `_request`."""
    query: str = ""


# (method, path template) -> who gets what. "WS" is the drill websocket; "MOUNT" static files.
ACCESS: dict[tuple[str, str], Access] = {
    # ---- public: anyone, signed in or not
    ("GET", "/healthz"): Access(everyone(OK)),
    ("GET", "/readyz"): Access(everyone(OK)),
    ("GET", "/openapi.json"): Access(everyone(OK)),
    ("GET", "/asyncapi.json"): Access(everyone(OK)),
    ("GET", "/docs"): Access(everyone(OK)),
    ("GET", "/docs/oauth2-redirect"): Access(everyone(OK)),
    ("GET", "/redoc"): Access(everyone(OK)),
    ("GET", "/api/report-schema"): Access(everyone(OK)),
    ("MOUNT", "/static"): Access(everyone(OK)),
    ("GET", "/login"): Access(everyone(OK)),
    ("GET", "/setup"): Access(everyone(OK)),
    ("GET", "/join"): Access(everyone(OK)),
    ("GET", "/join/{code}"): Access(everyone(OK)),
    ("GET", "/api/join/{code}"): Access(everyone(OK)),
    ("POST", "/login"): Access(everyone(SKIP)),
    ("POST", "/logout"): Access(everyone(SKIP)),
    ("POST", "/setup"): Access(everyone(SKIP)),
    ("POST", "/join"): Access(everyone(SKIP)),
    ("POST", "/join/code"): Access(everyone(SKIP)),
    ("POST", "/api/join"): Access(everyone(SKIP)),
    ("POST", "/api/session"): Access(everyone(SKIP)),
    ("DELETE", "/api/session"): Access(everyone(SKIP)),
    # ---- the facilitator's pages and API
    ("GET", "/"): Access(row(LOGIN, LOGIN, LOGIN, LOGIN, PROGRAMME, OK)),
    ("GET", "/scenarios/{name}"): Access(FACILITATOR_PAGE),
    ("GET", "/scenarios/{name}/graph.svg"): Access(row(401, 401, 401, 401, 401, OK)),
    ("GET", "/drills/new"): Access(FACILITATOR_PAGE, query="scenario=mini.yaml"),
    ("GET", "/drills/{drill_id}/console"): Access(FACILITATOR_PAGE),
    ("GET", "/api/scenarios"): Access(row(401, 401, 401, 401, 403, OK)),
    ("POST", "/scenarios/upload"): Access(
        row(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, ALLOWED), body="upload"
    ),
    ("POST", "/drills/new"): Access(
        row(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, ALLOWED), body="new drill form"
    ),
    ("POST", "/api/drills"): Access(row(401, 401, 401, 401, 403, ALLOWED), body="new drill json"),
    # Removing a participant: the facilitator's alone (the walk names no real participant,
    # so as not to remove one of its callers; tests/scale/test_revocation.py removes one).
    ("DELETE", "/api/drills/{drill_id}/participants/{participant_id}"): Access(
        row(401, 401, 401, 401, 403, ALLOWED)
    ),
    ("POST", "/api/drills/{drill_id}/participants/{participant_id}"): Access(
        row(401, 401, 401, 401, 403, ALLOWED), body="new role json"
    ),
    # ---- the drill as it is played
    ("GET", "/drills/{drill_id}/play"): Access(row(JOIN, OK, JOIN, OK, JOIN, JOIN)),
    ("GET", "/api/drills/{drill_id}/events"): Access(row(401, OK, 401, OK, 401, OK)),
    # Regulatory clocks: the walk's drill plays no regime, so whoever sees the drill gets
    # an empty list (tests/api/test_regulatory_api.py covers the roles a regime names).
    ("GET", "/api/drills/{drill_id}/regulatory"): Access(row(401, OK, 401, OK, 401, OK)),
    # Attachments: the walk's drill attaches nothing, so whoever sees the drill gets 404
    # (tests/api/test_attachments.py walks a bundle's files as every kind of caller).
    ("GET", "/api/drills/{drill_id}/attachments/{seq}/{index}"): Access(
        row(401, 404, 401, 404, 401, 404)
    ),
    ("GET", "/api/drills/{drill_id}/score"): Access(
        row(401, 403, 401, OK, 403, OK), ended={LEGAL: OK, REV: OK}
    ),
    ("WS", "/ws/drills/{drill_id}"): Access(
        row(Close.unauthorized, OPEN, Close.unauthorized, OPEN, Close.unauthorized, OPEN)
    ),
    # ---- the after-action report: the facilitator always, reviewers once ended
    ("GET", "/drills/{drill_id}/report"): Access(
        row(LOGIN, LOGIN, LOGIN, LOGIN, 403, OK), ended=REPORT_ENDED
    ),
    ("GET", "/drills/{drill_id}/report.{fmt}"): Access(REPORT_FILE, ended=REPORT_ENDED),
    ("GET", "/drills/{drill_id}/report/graph.svg"): Access(REPORT_FILE, ended=REPORT_ENDED),
    ("GET", "/drills/{drill_id}/report/timeline.svg"): Access(REPORT_FILE, ended=REPORT_ENDED),
    ("GET", "/drills/{drill_id}/report/pressure.svg"): Access(REPORT_FILE, ended=REPORT_ENDED),
    ("GET", "/api/drills/{drill_id}/report"): Access(REPORT_FILE, ended=REPORT_ENDED),
    ("POST", "/drills/{drill_id}/report/summary"): Access(
        REPORT_EDIT, ended=EDIT_ENDED, body="summary"
    ),
    ("POST", "/drills/{drill_id}/report/objectives/{objective_id}"): Access(
        REPORT_EDIT, ended=EDIT_ENDED, body="objective"
    ),
    ("POST", "/drills/{drill_id}/report/items"): Access(REPORT_EDIT, ended=EDIT_ENDED, body="item"),
    ("POST", "/drills/{drill_id}/report/items/{item_id}"): Access(
        REPORT_EDIT, ended=EDIT_ENDED, body="item"
    ),
    # ---- the programme
    ("GET", "/programme"): Access(STAFF_PAGE),
    ("GET", "/programme/trends/{kind}.svg"): Access(row(401, 401, 401, 401, OK, OK)),
    ("POST", "/items/{item_id}/status"): Access(
        row(401, 401, 401, 401, ALLOWED, ALLOWED), body="status"
    ),
    # ---- who runs the drill: its facilitators read the list; its owner changes it
    ("GET", "/api/drills/{drill_id}/facilitators"): Access(row(401, 401, 401, 401, 403, OK)),
    ("POST", "/api/drills/{drill_id}/facilitators"): Access(
        row(401, 401, 401, 401, 403, ALLOWED), body="facilitator json"
    ),
    ("DELETE", "/api/drills/{drill_id}/facilitators/{username}"): Access(
        row(401, 401, 401, 401, 403, ALLOWED)
    ),
    ("POST", "/drills/{drill_id}/facilitators"): Access(
        row(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, ALLOWED), body="account form"
    ),
    ("POST", "/drills/{drill_id}/facilitators/{username}/remove"): Access(
        row(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, ALLOWED), body="account form"
    ),
    # ---- accounts: your own for any account; the rest for admins only (no caller here
    # is one: tests/web/test_accounts_pages.py walks them as an admin)
    ("GET", "/account"): Access(STAFF_PAGE),
    ("POST", "/account/password"): Access(
        row(LOGIN, LOGIN, LOGIN, LOGIN, ALLOWED, ALLOWED), body="account form"
    ),
    ("GET", "/admin/accounts"): Access(ADMIN_PAGE),
    ("GET", "/admin/audit"): Access(ADMIN_PAGE),
    ("POST", "/admin/accounts"): Access(ADMIN_PAGE, body="account form"),
    ("POST", "/admin/accounts/{username}/{change}"): Access(ADMIN_PAGE, body="account form"),
    ("POST", "/admin/tokens"): Access(ADMIN_PAGE, body="account form"),
    ("POST", "/admin/tokens/{name}/revoke"): Access(ADMIN_PAGE, body="account form"),
}

VARIANTS = {"fmt": ("html", "pdf", "md", "json", "csv"), "kind": ("objectives", "roles", "regimes")}


def _flatten(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Each route with its full path prefix; FastAPI keeps an included router as one entry
    (it has an `original_router`) whose routes carry the router's own prefix."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flatten(inner.routes, prefix + route.include_context.prefix)
        else:
            yield prefix, route


def served_routes(app: Any) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for prefix, route in _flatten(app.routes):
        if isinstance(route, APIWebSocketRoute | WebSocketRoute):
            found.add(("WS", prefix + route.path))
        elif isinstance(route, Mount):
            found.add(("MOUNT", prefix + route.path))
        elif isinstance(route, APIRoute | Route):
            found.update((m, prefix + route.path) for m in route.methods or () if m != "HEAD")
        else:  # a kind of route this walk does not know: classify it by hand
            found.add((type(route).__name__, prefix + str(getattr(route, "path", route))))
    # The drill's socket is served by a middleware ahead of the routes (ws.DrillSockets).
    if any(m.cls is DrillSockets for m in app.user_middleware):
        found.add(("WS", SOCKET_PATH + "{drill_id}"))
    return found


# ------------------------------------------------------------------ the drill, played


@dataclass
class World:
    live: LiveServer
    drill_id: str
    other_drill_id: str
    code: str
    clients: dict[str, httpx.Client]
    csrf: dict[str, str]
    legal_id: str
    other_code: str = ""
    other_item_id: str = ""
    other_legal_id: str = ""

    def command(self, command: c.Command, drill_id: str | None = None) -> None:
        self.live.run(self.live.app.state.service.execute(drill_id or self.drill_id, command))

    def log(self, drill_id: str | None = None) -> list[dict[str, Any]]:
        """A drill's whole log, read as the facilitator: the oracle's reference."""
        url = f"/api/drills/{drill_id or self.drill_id}/events"
        events: list[dict[str, Any]] = self.clients[FAC].get(url).json()
        return events


def _reviewer(live: LiveServer) -> httpx.Client:
    live.run(live.app.state.accounts.create_user("rev", REVIEWER_PASSWORD, AccountRole.reviewer))
    client = live.client()
    signed = client.post("/api/session", json={"username": "rev", "password": REVIEWER_PASSWORD})
    assert signed.status_code == 200, signed.text
    return client


@pytest.fixture
def world(live_server: LiveServer) -> Iterator[World]:
    live = live_server
    fac = sign_in(live)
    made = fac.post("/api/drills", json={"scenario": "mini.yaml", "name": "Walk"})
    other_made = fac.post("/api/drills", json={"scenario": "mini.yaml", "name": "Elsewhere"})
    assert made.status_code == other_made.status_code == 201, made.text
    drill_id, code = made.json()["id"], made.json()["join_code"]
    other_id, other_code = other_made.json()["id"], other_made.json()["join_code"]
    legal = join(live, code, "Lee", "legal")
    join(live, code, "Eve", "executive")
    observer = join(live, code, "Obi", None)
    other = join(live, other_code, "Bob", "legal")
    join(live, other_code, ELSEWHERE_PERSON, "executive")
    # Each drill's participant also tries their token under the other drill's cookie name.
    other.cookies.set(f"tt_p_{drill_id}", other.cookies[f"tt_p_{other_id}"], domain="127.0.0.1")
    legal.cookies.set(f"tt_p_{other_id}", legal.cookies[f"tt_p_{drill_id}"], domain="127.0.0.1")
    clients = {
        OUT: live.client(),
        LEGAL: legal,
        OTHER: other,
        OBS: observer,
        REV: _reviewer(live),
        FAC: fac,
    }
    csrf = {}
    for name, client in clients.items():  # a page visit gives each browser its CSRF cookie
        # A process's first PDF takes seconds of font set-up; on a loaded machine (the
        # suite runs in parallel) that alone can pass the 10 seconds of live.client().
        client.timeout = httpx.Timeout(30)
        assert client.get("/login").status_code == 200
        csrf[name] = client.cookies["tt_csrf"]
    own = legal.get(f"/api/drills/{drill_id}/events").json()
    legal_id = next(e["data"]["participant_id"] for e in own if e["type"] == "participant_joined")
    world = World(live, drill_id, other_id, code, clients, csrf, legal_id, other_code)
    _play_elsewhere(world)
    world.command(c.StartClock())
    world.command(c.JumpToNextInject())  # T+10m: the ransom note, to executive and legal
    world.command(c.ManualInject("Side channel", SECRET_INJECT, ["incident_manager"]))
    world.command(c.AddNote(SECRET_NOTE))
    world.command(c.SendMessage(["executive"], SECRET_MESSAGE, from_role="incident_manager"))
    world.command(c.SendMessage(["legal"], "Legal: a ransom note.", from_role="incident_manager"))
    world.command(c.JumpToNextInject())  # T+30m: the nudge, skipped (legal was told)
    world.command(c.AdjustScore("comms", 2, SECRET_REASON))
    world.command(c.PauseClock())  # the log holds still while the walk compares views of it
    yield world
    for client in clients.values():
        client.close()


def _play_elsewhere(world: World) -> None:
    """The other drill, played to its end with what its own legal must not read either,
    and an improvement item in its report."""
    other = world.other_drill_id
    world.command(c.StartClock(), other)
    world.command(c.JumpToNextInject(), other)
    world.command(c.ManualInject("Elsewhere", ELSEWHERE_INJECT, ["incident_manager"]), other)
    world.command(c.AddNote(ELSEWHERE_NOTE), other)
    message = c.SendMessage(["executive"], ELSEWHERE_MESSAGE, from_role="incident_manager")
    world.command(message, other)
    world.command(c.AdjustScore("comms", 1, "elsewhere adjustment"), other)
    world.command(c.ReleaseScores(), other)
    world.command(c.EndDrill(), other)
    draft = ItemDraft("Comms", ELSEWHERE_ITEM, "Drill it", "training", "SOC", "Ann")
    item = world.live.run(world.live.app.state.reviews.add_item(other, draft, "fac"))
    world.other_item_id = item.id
    own = world.clients[OTHER].get(f"/api/drills/{other}/events").json()
    world.other_legal_id = next(
        e["data"]["participant_id"] for e in own if e["type"] == "participant_joined"
    )


def _finish(world: World) -> None:
    world.command(c.ReleaseScores())
    world.command(c.EndDrill())


# ------------------------------------------------------------------ calling a route


def _paths(world: World, template: str, abroad: bool = False) -> list[str]:
    """The template with real ids: this drill's, and the OTHER drill's improvement item
    (never a made-up id: a real one of another drill is what an attacker tries). `abroad`:
    the other drill's ids throughout."""
    values = {
        "drill_id": world.other_drill_id if abroad else world.drill_id,
        "code": world.other_code if abroad else world.code,
        "name": "mini.yaml",
        "objective_id": "comms",
        "item_id": world.other_item_id,
        "participant_id": "no-such-participant",
        "username": "fac",
        "change": "disable",
        "seq": "1",
        "index": "0",
    }
    paths = [template]
    for key, options in VARIANTS.items():
        if "{" + key + "}" in template:
            paths = [p.replace("{" + key + "}", o) for p in paths for o in options]
    return [p.format(**values) for p in paths]


def _request(world: World, caller: str, method: str, path: str, access: Access) -> httpx.Response:
    client = world.clients[caller]
    url = f"{path}?{access.query}" if access.query else path
    token = world.csrf[caller]
    match access.body:
        case None:
            return client.request(method, url)
        case "upload":
            source = (FIXTURES / "mini.yaml").read_bytes() + f"\n# {caller}\n".encode()
            files = {"file": ("walk.yaml", source, "application/x-yaml")}
            return client.post(url, data={"csrf": token}, files=files)
        case "new drill form":
            return client.post(url, data={"csrf": token, "scenario": "mini.yaml", "name": "W2"})
        case "new drill json":
            return client.post(url, json={"scenario": "mini.yaml", "name": "W3"})
        case "summary":
            return client.post(url, data={"csrf": token, "summary": f"by {caller}"})
        case "objective":
            return client.post(url, data={"csrf": token, "rating": "S", "strengths": "x"})
        case "item":
            item = {
                "capability": "Comms",
                "issue": "Late",
                "corrective_action": "Drill it",
                "element": "training",
                "responsible": "SOC",
                "contact": "Ann",
            }
            return client.post(url, data={"csrf": token, **item, "status": "open"})
        case "status":
            return client.post(url, data={"csrf": token, "status": "closed"})
        case "new role json":
            return client.post(url, json={"role": "executive"})
        case "facilitator json":  # fac runs it already: refused, but let through
            return client.post(url, json={"username": "fac"})
        case "account form":  # a wrong current password: nobody's password changes
            fields = {"username": "walker", "role": "reviewer", "name": "walk-token"}
            fields |= {"current": "not it", "password": "x" * 12, "confirm": "x" * 12}
            return client.post(url, data={"csrf": token, **fields})
    raise AssertionError(f"no body of kind {access.body!r}")


def _meets(response: httpx.Response, expect: Expect) -> bool:
    code, where = response.status_code, response.headers.get("location", "")
    match expect:
        case "2xx":
            return 200 <= code < 300
        case "303 /login" | "303 /join" | "303 /programme":
            target = expect.split(" ")[1]
            return code == 303 and (where == target or where.startswith(target + "?"))
        case "allowed":
            refused = code in (401, 403) or (
                code in (302, 303, 307) and where.startswith(("/login", "/join"))
            )
            return not refused and code < 500
    return code == expect


def _socket(
    world: World, caller: str, origin: str | None = None, drill_id: str | None = None
) -> dict[str, Any] | int:
    """The snapshot the drill websocket sends this caller, or the code it closes with."""
    client = world.clients[caller]
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    headers = {"Origin": origin or world.live.origin, "Cookie": cookie}
    url = f"{world.live.ws_url}/ws/drills/{drill_id or world.drill_id}"
    with connect(url, additional_headers=headers, open_timeout=10, max_size=None) as sock:
        try:
            while True:
                message: dict[str, Any] = json.loads(sock.recv(5))
                if message["type"] == "snapshot":
                    return message
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else -1


# ------------------------------------------------------------------ what legal may see


def share_problems(
    world: World,
    events: list[dict[str, Any]],
    released: bool,
    where: str,
    abroad: bool = False,
) -> list[str]:
    """How this copy of a log differs from legal's share of it as the oracle (not the
    app's visibility filter) states it: anything foreign is a leak, anything missing a
    loss. `abroad`: the other drill's log, as its own legal participant reads it."""
    drill_id = world.other_drill_id if abroad else world.drill_id
    participant = world.other_legal_id if abroad else world.legal_id
    seat = Seat("participant", "legal", participant, "Bob (elsewhere)" if abroad else "Lee")
    found = disagreements(world.log(drill_id), events, seat, released, where)
    text = json.dumps(events)
    secrets = [SECRET_INJECT, SECRET_NOTE, SECRET_MESSAGE] + ([] if released else [SECRET_REASON])
    secrets += ELSEWHERE_SECRETS
    return [str(d) for d in found] + [f"{where}: the text {s!r}" for s in secrets if s in text]


def _secrets_for(caller: str, ended: bool) -> list[str]:
    """What this caller's responses must never contain, in this phase: of this drill, as
    its role allows; of the other drill, everything, unless staff."""
    elsewhere = [] if caller in (FAC, REV) else list(ELSEWHERE_SECRETS)
    if caller in (FAC, OBS) or (caller == REV and ended):
        return elsewhere
    released = [SECRET_INJECT, SECRET_NOTE, SECRET_MESSAGE]
    return [*(released if ended and caller == LEGAL else [*released, SECRET_REASON]), *elsewhere]


# ------------------------------------------------------------------ the tests


def test_every_route_is_classified(live_server: LiveServer) -> None:
    served = served_routes(live_server.app)
    unclassified = sorted(served - ACCESS.keys())
    assert not unclassified, f"routes with no row in ACCESS (who may call them?): {unclassified}"
    stale = sorted(ACCESS.keys() - served)
    assert not stale, f"ACCESS rows for routes the app no longer serves: {stale}"


ABROAD = {OUT: OUT, LEGAL: OTHER, OTHER: LEGAL, OBS: OUT}
"""On the other drill's routes each drill-bound caller must get what this column gets on
this drill once it has ended: legal (its token under that drill's cookie name, as OTHER's
is here) and the observer are strangers there, and OTHER is that drill's legal. Staff
accounts are bound to no drill; their cross-drill case is the other drill's item id under
this drill's routes, which every walk tries."""


def _foreign_item_let_through(template: str, expect: Expect, response: httpx.Response) -> bool:
    """A call on this drill's item routes with another drill's real item id, which access
    control let through, and which the handler did not refuse as a 4xx."""
    drill_item = template.startswith("/drills/{drill_id}/") and "{item_id}" in template
    return drill_item and expect == ALLOWED and not 400 <= response.status_code < 500


def _walk(world: World, caller: str, ended: bool, abroad: bool = False) -> list[str]:
    leaks = []
    phase = "on the other drill" if abroad else "after the end" if ended else "while running"
    secrets = _secrets_for(caller, ended)
    column = ABROAD[caller] if abroad else caller
    drill_id = world.other_drill_id if abroad else world.drill_id
    for (method, template), access in ACCESS.items():
        expect = (access.ended if ended else {}).get(column, access.running[column])
        if expect == SKIP:
            continue
        for path in _paths(world, template, abroad):
            if method == "WS":
                got = _socket(world, caller, drill_id=drill_id)
                opened = isinstance(got, dict)
                if (expect == OPEN) != opened or (not opened and got != expect):
                    shown = "a snapshot" if opened else f"close {got}"
                    leaks.append(f"WS {path} {phase}: {caller} got {shown}, expected {expect}")
                    continue
                body = json.dumps(got)
                if column == LEGAL and isinstance(got, dict):
                    where = f"WS {path} {phase}: {caller}'s snapshot"
                    leaks += share_problems(world, got["events"], ended, where, abroad)
            else:
                url = "/static/app.css" if method == "MOUNT" else path
                response = _request(
                    world, caller, "GET" if method == "MOUNT" else method, url, access
                )
                if not _meets(response, expect):
                    leaks.append(
                        f"{method} {path} {phase}: {caller} got {response.status_code} "
                        f"{response.headers.get('location', '')} expected {expect}: "
                        f"{response.text[:120]!r}"
                    )
                    continue
                if _foreign_item_let_through(template, expect, response):
                    leaks.append(
                        f"{method} {path} {phase}: {caller} got {response.status_code} for the "
                        f"other drill's item {world.other_item_id}, not a refusal"
                    )
                body = response.text
            leaks += [
                f"{method} {path} {phase}: {caller} can read {s!r}" for s in secrets if s in body
            ]
    return leaks


def _other_item_untouched(world: World) -> list[str]:
    items = world.live.run(world.live.app.state.reviews.items(drill_id=world.other_drill_id))
    mine = [i for i in items if i.id == world.other_item_id]
    if len(mine) == 1 and (mine[0].issue, mine[0].capability) == (ELSEWHERE_ITEM, "Comms"):
        return []
    return [f"the other drill's improvement item changed: {mine}"]


@pytest.mark.parametrize("caller", CALLERS)
def test_the_walk(world: World, caller: str) -> None:
    """Every route as this caller while the drill runs; then, once the scores are released
    and the drill has ended, again for every caller whose access or secrets change then
    (the facilitator's and observers' do not: they see everything throughout); then the
    other drill's routes, for every caller bound to a drill."""
    leaks = _walk(world, caller, ended=False)
    _finish(world)
    changes = any(caller in a.ended for a in ACCESS.values()) or _secrets_for(caller, True)
    if changes:
        leaks += _walk(world, caller, ended=True)
    if caller in ABROAD:
        leaks += _walk(world, caller, ended=True, abroad=True)
    leaks += _other_item_untouched(world)
    assert not leaks, "\n".join(leaks)


def test_legal_reads_only_its_share_of_the_log(world: World) -> None:
    legal, observer = world.clients[LEGAL], world.clients[OBS]
    url = f"/api/drills/{world.drill_id}/events"
    everything = world.log()
    kinds = {e["type"] for e in everything}
    # The drill really holds what legal must not see, or the checks below prove nothing.
    assert {"note_added", "inject_skipped", "expectation_met", "score_adjusted"} <= kinds
    assert SECRET_INJECT in json.dumps(everything)
    watcher = Seat("observer", None, "", "Obi")
    assert not disagreements(everything, observer.get(url).json(), watcher, False, "GET")
    before = legal.get(url).json()
    assert not share_problems(world, before, False, "GET events")
    assert any(e["type"] == "inject_delivered" and e["data"]["inject_id"] == "note" for e in before)
    assert [e for e in before if e["type"] == "participant_joined"] != []
    socket = _socket(world, LEGAL)
    assert isinstance(socket, dict)
    assert not share_problems(world, socket["events"], False, "ws snapshot")
    assert [e["seq"] for e in socket["events"]] == [e["seq"] for e in before]
    assert world.clients[OTHER].get(url).status_code == 401
    # The other drill's legal reads its own drill's share, and nothing of this one.
    elsewhere = world.clients[OTHER].get(f"/api/drills/{world.other_drill_id}/events").json()
    assert not share_problems(world, elsewhere, True, "GET events elsewhere", abroad=True)
    _finish(world)
    after = legal.get(url).json()
    assert not share_problems(world, after, True, "GET events after the end")
    assert {"expectation_met", "score_adjusted"} <= {e["type"] for e in after}


def test_origin_and_csrf_guard_the_public_and_json_routes(world: World) -> None:
    """A foreign Origin is refused on the websocket and the JSON API even with valid
    cookies; the public state-changing routes (skipped by the walk) refuse a call without
    the CSRF field or from a foreign Origin before they do anything."""
    evil = {"Origin": "https://evil.example"}
    assert _socket(world, FAC, origin=evil["Origin"]) == Close.forbidden_origin
    assert _socket(world, LEGAL, origin=evil["Origin"]) == Close.forbidden_origin
    fac, client = world.clients[FAC], world.clients[OUT]
    made = fac.post("/api/drills", json={"scenario": "mini.yaml", "name": "X"}, headers=evil)
    assert made.status_code == 403
    forms = {
        "/login": {"username": "fac", "password": "x"},
        "/logout": {},
        "/setup": {"token": "x", "username": "u", "password": "p", "confirm": "p"},
        "/join": {"code": world.code, "name": "Mallory", "role": "legal"},
    }
    for path, form in forms.items():
        assert client.post(path, data=form).status_code == 403, path
    joined = client.post("/api/join", json={"code": world.code, "name": "M"}, headers=evil)
    signed = client.post("/api/session", json={"username": "fac", "password": "x"}, headers=evil)
    assert joined.status_code == signed.status_code == 403
    assert client.delete("/api/session", headers=evil).status_code == 403
