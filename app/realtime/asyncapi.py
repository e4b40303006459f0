"""The websocket protocol as an AsyncAPI 3.0 document, generated from the message models,
the error codes and the close codes: served at /asyncapi.json and kept in
docs/asyncapi.json (`tabletop protocol --asyncapi`; tests/ws/test_asyncapi.py fails when the
file drifts from the code). It describes the Tabletop server: it receives the client's
messages and sends its own."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.engine.errors import MEANINGS
from app.realtime import protocol
from app.realtime.codes import WHEN
from app.realtime.reference import client_messages, kind_of

VERSION = "1"
"""The protocol's version: bumped on a change a client must know of."""
REF = "#/components/schemas/{model}"


def _summary(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split())


def _messages(models: list[type[BaseModel]]) -> dict[str, Any]:
    return {
        kind_of(model): {
            "name": kind_of(model),
            "title": f"`{kind_of(model)}`",
            "summary": _summary(model),
            "contentType": "application/json",
            "payload": {"$ref": REF.format(model=model.__name__)},
        }
        for model in models
    }


def _error_codes() -> dict[str, str]:
    codes = {str(code): meaning for code, meaning in MEANINGS.items()}
    codes |= {str(code): meaning for code, meaning in protocol.PROTOCOL_CODES.items()}
    return dict(sorted(codes.items()))


def asyncapi_document() -> dict[str, Any]:
    incoming = client_messages()
    outgoing: list[type[BaseModel]] = list(protocol.SERVER_MESSAGES)
    _, top = models_json_schema(
        [(m, "validation") for m in incoming] + [(m, "serialization") for m in outgoing],
        ref_template=REF,
    )
    schemas: dict[str, Any] = top["$defs"]
    error = schemas[protocol.ErrorOut.__name__]["properties"]["code"]
    error["enum"] = list(_error_codes())
    channel = {
        "address": "/ws/drills/{drill_id}",
        "title": "One drill",
        "description": "One websocket per tab. The server accepts the socket, then checks the "
        "Origin, `since`, the drill and the viewer (closing with a code below when one "
        "fails), sends a `snapshot` of what this viewer may see after `since`, then each "
        "new event as it is committed.",
        "parameters": {"drill_id": {"description": "The drill's id."}},
        "messages": _messages(incoming) | _messages(outgoing),
        "bindings": {
            "ws": {
                "method": "GET",
                "query": {
                    "type": "object",
                    "properties": {
                        "since": {
                            "type": "integer",
                            "minimum": 0,
                            "default": 0,
                            "description": "The last seq the client saw; anything but a whole "
                            "number, 0 or more, is closed with 4022.",
                        }
                    },
                },
                "headers": {
                    "type": "object",
                    "required": ["Origin"],
                    "properties": {
                        "Origin": {
                            "type": "string",
                            "description": "This server's own origin (scheme, host and port)"
                            " or one in TABLETOP_ALLOWED_ORIGINS; otherwise closed with 4003.",
                        },
                        "Cookie": {
                            "type": "string",
                            "description": "The participant token (`tt_p_<drill id>`) or the "
                            "facilitator's session (`tt_session`); otherwise closed with 4001.",
                        },
                    },
                },
                "bindingVersion": "0.1.0",
            }
        },
    }

    def refs(models: list[type[BaseModel]]) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/drill/messages/{kind_of(m)}"} for m in models]

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Tabletop drill websocket",
            "version": VERSION,
            "description": "The live protocol of a Tabletop drill, as in the README's "
            "'Live drills' section. Commands carry an `id` the client chooses and are "
            "answered by `ack` or `error` with that id; the same command under the same id "
            "is applied once, another command under a used id is refused.",
        },
        "defaultContentType": "application/json",
        "channels": {"drill": channel},
        "operations": {
            "receiveClientMessage": {
                "action": "receive",
                "channel": {"$ref": "#/channels/drill"},
                "summary": "What a client sends: commands, `sync` and `ping`.",
                "messages": refs(incoming),
            },
            "sendServerMessage": {
                "action": "send",
                "channel": {"$ref": "#/channels/drill"},
                "summary": "What the server sends.",
                "messages": refs(outgoing),
            },
        },
        "components": {"schemas": schemas},
        "x-error-codes": _error_codes(),
        "x-close-codes": {
            str(int(code)): {"name": code.name, "when": when} for code, when in WHEN.items()
        },
        "x-sent-by": {kind_of(m): protocol.sent_by(kind_of(m)) for m in incoming},
    }


def asyncapi_json() -> str:
    """The document as committed in docs/asyncapi.json."""
    return json.dumps(asyncapi_document(), indent=2, ensure_ascii=False) + "\n"
