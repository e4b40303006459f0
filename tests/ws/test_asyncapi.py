"""The AsyncAPI 3.0 document of the websocket protocol: generated from the message models
(app/realtime/asyncapi.py), committed as docs/asyncapi.json, served at /asyncapi.json. It
must not drift from the code, and what the README shows and a real server sends must fit
its schemas."""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator

from app.realtime.asyncapi import asyncapi_document, asyncapi_json
from app.realtime.reference import client_messages, kind_of
from tests.conftest import ROOT
from tests.live import LiveServer, join
from tests.ws.test_protocol import (
    _close_sockets,  # noqa: F401 - the autouse fixture
    command,
    drill,  # noqa: F401 - the fixture
    open_socket,
    receive,
    received,
    until,
)

DOCUMENT = asyncapi_document()


def _problems(message: dict[str, Any]) -> list[str]:
    """What is wrong with `message` by the document's schema for its type."""
    channel = DOCUMENT["channels"]["drill"]["messages"]
    found = channel.get(message.get("type"))
    if found is None:
        return [f"no message type {message.get('type')!r} in the document"]
    root = {"components": DOCUMENT["components"], **found["payload"]}
    validator = Draft202012Validator(root)
    return [
        f"{message['type']}: {e.message} at {list(e.path)}" for e in validator.iter_errors(message)
    ]


def test_docs_asyncapi_json_is_the_generated_document() -> None:
    committed = (ROOT / "docs" / "asyncapi.json").read_text()
    assert committed == asyncapi_json(), (
        "docs/asyncapi.json is stale: run `tabletop protocol --asyncapi > docs/asyncapi.json`"
    )


def test_the_document_is_whole() -> None:
    assert DOCUMENT["asyncapi"] == "3.0.0"
    channel = DOCUMENT["channels"]["drill"]
    referenced = {
        ref["$ref"].rsplit("/", 1)[1]
        for operation in DOCUMENT["operations"].values()
        for ref in operation["messages"]
    }
    assert referenced == set(channel["messages"])
    assert {kind_of(m) for m in client_messages()} <= referenced
    text = json.dumps(DOCUMENT)
    for ref in set(re.findall(r'"#/components/schemas/([^"]+)"', text)):
        assert ref in DOCUMENT["components"]["schemas"], ref
    for ref in set(re.findall(r'"#/channels/drill/messages/([^"]+)"', text)):
        assert ref in channel["messages"], ref


def test_every_example_in_the_readme_fits_the_document() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Live drills") : readme.index("## Writing a scenario")]
    examples = [
        json.loads(line)
        for block in re.findall(r"```json\n(.*?)```", section, re.S)
        for line in block.splitlines()
        if line.startswith('{"type"')
    ]
    assert len(examples) >= 20
    problems = [p for example in examples for p in _problems(example)]
    assert not problems, problems


def test_the_server_serves_it_and_sends_what_it_says(
    live_server: LiveServer,
    drill: dict[str, Any],  # noqa: F811
) -> None:
    served = live_server.client().get("/asyncapi.json")
    assert served.status_code == 200 and served.json() == DOCUMENT
    player = open_socket(
        live_server, drill["id"], join(live_server, drill["join_code"], "Lee", "legal")
    )
    fac = open_socket(live_server, drill["id"], drill["facilitator"])
    receive(player)
    receive(fac)
    command(fac, type="start", id="s1")
    command(fac, type="start", id="s2")  # refused: started already
    command(player, type="end", id="e1")  # refused: not permitted
    command(player, type="answer", id="bad")  # refused: invalid_message
    fac.send(json.dumps({"type": "ping"}))
    until(fac, lambda m: m["type"] == "pong")
    player.send(json.dumps({"type": "sync", "since": 0}))
    until(player, lambda m: m["type"] == "snapshot")
    if not any(m["type"] == "presence" for m in received(fac)):
        until(fac, lambda m: m["type"] == "presence")
    messages = received(player) + received(fac)
    assert {m["type"] for m in messages} >= {
        "snapshot",
        "event",
        "ack",
        "error",
        "pong",
        "presence",
    }
    problems = [p for message in messages for p in _problems(message)]
    assert not problems, problems
