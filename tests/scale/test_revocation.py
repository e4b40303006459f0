"""Credentials end everywhere at once (issue 18), on two workers sharing PostgreSQL and
Redis: a sign-out, a session's expiry, a participant token replaced by a re-join and a
password change each close every socket opened with that credential with 4001 within a
second, on whichever worker it is, and a command sent in that window is refused (an
error answer, or the close before any answer) and never appears in the log.

Everything is real: `tabletop serve` subprocesses, websockets, PostgreSQL, Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.services.security import token_hash
from tests.live import PASSWORD
from tests.scale.cluster import (
    TABLETOP,
    Cluster,
    Worker,
    create_drill,
    http,
    join,
    sign_in,
    two_workers,
    wait_until,
)

WITHIN = 1.0
"""Seconds from the revocation's commit (its HTTP answer) to the socket's 4001."""
IDLE_MINUTES = 0.05


class Tab:
    """One open websocket: every message it got, and when and how it closed."""

    def __init__(self, worker: Worker, drill_id: str, client: httpx.AsyncClient) -> None:
        self.worker = worker
        self.drill_id = drill_id
        self.cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        self.messages: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.closed_at: float | None = None
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> Tab:
        self._ws = await connect(
            f"{self.worker.ws_url}/ws/drills/{self.drill_id}?since=0",
            additional_headers={"Origin": self.worker.url, "Cookie": self.cookie},
        )
        self._reader = asyncio.create_task(self._read(self._ws))
        await wait_until(lambda: self._of("snapshot") is not None, 10, "the snapshot")
        return self

    def _of(self, kind: str) -> dict[str, Any] | None:
        return next((m for m in self.messages if m["type"] == kind), None)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self.messages.append(json.loads(raw))
        except ConnectionClosed:
            pass
        self.closed_at = time.monotonic()
        self.close_code = ws.close_code

    async def send(self, message: dict[str, Any]) -> str:
        """Send a command without waiting; its id. A socket closed already: nothing sent."""
        assert self._ws is not None
        command_id = uuid.uuid4().hex
        with contextlib.suppress(ConnectionClosed):
            await self._ws.send(json.dumps({**message, "id": command_id}))
        return command_id

    async def command(self, message: dict[str, Any]) -> dict[str, Any]:
        command_id = await self.send(message)
        await wait_until(lambda: self.answer(command_id) is not None, 10, f"{message}'s answer")
        answer = self.answer(command_id)
        assert answer is not None and answer["type"] == "ack", answer
        return answer

    def answer(self, command_id: str) -> dict[str, Any] | None:
        return next(
            (
                m
                for m in self.messages
                if m["type"] in ("ack", "error") and m.get("id") == command_id
            ),
            None,
        )

    async def closed_4001_within(self, since: float, seconds: float = WITHIN) -> float:
        """Wait for the close; assert it is 4001 and came within `seconds` of `since`."""
        await wait_until(lambda: self.closed_at is not None, 5, "the socket to close")
        assert self.close_code == 4001, self.close_code
        assert self.closed_at is not None
        took = self.closed_at - since
        assert took <= seconds, f"closed {took:.3f} s after the revocation"
        return took

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await self._reader


def signed_in_on(worker: Worker, session: httpx.AsyncClient) -> httpx.AsyncClient:
    """The same browser (its session cookie) talking to another worker."""
    client = http(worker)
    client.cookies.update(session.cookies)
    return client


def refused(tab: Tab, command_id: str) -> str:
    """The command was not acknowledged: an error answer, or the close came first."""
    answer = tab.answer(command_id)
    if answer is None:
        return "closed first"
    assert answer["type"] == "error", answer
    assert answer["code"] == "credential_revoked", answer
    return "error answer"


def inject(title: str) -> dict[str, Any]:
    return {"type": "manual_inject", "title": title, "body": "after the end", "to": ["all"]}


def message(body: str) -> dict[str, Any]:
    return {"type": "send_message", "to": ["legal"], "body": body}


async def log_of(client: httpx.AsyncClient, drill_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/drills/{drill_id}/events")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events


def mentions(log: list[dict[str, Any]], text_: str) -> bool:
    return text_ in json.dumps(log)


async def running_drill(worker: Worker) -> tuple[httpx.AsyncClient, dict[str, Any], Tab]:
    """A facilitator session (the control: it must outlive every revocation of another
    credential), a started drill, and that session's socket."""
    control = await sign_in(worker)
    drill = await create_drill(control, speed=1)
    tab = await Tab(worker, drill["id"], control).open()
    await tab.command({"type": "start", "confirm_unfilled": True})
    return control, drill, tab


async def still_works(tab: Tab) -> None:
    await tab.command(inject(f"control {uuid.uuid4().hex[:6]}"))
    assert tab.closed_at is None


async def test_sign_out_closes_the_session_s_sockets_on_every_worker(tmp_path: Path) -> None:
    async with two_workers(tmp_path) as cluster:
        control, drill, control_tab = await running_drill(cluster.b)
        leaving = await sign_in(cluster.a)
        on_a = await Tab(cluster.a, drill["id"], leaving).open()
        on_b = await Tab(cluster.b, drill["id"], leaving).open()
        await on_a.command(inject("before sign-out"))

        signed_out = await signed_in_on(cluster.b, leaving).delete("/api/session")
        assert signed_out.status_code == 204
        revoked_at = time.monotonic()
        late = await on_a.send(inject("after sign-out"))

        took_a = await on_a.closed_4001_within(revoked_at)
        took_b = await on_b.closed_4001_within(revoked_at)
        how = refused(on_a, late)
        log = await log_of(control, drill["id"])
        assert mentions(log, "before sign-out")
        assert not mentions(log, "after sign-out")
        await still_works(control_tab)
        print(f"sign-out: closed after {took_a:.3f} s (other worker) / {took_b:.3f} s; {how}")
        await control_tab.close()


async def test_a_lost_notice_still_refuses_the_command_and_closes_at_it(tmp_path: Path) -> None:
    """Redis down: the other worker never hears of the sign-out, but the command is
    checked in its own transaction, refused with an error answer, and the socket closes."""
    async with two_workers(tmp_path) as cluster:
        control, drill, control_tab = await running_drill(cluster.b)
        leaving = await sign_in(cluster.a)
        on_a = await Tab(cluster.a, drill["id"], leaving).open()
        cluster.redis.stop()
        signed_out = await signed_in_on(cluster.b, leaving).delete("/api/session")
        assert signed_out.status_code == 204
        await asyncio.sleep(0.3)
        assert on_a.closed_at is None  # nobody told worker A
        sent_at = time.monotonic()
        late = await on_a.send(inject("unheard sign-out"))
        await on_a.closed_4001_within(sent_at)
        assert refused(on_a, late) == "error answer"
        log = await log_of(control, drill["id"])
        assert not mentions(log, "unheard sign-out")
        await control_tab.close()


async def test_an_expired_session_closes_its_sockets(tmp_path: Path) -> None:
    async with two_workers(tmp_path) as cluster:
        control, drill, control_tab = await running_drill(cluster.b)
        expiring = await sign_in(cluster.a)
        digest = token_hash(expiring.cookies["tt_session"])
        engine = create_async_engine(cluster.database)
        ends = time.time() + 1.5
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text("UPDATE web_sessions SET expires_at = :t WHERE token_hash = :h"),
                    {"t": ends, "h": digest},
                )
        finally:
            await engine.dispose()
        on_a = await Tab(cluster.a, drill["id"], expiring).open()
        on_b = await Tab(cluster.b, drill["id"], expiring).open()
        await on_b.command(inject("before expiry"))
        await asyncio.sleep(max(0.0, ends - time.time()))
        expired_at = time.monotonic()
        late = await on_a.send(inject("after expiry"))
        took_a = await on_a.closed_4001_within(expired_at)
        took_b = await on_b.closed_4001_within(expired_at)
        how = refused(on_a, late)
        log = await log_of(control, drill["id"])
        assert mentions(log, "before expiry")
        assert not mentions(log, "after expiry")
        await still_works(control_tab)
        print(f"expiry: closed {took_a:.3f} s / {took_b:.3f} s after it; {how}")
        await control_tab.close()


async def test_a_rejoin_closes_the_replaced_token_s_sockets(tmp_path: Path) -> None:
    async with two_workers(tmp_path) as cluster:
        control, drill, control_tab = await running_drill(cluster.b)
        attempt = uuid.uuid4().hex
        first = http(cluster.a)
        body = {"code": drill["join_code"], "name": "Lena", "role": "legal", "attempt": attempt}
        assert (await first.post("/api/join", json=body)).status_code == 200
        old = await Tab(cluster.a, drill["id"], first).open()
        await old.command(message("before the re-join"))

        again = http(cluster.b)
        rejoined = await again.post("/api/join", json=body)
        assert rejoined.status_code == 200, rejoined.text
        revoked_at = time.monotonic()
        late = await old.send(message("from the replaced token"))
        took = await old.closed_4001_within(revoked_at)
        how = refused(old, late)

        new = await Tab(cluster.b, drill["id"], again).open()
        await new.command(message("with the new token"))
        log = await log_of(control, drill["id"])
        assert mentions(log, "before the re-join") and mentions(log, "with the new token")
        assert not mentions(log, "from the replaced token")
        print(f"re-join: closed after {took:.3f} s; {how}")
        await new.close()
        await control_tab.close()


async def test_a_password_change_ends_every_session_of_the_account(tmp_path: Path) -> None:
    async with two_workers(tmp_path) as cluster:
        _, drill, first = await running_drill(cluster.b)
        # The control here is a participant: every facilitator session is fac's.
        joined = await join(cluster.b, drill["join_code"], "Ezra", "executive")
        stays = await Tab(cluster.b, drill["id"], joined).open()
        tabs = [await Tab(w, drill["id"], await sign_in(w)).open() for w in (cluster.a, cluster.b)]
        env = dict(cluster.started.env)
        changed = await asyncio.to_thread(
            subprocess.run,
            [str(TABLETOP), "user", "password", "fac", "--password-stdin"],
            input=b"a brand new password\n",
            env=env,
            cwd=tmp_path,
            capture_output=True,
            timeout=30,
        )
        assert changed.returncode == 0, changed.stderr.decode()
        revoked_at = time.monotonic()
        late = await tabs[0].send(inject("after the password change"))
        took = [await t.closed_4001_within(revoked_at) for t in (*tabs, first)]
        how = refused(tabs[0], late)
        old = await http(cluster.a).post(
            "/api/session", json={"username": "fac", "password": PASSWORD}
        )
        assert old.status_code == 401
        await stays.command(message("the participant goes on"))
        log = await log_of(joined, drill["id"])
        assert mentions(log, "the participant goes on")
        facilitator = http(cluster.a)
        answer = await facilitator.post(
            "/api/session", json={"username": "fac", "password": "a brand new password"}
        )
        assert answer.status_code == 200
        assert not mentions(await log_of(facilitator, drill["id"]), "after the password change")
        print(f"password change: closed after {', '.join(f'{t:.3f}' for t in took)} s; {how}")
        await stays.close()


async def test_removing_a_participant_closes_their_sockets_and_logs_it(tmp_path: Path) -> None:
    async with two_workers(tmp_path) as cluster:
        control, drill, control_tab = await running_drill(cluster.b)
        removed = await join(cluster.a, drill["join_code"], "Mo", "legal")
        on_a = await Tab(cluster.a, drill["id"], removed).open()
        on_b = await Tab(cluster.b, drill["id"], removed).open()
        assert on_a.messages[0]["viewer"]["participant_id"]
        pid = on_a.messages[0]["viewer"]["participant_id"]
        await on_a.command(message("before removal"))

        refused_one = await control.delete(f"/api/drills/{drill['id']}/participants/nobody")
        assert refused_one.status_code == 404
        as_participant = await removed.delete(f"/api/drills/{drill['id']}/participants/{pid}")
        assert as_participant.status_code == 401

        answer = await control.delete(f"/api/drills/{drill['id']}/participants/{pid}")
        assert answer.status_code == 204, answer.text
        revoked_at = time.monotonic()
        late = await on_a.send(message("after removal"))
        took_a = await on_a.closed_4001_within(revoked_at)
        took_b = await on_b.closed_4001_within(revoked_at)
        how = refused(on_a, late)
        assert (await removed.get(f"/api/drills/{drill['id']}/events")).status_code == 401
        log = await log_of(control, drill["id"])
        assert mentions(log, "before removal") and not mentions(log, "after removal")
        left = [e for e in log if e["type"] == "participant_left"]
        assert [e["data"]["participant_id"] for e in left] == [pid]
        await still_works(control_tab)
        print(f"removal: closed after {took_a:.3f} s / {took_b:.3f} s; {how}")
        await control_tab.close()


async def test_a_re_role_closes_the_old_sockets_and_changes_what_they_see(
    tmp_path: Path,
) -> None:
    async with two_workers(tmp_path) as cluster:
        control, drill, control_tab = await running_drill(cluster.b)
        moved = await join(cluster.a, drill["join_code"], "Ada", "legal")
        old = await Tab(cluster.a, drill["id"], moved).open()
        pid = old.messages[0]["viewer"]["participant_id"]
        path = f"/api/drills/{drill['id']}/participants/{pid}"
        assert (await control.post(path, json={"role": "nope"})).status_code == 400
        assert (await moved.post(path, json={"role": "executive"})).status_code == 401

        answer = await control.post(path, json={"role": "executive"})
        assert answer.status_code == 200, answer.text
        revoked_at = time.monotonic()
        late = await old.send(message("as legal after the re-role"))
        took = await old.closed_4001_within(revoked_at)
        how = refused(old, late)
        new_id = answer.json()["participant_id"]

        new = await Tab(cluster.a, drill["id"], moved).open()
        viewer = new.messages[0]["viewer"]
        assert viewer == {"kind": "participant", "role": "executive", "participant_id": new_id}
        await control_tab.command({**inject("for executives"), "to": ["executive"]})
        await control_tab.command({**inject("for legal only"), "to": ["legal"]})
        await wait_until(lambda: "for executives" in json.dumps(new.messages), 5, "the inject")
        assert "for legal only" not in json.dumps(new.messages)
        log = await log_of(control, drill["id"])
        assert not mentions(log, "as legal after the re-role")
        roster = [(e["type"], e["data"].get("participant_id"), e["data"].get("role")) for e in log]
        assert ("participant_joined", new_id, "executive") in roster
        assert ("participant_left", pid, None) in roster
        print(f"re-role: closed after {took:.3f} s; {how}")
        await new.close()
        await control_tab.close()


async def _tabletop(cluster: Cluster, tmp: Path, *args: str, stdin: str = "") -> str:
    """Run the real CLI against the cluster's database (it tells the workers via Redis)."""
    done = await asyncio.to_thread(
        subprocess.run,
        [str(TABLETOP), *args],
        input=stdin.encode(),
        env=dict(cluster.started.env),
        cwd=tmp,
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


async def _co_facilitator(
    cluster: Cluster, tmp: Path, control: httpx.AsyncClient, drill_id: str
) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    """A second facilitator, `sam`, added to the drill, signed in on each worker."""
    await _tabletop(cluster, tmp, "user", "create", "sam", "--password-stdin", stdin=PASSWORD)
    added = await control.post(f"/api/drills/{drill_id}/facilitators", json={"username": "sam"})
    assert added.status_code == 201, added.text
    signed_in = []
    for worker in (cluster.a, cluster.b):
        client = http(worker)
        answer = await client.post("/api/session", json={"username": "sam", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        signed_in.append(client)
    return signed_in[0], signed_in[1]


async def test_disabling_an_account_closes_its_sockets_on_every_worker(tmp_path: Path) -> None:
    async with two_workers(tmp_path) as cluster:
        control, drill, control_tab = await running_drill(cluster.b)
        on_a_client, on_b_client = await _co_facilitator(cluster, tmp_path, control, drill["id"])
        on_a = await Tab(cluster.a, drill["id"], on_a_client).open()
        on_b = await Tab(cluster.b, drill["id"], on_b_client).open()
        await on_a.command(inject("before the account is disabled"))

        said = await _tabletop(cluster, tmp_path, "user", "disable", "sam")
        assert "'sam' is disabled" in said
        revoked_at = time.monotonic()
        late = await on_b.send(inject("from a disabled account"))
        took_a = await on_a.closed_4001_within(revoked_at)
        took_b = await on_b.closed_4001_within(revoked_at)
        how = refused(on_b, late)
        again = await http(cluster.a).post(
            "/api/session", json={"username": "sam", "password": PASSWORD}
        )
        assert again.status_code == 403 and "disabled" in again.json()["detail"]
        log = await log_of(control, drill["id"])
        assert mentions(log, "before the account is disabled")
        assert not mentions(log, "from a disabled account")
        await still_works(control_tab)
        print(f"disable: closed after {took_a:.3f} s / {took_b:.3f} s; {how}")
        await control_tab.close()


async def test_removing_a_co_facilitator_closes_their_sockets_on_that_drill(
    tmp_path: Path,
) -> None:
    async with two_workers(tmp_path) as cluster:
        control, drill, control_tab = await running_drill(cluster.b)
        on_a_client, on_b_client = await _co_facilitator(cluster, tmp_path, control, drill["id"])
        own = await create_drill(on_a_client, speed=1)  # sam's own drill is not touched
        on_a = await Tab(cluster.a, drill["id"], on_a_client).open()
        on_b = await Tab(cluster.b, drill["id"], on_b_client).open()
        own_tab = await Tab(cluster.a, own["id"], on_a_client).open()
        await on_a.command(inject("by the co-facilitator"))

        removed = await control.delete(f"/api/drills/{drill['id']}/facilitators/sam")
        assert removed.status_code == 200, removed.text
        revoked_at = time.monotonic()
        late = await on_a.send(inject("after the removal"))
        took_a = await on_a.closed_4001_within(revoked_at)
        took_b = await on_b.closed_4001_within(revoked_at)
        how = refused(on_a, late)
        refused_read = await on_b_client.get(f"/api/drills/{drill['id']}/events")
        assert refused_read.status_code == 403
        assert "ask them to add you as a co-facilitator" in refused_read.json()["detail"]
        log = await log_of(control, drill["id"])
        assert mentions(log, "by the co-facilitator") and not mentions(log, "after the removal")
        await own_tab.command({"type": "start", "confirm_unfilled": True})
        assert own_tab.closed_at is None
        await still_works(control_tab)
        print(f"co-facilitator removal: closed after {took_a:.3f} s / {took_b:.3f} s; {how}")
        await own_tab.close()
        await control_tab.close()


async def test_an_idle_session_closes_its_sockets(tmp_path: Path) -> None:
    """No page, request or message for the idle limit (3 s here): every socket of the
    session closes with 4001 then, not at its next command."""
    async with two_workers(tmp_path, session_idle_minutes=str(IDLE_MINUTES)) as cluster:
        idle = IDLE_MINUTES * 60
        control = await sign_in(cluster.b)
        drill = await create_drill(control, speed=1)
        joined = await join(cluster.b, drill["join_code"], "Ezra", "executive")
        stays = await Tab(cluster.b, drill["id"], joined).open()
        idling = await sign_in(cluster.a)
        signed_in_at = time.monotonic()
        on_a = await Tab(cluster.a, drill["id"], idling).open()
        on_b = await Tab(cluster.b, drill["id"], idling).open()
        await on_a.command({"type": "start", "confirm_unfilled": True})
        # The idle limit counts from the sign-in (the last recorded use): a close before
        # it would end a session in use, one well after it would leave a forgotten one open.
        took_a = await on_a.closed_4001_within(signed_in_at + idle)
        took_b = await on_b.closed_4001_within(signed_in_at + idle)
        assert min(took_a, took_b) > -0.5, "closed before the session was idle"
        late = await on_a.send(inject("after the idle limit"))
        assert on_a.answer(late) is None
        assert (await idling.get(f"/api/drills/{drill['id']}/events")).status_code == 401
        await stays.command(message("the participant goes on"))
        assert stays.closed_at is None
        print(f"idle: closed {took_a:.3f} s / {took_b:.3f} s after the idle limit")
        await stays.close()
