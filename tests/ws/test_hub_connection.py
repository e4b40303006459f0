"""A connection sends at once when its socket can take the frame, and keeps order when a
socket makes it wait (a slow browser): what comes meanwhile queues behind the wait."""

from __future__ import annotations

import asyncio

from app.realtime.hub import QUEUE_LIMIT, Connection
from app.realtime.visibility import Viewer


class Socket:
    """A socket that takes frames at once until `stall` is cleared, then waits for it."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.open = asyncio.Event()
        self.open.set()
        self.gone = False

    async def send(self, text: str) -> None:
        await self.open.wait()
        if self.gone:
            raise RuntimeError("the socket is closed")
        self.received.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.gone = True


def _connection(socket: Socket) -> Connection:
    viewer = Viewer(kind="participant", role="legal", participant_id="p1")
    return Connection("d1", viewer, socket.send, socket.close)


async def test_a_socket_that_can_take_the_frame_gets_it_before_offer_returns() -> None:
    socket = Socket()
    connection = _connection(socket)
    assert connection.offer_text("one")
    assert socket.received == ["one"]
    assert connection.writer is None


async def test_frames_offered_while_a_send_waits_arrive_after_it_in_order() -> None:
    socket = Socket()
    connection = _connection(socket)
    socket.open.clear()
    for text in ("one", "two", "three"):
        assert connection.offer_text(text)
    assert socket.received == []
    socket.open.set()
    assert connection.writer is not None
    await connection.writer
    assert socket.received == ["one", "two", "three"]


async def test_frames_queued_behind_a_send_still_waiting_when_its_writer_starts_arrive() -> None:
    """The slow browser's case: the socket is still full when the writer task first runs
    (uvicorn's send waits on an asyncio.Event), and everything queued arrives once it
    drains, nothing dropped."""
    socket = Socket()
    connection = _connection(socket)
    socket.open.clear()
    for text in ("one", "two", "three"):
        assert connection.offer_text(text)
    await asyncio.sleep(0.01)  # the writer runs and waits on the socket
    assert connection.writer is not None and not connection.writer.done()
    assert socket.received == []
    socket.open.set()
    await connection.writer
    assert socket.received == ["one", "two", "three"]
    assert connection.offer_text("four")
    assert socket.received == ["one", "two", "three", "four"]


async def test_a_connection_that_cannot_keep_up_is_refused_more() -> None:
    socket = Socket()
    connection = _connection(socket)
    socket.open.clear()
    offered = [connection.offer_text(str(n)) for n in range(QUEUE_LIMIT + 2)]
    assert offered[: QUEUE_LIMIT + 1] == [True] * (QUEUE_LIMIT + 1)
    assert offered[-1] is False


async def test_a_socket_gone_mid_send_drops_its_queue_without_raising() -> None:
    socket = Socket()
    connection = _connection(socket)
    socket.open.clear()
    connection.offer_text("one")
    connection.offer_text("two")
    socket.gone = True
    socket.open.set()
    assert connection.writer is not None
    await connection.writer
    assert socket.received == []
    assert not connection.pending


async def test_a_closed_socket_fails_an_immediate_send_quietly() -> None:
    socket = Socket()
    socket.gone = True
    connection = _connection(socket)
    assert connection.offer_text("one")
    assert socket.received == []


async def test_unregistering_cancels_a_waiting_send() -> None:
    socket = Socket()
    connection = _connection(socket)
    socket.open.clear()
    connection.offer_text("one")
    writer = connection.writer
    assert writer is not None
    writer.cancel()
    await asyncio.sleep(0)
    assert writer.cancelled()
    socket.open.set()
    await asyncio.sleep(0)
    assert socket.received == []
