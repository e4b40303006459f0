"""The bare baseline for the fan-out case: a plain Starlette websocket broadcast under the
same uvicorn settings as Tabletop (but for its keepalive: uvicorn's own, as by default),
speaking just enough of Tabletop's protocol (snapshot, event, ack) that the same bench
client measures both.

    python -m app.loadtest.bench.baseline --port 8765

A client sends `{"type": "fire", "id": ..., "event": {...}}`; the server numbers the event,
serialises it once, sends it to every connection in turn, then acknowledges the sender.
No database, no visibility rules, no per-connection queue: the floor Tabletop is held to.
"""

from __future__ import annotations

import argparse
import json

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.web.keepalive import KEEPALIVE_SECONDS
from app.web.server import uvicorn_config


class Broadcast:
    def __init__(self) -> None:
        self.sockets: set[WebSocket] = set()
        self.seq = 0

    async def endpoint(self, ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(
            json.dumps({"type": "snapshot", "drill": {}, "last_seq": self.seq, "events": []})
        )
        self.sockets.add(ws)
        try:
            while True:
                message = json.loads(await ws.receive_text())
                if message.get("type") == "fire":
                    await self.fire(ws, message)
        except WebSocketDisconnect:
            pass
        finally:
            self.sockets.discard(ws)

    async def fire(self, sender: WebSocket, message: dict[str, object]) -> None:
        self.seq += 1
        event = dict(message["event"])  # type: ignore[call-overload]
        event["seq"] = self.seq
        text = json.dumps({"type": "event", "event": event}, separators=(",", ":"))
        for ws in list(self.sockets):
            try:
                await ws.send_text(text)
            except (WebSocketDisconnect, RuntimeError):
                self.sockets.discard(ws)
        await sender.send_text(json.dumps({"type": "ack", "id": message["id"], "seq": self.seq}))


def make_app() -> Starlette:
    broadcast = Broadcast()

    async def ready(_: object) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            WebSocketRoute("/ws/drills/{drill_id}", broadcast.endpoint),
            Route("/readyz", ready),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    config = uvicorn_config(make_app(), "127.0.0.1", port, log_level="warning")  # type: ignore[arg-type]
    # Keepalive as a plain Starlette app has it: uvicorn pings each socket on its own
    # timer (Tabletop pings all of its drill sockets in one sweep, app/web/keepalive).
    config.ws_ping_interval = KEEPALIVE_SECONDS
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
