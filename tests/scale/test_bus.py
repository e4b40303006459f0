"""The Redis bus between two workers (two services and hubs in one process, one real
PostgreSQL schema, a private redis-server): notices, and what happens when Redis goes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.session import make_sessionmaker
from app.engine import commands as c
from app.realtime.bus import CHANNEL, RedisBus, parse_notice, redis_url_problem, safe_redis_url
from app.realtime.hub import Connection, Hub
from app.realtime.visibility import FACILITATOR_VIEW
from app.services.drills import DrillService, new_drill_id
from tests.live import FIXTURES
from tests.scale.cluster import RedisServer, private_redis, wait_until

MINI = (FIXTURES / "mini.yaml").read_text()
QUIET = 0.5
"""How long a test waits to see that nothing arrives."""


@dataclass
class Node:
    """One worker: its own service (and state cache), hub and bus."""

    service: DrillService
    hub: Hub
    bus: RedisBus


def node(engine: AsyncEngine, redis_url: str) -> Node:
    service = DrillService(make_sessionmaker(engine), sqlite=False)
    hub = Hub(service)
    # No periodic sweep during the test: only notices, and the sweep after a reconnect.
    bus = RedisBus(redis_url, hub, service, sweep_seconds=3600)
    service.listeners += [hub.publish, bus.publish]
    return Node(service, hub, bus)


class Tab:
    """A facilitator's connection to one worker's hub, recording the events it gets."""

    def __init__(self, drill_id: str) -> None:
        self.seqs: list[int] = []
        self.connection = Connection(drill_id, FACILITATOR_VIEW, self.send, self.close)

    async def send(self, text: str) -> None:
        message = json.loads(text)
        if message["type"] == "event":
            self.seqs.append(int(message["event"]["seq"]))

    async def close(self, code: int, reason: str) -> None:
        raise AssertionError(f"closed: {code} {reason}")


async def subscribers(redis: RedisServer) -> int:
    client = Redis.from_url(redis.url)
    try:
        counts = await client.pubsub_numsub(CHANNEL)
    finally:
        await client.aclose()
    return int(counts[0][1])


async def until_subscribed(redis: RedisServer, count: int) -> None:
    for _ in range(500):
        if await subscribers(redis) == count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} workers never subscribed")


@pytest.fixture
async def redis() -> AsyncIterator[RedisServer]:
    async with private_redis() as server:
        yield server


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_a_worker_that_loses_redis_reconnects_and_catches_up(
    engine: AsyncEngine, redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = node(engine, redis.url), node(engine, redis.url)
    drill_id = await a.service.create_drill(MINI, "mini.yaml", c.CreateDrill(new_drill_id(), "D"))
    await a.service.execute(drill_id, c.StartClock())
    tab = Tab(drill_id)

    async def snapshot() -> dict[str, Any]:
        _, state = await b.service.state(drill_id)
        return {"type": "snapshot", "last_seq": state.seq}

    await b.hub.attach(tab.connection, snapshot)
    await a.bus.start()
    await b.bus.start()
    try:
        await until_subscribed(redis, 2)
        before = await a.service.execute(drill_id, c.AddNote("before"))
        await wait_until(lambda: before.last_seq in tab.seqs, 5, "the notice")

        with caplog.at_level(logging.WARNING, "tabletop.bus"):
            redis.stop()
            # Committed and acknowledged although Redis is gone; the notice is lost.
            during = await a.service.execute(drill_id, c.AddNote("during"))
            await asyncio.sleep(QUIET)
            assert during.last_seq not in tab.seqs
            await redis.start()  # same port: the subscriber reconnects and sweeps
            await wait_until(lambda: during.last_seq in tab.seqs, 10, "the catch-up sweep")
            await until_subscribed(redis, 2)
            after = await a.service.execute(drill_id, c.AddNote("after"))
            await wait_until(lambda: after.last_seq in tab.seqs, 5, "notices again")

        assert tab.seqs == sorted(set(tab.seqs))  # nothing twice, in order
        messages = [r.getMessage() for r in caplog.records if r.name == "tabletop.bus"]
        # One warning per worker for the whole outage, however many reconnects it took.
        assert sum("is unreachable" in m for m in messages) == 2, messages
        assert sum("answers again" in m for m in messages) == 2, messages
    finally:
        await a.bus.stop()
        await b.bus.stop()
        b.hub.unregister(tab.connection)


def test_notices_are_small_and_anything_else_on_the_channel_is_ignored() -> None:
    assert parse_notice(b"3f2c 17") == ("3f2c", 17)
    for junk in (b"", b"3f2c", b"3f2c -1", b"3f2c seventeen", b" 17", b"x" * 65 + b" 1"):
        assert parse_notice(junk) is None
    assert safe_redis_url("redis://:s3cret@cache:6379/0") == "redis://cache:6379/0"


def test_a_url_that_is_not_redis_is_refused_with_an_example() -> None:
    for url in ("redis://cache:6379/0", "rediss://cache:6380", "unix:///run/redis.sock"):
        assert redis_url_problem(url) is None
    problem = redis_url_problem("cache:6379")
    assert problem is not None and "e.g. redis://127.0.0.1:6379/0" in problem
