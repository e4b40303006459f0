"""Event frames written straight to the socket (app/web/frames) reach a real websocket
client whole and in order; a socket that cannot take them at once (a reader that fell
behind) or that compresses its frames gets them through uvicorn's own send, still in
order."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.types import Receive, Scope, Send
from websockets.frames import Frame
from websockets.streams import StreamReader
from websockets.sync.client import connect

from app.realtime.hub import Connection
from app.realtime.visibility import Viewer
from app.web import frames
from app.web.frames import text_sender
from app.web.server import uvicorn_config
from tests.live import free_port


@dataclass
class Sent:
    """How the server's sends went: written at once, or through uvicorn's send."""

    straight: int = 0
    through_asgi: int = 0
    done: threading.Event = field(default_factory=threading.Event)


def message(n: int, size: int) -> str:
    return json.dumps({"n": n, "pad": "é" * size})


def sending_app(sent: Sent) -> object:
    """A socket that, asked for `count` messages of `size`, offers them all at once to a
    hub connection over `text_sender`, as the hub does with an event for many sockets."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # uvicorn_config asks for the lifespan
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert scope["type"] == "websocket"
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        socket_send = text_sender(send)

        def counted(text: str) -> object:
            sending = socket_send(text)
            if sending is None:
                sent.straight += 1
            else:
                sent.through_asgi += 1
            return sending

        async def close(code: int, reason: str) -> None:
            await send({"type": "websocket.close", "code": code, "reason": reason})

        connection = Connection("d", Viewer("participant", "legal", "p1"), counted, close)  # type: ignore[arg-type]
        asked = await receive()
        wanted = json.loads(asked["text"])
        for n in range(wanted["count"]):
            assert connection.offer_text(message(n, wanted["sizes"][n % len(wanted["sizes"])]))
        if connection.writer is not None:
            await connection.writer
        sent.done.set()
        while (await receive())["type"] != "websocket.disconnect":
            pass

    return app


@contextmanager
def serving(sent: Sent, *, compression: bool = False) -> Iterator[str]:
    port = free_port()
    config = uvicorn_config(sending_app(sent), "127.0.0.1", port, log_level="warning")  # type: ignore[arg-type]
    config.ws_per_message_deflate = compression
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)


def receive_all(url: str, count: int, sizes: list[int], compression: str | None) -> list[str]:
    with connect(url, max_size=None, compression=compression) as socket:
        socket.send(json.dumps({"count": count, "sizes": sizes}))
        return [str(socket.recv(10)) for _ in range(count)]


def expected(count: int, sizes: list[int]) -> list[str]:
    return [message(n, sizes[n % len(sizes)]) for n in range(count)]


def test_frames_of_every_length_written_straight_arrive_whole_and_in_order() -> None:
    # Under 126 bytes, under 64 KiB, and over: the three ways a frame states its length.
    sizes = [10, 3_000, 70_000]
    sent = Sent()
    with serving(sent) as url:
        received = receive_all(url, 30, sizes, compression=None)
    assert received == expected(30, sizes)
    assert sent.straight == 30 and sent.through_asgi == 0


def test_a_reader_that_falls_behind_gets_the_rest_through_uvicorn_in_order() -> None:
    sizes = [200_000]
    count = 120  # 24 MB: more than the socket buffers hold, so the transport pauses
    sent = Sent()
    with serving(sent) as url, connect(url, max_size=None, compression=None) as socket:
        socket.send(json.dumps({"count": count, "sizes": sizes}))
        time.sleep(1.0)  # not reading: the server's writes back up
        received = [str(socket.recv(10)) for _ in range(count)]
        assert sent.done.wait(10)
    assert received == expected(count, sizes)
    assert sent.straight > 0 and sent.through_asgi > 0, sent


def test_a_socket_that_compresses_gets_its_frames_through_uvicorn() -> None:
    sizes = [10, 3_000]
    sent = Sent()
    with serving(sent, compression=True) as url:
        received = receive_all(url, 10, sizes, compression="deflate")
    assert received == expected(10, sizes)
    assert sent.straight == 0 and sent.through_asgi == 10


def test_the_server_negotiates_no_compression() -> None:
    """A compressed socket's frames are its own: none would be shared."""
    sent = Sent()
    with serving(sent) as url:
        config = uvicorn_config(sending_app(sent), "127.0.0.1", 1)  # type: ignore[arg-type]
        assert config.ws_per_message_deflate is False
        with connect(url, compression="deflate") as socket:
            assert socket.protocol.extensions == []


def test_frames_kept_for_sharing_stay_few_and_small() -> None:
    """Each socket's own texts (snapshots, acknowledgements) pass through too: what is
    kept for the next socket must not grow with them (memory per participant)."""
    for n in range(200):
        frames.frame_of(message(n, 100))
    long = message(0, frames.SHARED_TEXT_CHARS)
    framed = frames.frame_of(long)
    assert len(frames._frames) <= frames.FRAMES_KEPT
    assert long not in frames._frames
    reader = StreamReader()
    reader.feed_data(framed)
    parsing = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parsing)
    except StopIteration as done:
        assert done.value.data.decode() == long
    else:
        raise AssertionError("the frame is incomplete")
