"""Schemathesis against the app's own OpenAPI document, on a real server, on SQLite and
on PostgreSQL (issue 9).

Every operation in /openapi.json is fuzzed from its schema: schemathesis' coverage cases
(boundary values, missing and wrong-typed fields) and hypothesis-generated ones, valid and
invalid, drawn from a seed chosen per run. Each generated request goes out as every kind of
caller: an outsider, the facilitator (session cookie), a reviewer, a participant (legal) and
an observer (participant cookies); `callers` says which go with fewer. Some of the time a
`flatmap_case` hook points a request at real objects, so the handlers behind the access
checks run too: a running drill and an ended one for `drill_id`, the real join code (also
typed lower case with a space), the shipped scenario, a real role, and a sign-in that
matches an account. Each response must not be a 5xx, its status must be one the document
declares for the operation, and its content type and body must match the document.

One server per database serves the whole module (each operation starts with fresh
wrong-code and sign-in counts, as on a server of its own). The seed is printed: in a
failure's report and, without xdist, when the module starts; TABLETOP_FUZZ_SEED=<seed>
repeats a run (under xdist every worker uses the same seed); an operation gets the same
cases on both databases. Hypothesis' health checks are on. TABLETOP_SCHEMATHESIS_EXAMPLES
sets the generated examples per operation and database (default 25) for a longer run.

A failure is a finding about the app (a 500, or a response the document does not declare):
fix the route, not this test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import settings
from schemathesis import Case as AnyCase
from schemathesis.checks import not_a_server_error
from schemathesis.generation.meta import TestPhase
from schemathesis.hooks import HookContext
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.config import Settings
from app.engine import commands as c
from app.services.accounts import AccountRole
from app.services.security import format_join_code
from app.web.deps import SESSION_COOKIE, participant_cookie
from app.web.limits import make_limits
from app.web.main import create_app
from tests import fuzzing
from tests.fuzzing import SEED, served
from tests.live import FIXTURES, LiveServer

# The run's seed, printed when this module starts and in each failure (autouse fixtures).
print_seed, seed_in_report = fuzzing.print_seed, fuzzing.seed_in_report

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


FUZZ = settings(
    max_examples=int(os.environ.get("TABLETOP_SCHEMATHESIS_EXAMPLES", "25")),
    database=None,  # the seed alone decides what is sent: a CI failure reproduces locally
    deadline=None,  # a request's time is the server's; a slow one is not a finding here
)

# The fuzzer's own accounts. The suite's hashes are cheap (tests/__init__.py), so a sign-in
# costs microseconds instead of argon2's 0.2 s: the sign-out operation needs a session per call.
FACILITATOR, REVIEWER, PASSWORD = "fuzz-fac", "fuzz-rev", "fuzzing pass phrase 42"
Case = AnyCase[Any]
# Stand-ins the hook writes and the test swaps for this run's real drill ids and code.
RUNNING, ENDED, CODE, TYPED_CODE = "<running>", "<ended>", "<code>", "<typed code>"
# Operations that read no cookie: sent once, as the outsider. (Signing out, DELETE
# /api/session, reads the session cookie: everyone sends it.)
PUBLIC = {
    ("POST", "/api/session"),
    ("POST", "/api/join"),
    ("GET", "/api/join/{code}"),
    ("GET", "/api/report-schema"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
}


@dataclass
class World:
    """The real objects the fuzzer aims at, and who calls."""

    live: LiveServer
    real: dict[str, str]
    """Stand-in -> this run's value."""
    callers: dict[str, dict[str, str]]
    """Name -> the cookies that caller sends."""
    operation: str = ""
    """The operation being fuzzed: a new one starts with fresh attempt counts."""

    def begin(self, case: Case) -> None:
        """Fresh wrong-code and sign-in counts for each operation, as if on its own server:
        the join operations would otherwise spend each other's 20 wrong codes a minute."""
        label = f"{case.method} {case.path}"
        if label != self.operation:
            self.operation = label
            limits = make_limits()
            self.live.app.state.join_limiter = limits.join
            self.live.app.state.login_limiter = limits.login

    def session(self, username: str) -> str:
        """A fresh session token, minted past the HTTP sign-in (and its throttle)."""
        token: str | None = self.live.run(self.live.app.state.accounts.sign_in(username, PASSWORD))
        assert token is not None
        return token

    def resolve(self, case: Case) -> None:
        """Swap the stand-ins the hook put in for the real values."""
        if case.path_parameters:
            case.path_parameters = {
                k: self.real.get(v, v) if isinstance(v, str) else v
                for k, v in case.path_parameters.items()
            }
        if isinstance(case.body, dict):
            case.body = {
                k: self.real.get(v, v) if isinstance(v, str) else v for k, v in case.body.items()
            }


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with served(request.param, tmp_path_factory.mktemp("schemathesis")) as server:
        yield server


@pytest.fixture(scope="module")
def world(live: LiveServer) -> World:
    assert live.client().get("/openapi.json").json() == DOCUMENT
    service, accounts = live.app.state.service, live.app.state.accounts
    for username, role in (
        (FACILITATOR, AccountRole.facilitator),
        (REVIEWER, AccountRole.reviewer),
    ):
        live.run(accounts.create_user(username, PASSWORD, role))
    world = World(live, {}, {})
    facilitator = {SESSION_COOKIE: world.session(FACILITATOR)}

    def drill(name: str) -> str:
        with httpx.Client(base_url=live.url, headers={"Origin": live.origin}) as client:
            client.cookies.update(facilitator)
            created = client.post("/api/drills", json={"scenario": "mini.yaml", "name": name})
        assert created.status_code == 201, created.text
        drill_id: str = created.json()["id"]
        return drill_id

    def joined(drill_id: str, role: str | None) -> dict[str, str]:
        _, token = live.run(service.join(drill_id, "Pat", role))
        return {participant_cookie(drill_id): token}

    running, ended = drill("Running"), drill("Ended")
    code = format_join_code(service.join_code(running))
    world.real = {
        RUNNING: running,
        ENDED: ended,
        CODE: code,
        TYPED_CODE: code.lower().replace("-", " "),
    }
    for command in [c.StartClock(), c.JumpToNextInject()]:
        live.run(service.execute(running, command))
    legal = joined(running, "legal") | joined(ended, "legal")
    observer = joined(running, None) | joined(ended, None)
    for command in [c.StartClock(), c.ReleaseScores(), c.EndDrill()]:
        live.run(service.execute(ended, command))
    world.callers = {
        "outsider": {},
        FACILITATOR: facilitator,
        REVIEWER: {SESSION_COOKIE: world.session(REVIEWER)},
        "legal": legal,
        "observer": observer,
    }
    return world


# Real values a generated case may be pointed at, some of the time: per location, the
# fields that go together and the values they take together.
REAL: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {
    ("path", ("drill_id",)): [(RUNNING,), (ENDED,)],
    ("path", ("code",)): [(CODE,), (TYPED_CODE,)],
    ("body", ("code",)): [(CODE,), (TYPED_CODE,)],
    ("body", ("role",)): [("legal",), (None,)],
    ("body", ("username", "password")): [(FACILITATOR, PASSWORD), (REVIEWER, PASSWORD)],
    ("body", ("scenario",)): [("mini.yaml",)],
    ("body", ("roles",)): [(["legal", "incident_manager"],)],
    ("body", ("backups",)): [({"incident_manager": "legal"},)],
    ("body", ("variables",)): [({"org_name": "Fuzz & Co"},)],
}


def aim(context: HookContext, case: Case) -> st.SearchStrategy[Case]:
    """The generated case as it is, or with some of its values swapped for real ones."""
    found = {
        "path": dict(case.path_parameters or {}),
        "body": dict(case.body) if isinstance(case.body, dict) else {},
    }
    choices = {
        (where, names): st.sampled_from([None, *values])
        for (where, names), values in REAL.items()
        if all(name in found[where] for name in names)
    }
    if not choices:
        return st.just(case)

    def swapped(picked: dict[tuple[str, tuple[str, ...]], tuple[Any, ...] | None]) -> Case:
        path, body = dict(found["path"]), dict(found["body"])
        for (where, names), values in picked.items():
            if values is not None:
                (path if where == "path" else body).update(zip(names, values, strict=True))
        if case.path_parameters:
            case.path_parameters = path
        if isinstance(case.body, dict):
            case.body = body
        return case

    return st.fixed_dictionaries(choices).map(swapped)


def callers(world: World, case: Case) -> list[str]:
    """Who sends this case. Operations that read no cookie: the outsider. Schemathesis'
    coverage cases (boundary values, aimed at no real drill): the outsider and the
    facilitator, who gets past the access checks. Generated cases: everyone."""
    if (case.method, case.path) in PUBLIC:
        return ["outsider"]
    if case.meta is not None and case.meta.phase.name == TestPhase.COVERAGE:
        return ["outsider", FACILITATOR]
    return list(world.callers)


# The document the app serves (the `world` fixture checks the live server serves this one).
DOCUMENT = create_app(Settings(secret_key="unused", scenarios_dir=FIXTURES)).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.seed = SEED  # each operation's hypothesis seed is derived from it and its name
schema.hook("flatmap_case")(aim)


@schema.parametrize()
@FUZZ
def test_every_operation_conforms_to_the_openapi_document(case: Case, world: World) -> None:
    world.begin(case)
    world.resolve(case)
    for name in callers(world, case):
        cookies = world.callers[name]
        if (case.method, case.path) == ("DELETE", "/api/session") and SESSION_COOKIE in cookies:
            cookies = {SESSION_COOKIE: world.session(name)}  # signing out ends that session
        case.call_and_validate(
            base_url=world.live.url,
            headers={"Origin": world.live.origin},
            cookies=cookies,
            checks=CHECKS,
        )


def test_a_lone_surrogate_or_a_nul_in_a_string_is_a_422_not_a_500(world: World) -> None:
    """Written out: schemathesis never generates a lone surrogate (`"\\ud800"`), valid
    JSON but not text, whose 422 echoed it back and failed to encode (a 500); and a NUL,
    which it generates only by chance, does harm only on PostgreSQL (its text cannot hold
    one: the query failed, a 500, or the write, a 503)."""
    fields = ("username", "password", "scenario", "name", "code")
    with httpx.Client(base_url=world.live.url, headers={"Origin": world.live.origin}) as client:
        client.cookies.update(world.callers[FACILITATOR])
        for bad in ("\\ud800", "\\u0000"):
            body = "{" + ", ".join(f'"{name}": "{bad}"' for name in fields) + "}"
            for path in ("/api/session", "/api/drills", "/api/join"):
                response = client.post(
                    path, content=body, headers={"Content-Type": "application/json"}
                )
                assert response.status_code == 422, (bad, path, response.text)
                schema[path]["POST"].validate_response(response)
        for path in ("events", "score", "report"):
            response = client.get(f"/api/drills/a%00b/{path}")
            assert response.status_code == 422, (path, response.text)
            schema[f"/api/drills/{{drill_id}}/{path}"]["GET"].validate_response(response)
