"""A script plays a drill with an API token, written only against the server's published
documents: `/asyncapi.json` for the websocket and `/openapi.json` for the HTTP calls. It
imports nothing from app/ and sends no Origin header (a script is not a browser). Every
message it sends or receives is checked against the AsyncAPI document's schemas."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import jsonschema
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.live import PASSWORD, LiveServer


def _token(live: LiveServer, name: str = "ci-bot", user: str = "fac") -> str:
    secret: str = live.run(live.app.state.accounts.create_api_token(name, user))
    return secret


class Document:
    """The AsyncAPI document as a script reads it: the address, and a schema per message."""

    def __init__(self, document: dict[str, Any]) -> None:
        assert document["asyncapi"].startswith("3.")
        channel = document["channels"]["drill"]
        self.address: str = channel["address"]
        self.schemas = document["components"]["schemas"]
        self.messages = {
            name: self.schemas[m["payload"]["$ref"].rsplit("/", 1)[1]]
            for name, m in channel["messages"].items()
        }
        self.close_codes = {int(k): v["name"] for k, v in document["x-close-codes"].items()}

    def check(self, message: dict[str, Any]) -> None:
        # The document's $refs point into its components: carried along to resolve them.
        schema = {**self.messages[message["type"]], "components": {"schemas": self.schemas}}
        jsonschema.validate(message, schema)

    def command(self, kind: str, **fields: Any) -> dict[str, Any]:
        message = {"type": kind, "id": uuid.uuid4().hex, **fields}
        self.check(message)  # what we send is what the document says to send
        return message


async def _play(live: LiveServer, secret: str) -> list[str]:
    bearer = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=live.url, headers=bearer, timeout=15) as http:
        doc = Document((await http.get("/asyncapi.json")).json())
        assert "/api/drills" in (await http.get("/openapi.json")).json()["paths"]
        created = await http.post(
            "/api/drills", json={"scenario": "mini.yaml", "name": "Scripted", "speed": 600}
        )
        assert created.status_code == 201, created.text
        drill_id = created.json()["id"]
    url = live.url.replace("http", "ws", 1) + doc.address.replace("{drill_id}", drill_id)
    seen: list[str] = []
    async with connect(url, additional_headers=bearer) as ws:

        async def receive() -> dict[str, Any]:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 15))
            doc.check(message)
            if message["type"] == "event":
                seen.append(message["event"]["type"])
            return message

        async def until(wanted: Any) -> dict[str, Any]:
            while not wanted(message := await receive()):
                pass
            return message

        await until(lambda m: m["type"] == "snapshot")
        start = doc.command("start", confirm_unfilled=True)
        await ws.send(json.dumps(start))
        await until(lambda m: m["type"] == "ack" and m["id"] == start["id"])
        opened = await until(
            lambda m: m["type"] == "event" and m["event"]["type"] == "decision_opened"
        )
        decision = opened["event"]["data"]
        answer = doc.command(
            "answer",
            decision_id=decision["decision_id"],
            option_id="no",
            role=decision["roles"][0],
            rationale="the backups are clean",
        )
        await ws.send(json.dumps(answer))
        await until(lambda m: m["type"] == "ack" and m["id"] == answer["id"])
        end = doc.command("end")
        await ws.send(json.dumps(end))
        await until(lambda m: m["type"] == "event" and m["event"]["type"] == "drill_ended")
    return seen


def test_a_script_plays_a_drill_with_an_api_token_from_the_documents_alone(
    live_server: LiveServer,
) -> None:
    seen = asyncio.run(_play(live_server, _token(live_server)))
    for kind in ("clock_started", "decision_opened", "decision_answered", "drill_ended"):
        assert kind in seen


def test_a_revoked_or_unknown_token_is_refused_on_http_and_the_socket(
    live_server: LiveServer,
) -> None:
    secret = _token(live_server)
    accounts = live_server.app.state.accounts
    bearer = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=live_server.url, headers=bearer) as http:
        created = http.post("/api/drills", json={"scenario": "mini.yaml", "name": "Soon revoked"})
        assert created.status_code == 201
        drill_id = created.json()["id"]
        assert live_server.run(accounts.revoke_api_token("ci-bot")) is True
        refused = http.get(f"/api/drills/{drill_id}/events")
        assert refused.status_code == 401
        again = http.post("/api/drills", json={"scenario": "mini.yaml", "name": "x"})
        assert again.status_code == 401
    forged = {"Authorization": "Bearer tt_" + "A" * 43}
    with httpx.Client(base_url=live_server.url, headers=forged) as http:
        assert http.get(f"/api/drills/{drill_id}/events").status_code == 401

    async def socket_close(headers: dict[str, str]) -> int | None:
        url = live_server.url.replace("http", "ws", 1) + f"/ws/drills/{drill_id}"
        async with connect(url, additional_headers=headers) as ws:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return ws.close_code

    assert asyncio.run(socket_close(bearer)) == 4001
    assert asyncio.run(socket_close(forged)) == 4001


def test_a_bearer_request_does_not_read_the_session_cookie(live_server: LiveServer) -> None:
    """One request, one credential: a bad token with a good cookie is still refused."""
    client = live_server.client()
    signed_in = client.post("/api/session", json={"username": "fac", "password": PASSWORD})
    assert signed_in.status_code == 200  # the session cookie is now in the client
    body = {"scenario": "mini.yaml", "name": "Cookie"}
    wrong = client.post("/api/drills", json=body, headers={"Authorization": "Bearer tt_nope"})
    assert wrong.status_code == 401
    assert client.post("/api/drills", json=body).status_code == 201
