"""The sign-in and join-code limits with several workers: counted once, in Redis.

Two real `tabletop serve` processes on one PostgreSQL database and one private Redis: wrong
join codes and wrong passwords spread over both are refused after the limit IN TOTAL (20
and 10), not per worker. Then the Redis limiter on its own against a private redis-server:
its window, its keys and their expiry, retry_after, atomicity across instances, and what
it does when Redis goes away (counts in the process, warns once, never fails the request).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.web.limits import (
    JOIN_LIMIT,
    KEY_PREFIX,
    LOGIN_LIMIT,
    RETRY_REDIS_SECONDS,
    RedisLimiter,
    make_limits,
    redis_client,
)
from tests.live import PASSWORD
from tests.scale.cluster import (
    RedisServer,
    create_drill,
    http,
    private_redis,
    two_workers,
)

ANOTHER_CLIENT = {"X-Forwarded-For": "198.51.100.23"}
"""uvicorn trusts X-Forwarded-For from 127.0.0.1 (a local reverse proxy): another address."""
FACILITATOR_DESK = {"X-Forwarded-For": "192.0.2.44"}
RIGHT = {"username": "fac", "password": PASSWORD}


# --------------------------------------------------------------------------- two workers


async def test_two_workers_share_the_join_code_and_sign_in_limits(tmp_path: Path) -> None:
    async with two_workers(tmp_path) as cluster:
        a, b = cluster.a, cluster.b
        redis = cluster.redis
        on_a, on_b = http(a), http(b)
        # The facilitator signs in from elsewhere: every attempt counts, right or wrong.
        facilitator = http(a)
        facilitator.headers.update(FACILITATOR_DESK)
        signed = await facilitator.post("/api/session", json=RIGHT)
        assert signed.status_code == 200, signed.text
        drill = await create_drill(facilitator, speed=1)

        # Wrong join codes, alternating between the workers: 20 in total, then 429 on
        # both, for every way of trying a code.
        guesses = []
        for n in range(JOIN_LIMIT + 2):
            client = on_a if n % 2 == 0 else on_b
            wrong = {"code": f"ZZZZZ-ZZZ{n:02d}", "name": "Guess", "role": None}
            guesses.append((await client.post("/api/join", json=wrong)).status_code)
        assert guesses == [404] * JOIN_LIMIT + [429, 429]
        for client in (on_a, on_b):
            assert (await client.get("/api/join/ZZZZZ-ZZZZZ")).status_code == 429
            assert (await client.get(f"/join/{drill['join_code']}")).status_code == 429
        # Another address is not affected, on either worker.
        for client in (on_a, on_b):
            info = await client.get(f"/api/join/{drill['join_code']}", headers=ANOTHER_CLIENT)
            assert info.status_code == 200, info.text

        # A burst from a third address, all at once over both workers: still 20.
        burst = await asyncio.gather(
            *(
                (on_a if n % 2 else on_b).get(
                    f"/api/join/ZZZZZ-Z{n:04d}", headers={"X-Forwarded-For": "192.0.2.77"}
                )
                for n in range(60)
            )
        )
        assert sorted(r.status_code for r in burst) == [404] * JOIN_LIMIT + [429] * 40

        # Wrong passwords, alternating: 10 in total, then 429 even for the right one, from
        # any address (counted per account), while another account signs in.
        tries = []
        for n in range(LOGIN_LIMIT + 2):
            client = on_a if n % 2 == 0 else on_b
            wrong = {"username": "fac", "password": f"guess {n}"}
            tries.append((await client.post("/api/session", json=wrong)).status_code)
        assert tries == [401] * LOGIN_LIMIT + [429, 429]
        for client in (on_a, on_b):
            assert (await client.post("/api/session", json=RIGHT)).status_code == 429
            elsewhere = await client.post("/api/session", json=RIGHT, headers=ANOTHER_CLIENT)
            assert elsewhere.status_code == 429, elsewhere.text
            assert int(elsewhere.headers["retry-after"]) > 0

        # The counts live in Redis, under the limiter's names, and expire.
        keys = await _keys(redis)
        assert f"{KEY_PREFIX}:join:127.0.0.1" in keys
        assert f"{KEY_PREFIX}:login:fac" in keys
        assert f"{KEY_PREFIX}:login_address:127.0.0.1" in keys
        assert all(ttl > 0 for ttl in keys.values()), keys

        # Redis gone: sign-in is neither a 500 nor locked for everyone. Each worker
        # counts in its own memory (fail-open) and says so in its log.
        redis.stop()
        for client, worker in ((on_a, a), (on_b, b)):
            answer = await client.post("/api/session", json=RIGHT)
            assert answer.status_code == 200, answer.text
            assert "the login limit is counted per worker" in worker.output()
        for client in (on_a, on_b, facilitator):
            await client.aclose()


async def _keys(redis: RedisServer) -> dict[str, int]:
    """The limiter's keys in Redis, with their time to live in ms."""
    client = Redis.from_url(redis.url, decode_responses=True)
    try:
        return {k: await client.pttl(k) async for k in client.scan_iter(f"{KEY_PREFIX}:*")}
    finally:
        await client.aclose()


# --------------------------------------------------------------------------- the limiter


@pytest.fixture
async def redis() -> AsyncIterator[RedisServer]:
    async with private_redis() as server:
        yield server


@pytest.fixture
async def client(redis: RedisServer) -> AsyncIterator[Redis]:
    found = redis_client(redis.url)
    yield found
    await found.aclose()


async def test_the_window_slides_and_says_when_to_come_back(client: Redis) -> None:
    limiter = RedisLimiter(client, "t", limit=3, window=60)
    t0 = 1_900_000_000.0
    assert [await limiter.allow("198.51.100.7", now=t0 + s) for s in (0, 1, 2, 3)] == [
        True,
        True,
        True,
        False,
    ]
    assert await limiter.blocked("198.51.100.7", now=t0 + 3)
    assert await limiter.retry_after("198.51.100.7", now=t0 + 3) == pytest.approx(57)
    assert await limiter.allow("203.0.113.9", now=t0 + 3)  # another client is not affected
    assert await limiter.retry_after("203.0.113.9", now=t0 + 3) == 0
    # The first attempt leaves the window at t0 + 60; the second at t0 + 61.
    assert await limiter.blocked("198.51.100.7", now=t0 + 59.9)
    assert not await limiter.blocked("198.51.100.7", now=t0 + 60)
    assert await limiter.allow("198.51.100.7", now=t0 + 60)
    assert not await limiter.allow("198.51.100.7", now=t0 + 60.5)
    assert await limiter.retry_after("198.51.100.7", now=t0 + 60.5) == pytest.approx(0.5)
    # A right join code takes back its count: the latest attempt.
    await limiter.forget("198.51.100.7")
    assert not await limiter.blocked("198.51.100.7", now=t0 + 60.5)
    assert await client.zcard(f"{KEY_PREFIX}:t:198.51.100.7") == 2


async def test_keys_are_namespaced_bounded_and_expire(client: Redis) -> None:
    limiter = RedisLimiter(client, "join", limit=3, window=1.0)
    for _ in range(10):  # record() counts even past the limit (the join check does this)
        await limiter.record("192.0.2.1")
    key = f"{KEY_PREFIX}:join:192.0.2.1"
    assert await client.zcard(key) == 3  # only the latest `limit` attempts are kept
    assert 0 < await client.pttl(key) <= 1000
    assert await limiter.blocked("192.0.2.1")
    wait = await limiter.retry_after("192.0.2.1")
    assert 0 < wait <= 1.0
    await _eventually(lambda: _unblocked(limiter, "192.0.2.1"), within=wait + 5)
    # Nothing stays behind once the window has passed (PEXPIRE; Redis drops the key).
    await _eventually(lambda: _gone(client, key), within=5)


async def _eventually(check: Callable[[], Awaitable[bool]], within: float) -> None:
    """Wait for `check` to hold, asking every 50 ms, failing after `within` seconds: a
    deadline, not a sleep that a slow machine can outrun."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"still not so after {within:.1f} s"
        await asyncio.sleep(0.05)


async def _unblocked(limiter: RedisLimiter, key: str) -> bool:
    return not await limiter.blocked(key)


async def _gone(client: Redis, key: str) -> bool:
    return not await client.exists(key)


async def test_workers_share_one_count_and_a_burst_gets_exactly_the_limit(
    redis: RedisServer, client: Redis
) -> None:
    """Two limiters with their own connections to one Redis stand for two workers:
    whichever is asked, the total counts, and check-and-count is atomic (a burst of
    concurrent attempts through both gets exactly `limit` through)."""
    a = RedisLimiter(client, "login", limit=10, window=300)
    b = RedisLimiter(redis_client(redis.url), "login", limit=10, window=300)
    try:
        answers = await asyncio.gather(
            *((a if n % 2 else b).allow("203.0.113.5:fac") for n in range(50))
        )
        assert answers.count(True) == 10
        assert await a.blocked("203.0.113.5:fac") and await b.blocked("203.0.113.5:fac")
        assert not await b.blocked("203.0.113.5:lee")
    finally:
        await b.client.aclose()


async def test_without_redis_it_counts_in_the_process_and_warns_once(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    limits = make_limits(redis.url)
    login = limits.login
    assert isinstance(login, RedisLimiter)
    try:
        assert await login.allow("192.0.2.9:fac")
        with caplog.at_level(logging.WARNING, "tabletop.limits"):
            redis.stop()
            # Fail-open to this process's own window: the limit still holds per worker.
            answers = [await login.allow("192.0.2.9:fac") for _ in range(LOGIN_LIMIT + 1)]
            assert answers == [True] * LOGIN_LIMIT + [False]
            assert await login.retry_after("192.0.2.9:fac") > 0
            await redis.start()
            # The limiter tries Redis again RETRY_REDIS_SECONDS after the outage; until
            # then it answers from this process's window, which is full.
            await _eventually(lambda: login.allow("192.0.2.9:fac"), within=RETRY_REDIS_SECONDS + 5)
            # Back on Redis, which still holds the one attempt from before the outage.
            keys = await _keys(redis)
            assert list(keys) == [f"{KEY_PREFIX}:login:192.0.2.9:fac"]
        messages = [r.getMessage() for r in caplog.records if r.name == "tabletop.limits"]
        assert sum("is unreachable" in m for m in messages) == 1, messages
        assert sum("answers again" in m for m in messages) == 1, messages
        assert all("redis://" in m and "@" not in m for m in messages)
    finally:
        await limits.aclose()


def test_without_a_redis_url_the_limits_are_per_process() -> None:
    limits = make_limits("")
    assert limits.client is None
    assert not isinstance(limits.join, RedisLimiter)
    with pytest.raises(ValueError, match="redis://"):
        make_limits("cache:6379")
