"""Attempt limits (wrong join codes, sign-in attempts), per process or shared through Redis.

One process keeps its counts in memory (`MemoryLimiter`). Several workers share them in
Redis (`RedisLimiter`), or N workers would allow N times the guesses. Both offer the same
operations through the `Limiter` protocol (allow, blocked, record, forget, retry_after),
asynchronously since Redis is a network call.

The Redis limiter is a sliding window over a sorted set per key rather than a fixed window
of INCR + EXPIRE: a fixed window lets an attacker spend the whole limit at the end of one
window and again at the start of the next, twice the limit in a moment, and it cannot say
exactly when the key frees up. The sorted set holds at most `limit` timestamps per key
(older ones are trimmed, which changes neither `blocked` nor `retry_after`), so it costs
the same memory as the in-memory deque, and each key expires (PEXPIRE) one window after
its last attempt: nothing grows forever. Each operation is one Lua script, so check and
count are atomic across workers. Timestamps are the workers' wall clocks: a skew of a
second between hosts moves when one attempt expires by a second, nothing more.

Keys: `tabletop:limit:<name>:<key>`, e.g. `tabletop:limit:join:203.0.113.9`.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.realtime.bus import REDIS_ERRORS, redis_url_problem, safe_redis_url
from app.services.security import SlidingWindowLimiter

log = logging.getLogger("tabletop.limits")
KEY_PREFIX = "tabletop:limit"
REDIS_TIMEOUT = 0.5
"""How long a sign-in waits for Redis before counting in this process instead."""
RETRY_REDIS_SECONDS = 1.0
"""After Redis failed, how long to count in this process before asking Redis again."""

# Guessing a 49-bit join code: 20 wrong codes a minute per address. Sign-in: 10 attempts
# per 5 minutes per account, whatever the address (a botnet gets no more guesses at one
# password than one machine), and 30 per address, whatever the names (fresh names from
# one address are throttled too). A successful sign-in takes its attempt back.
JOIN_LIMIT, JOIN_WINDOW = 20, 60.0
LOGIN_LIMIT, LOGIN_WINDOW = 10, 300.0
LOGIN_ADDRESS_LIMIT = 30


class Limiter(Protocol):
    """At most `limit` attempts per `window` seconds per key (e.g. a client address)."""

    async def allow(self, key: str) -> bool:
        """Count an attempt; False (and not counted) once the key has used its window."""
        ...

    async def blocked(self, key: str) -> bool:
        """The key has used up its window (checking does not count as an attempt)."""
        ...

    async def record(self, key: str) -> None:
        """Count one attempt against the key."""
        ...

    async def forget(self, key: str) -> None:
        """Take back the key's latest attempt: it turned out not to count (a right join
        code, counted before it was looked up so that concurrent guesses cannot all slip
        in under the limit)."""
        ...

    async def retry_after(self, key: str) -> float:
        """Seconds until the key may try again (0 when it may now)."""
        ...


@dataclass(slots=True)
class MemoryLimiter:
    """This process's counts: right for one worker, and Redis's stand-in when it is down."""

    window: SlidingWindowLimiter

    @classmethod
    def of(cls, limit: int, window: float) -> MemoryLimiter:
        return cls(SlidingWindowLimiter(limit=limit, window=window))

    async def allow(self, key: str) -> bool:
        return self.window.allow(key)

    async def blocked(self, key: str) -> bool:
        return self.window.blocked(key)

    async def record(self, key: str) -> None:
        self.window.record(key)

    async def forget(self, key: str) -> None:
        self.window.forget(key)

    async def retry_after(self, key: str) -> float:
        return self.window.retry_after(key)


# One script for every operation: drop what left the window, then answer or count.
# ARGV: now, window (s), limit, operation, a unique member for a new attempt.
# Floats go back as strings (Lua numbers become Redis integers).
_WINDOW_SCRIPT = """
local key = KEYS[1]
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local operation = ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if operation == 'blocked' then
  return count >= limit and 1 or 0
end
if operation == 'forget' then
  redis.call('ZPOPMAX', key)
  return 1
end
if operation == 'retry_after' then
  if count < limit then return '0' end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tostring(math.max(0, tonumber(oldest[2]) + window - now))
end
if operation == 'allow' and count >= limit then
  return 0
end
redis.call('ZADD', key, now, ARGV[5])
redis.call('ZREMRANGEBYRANK', key, 0, -(limit + 1))
redis.call('PEXPIRE', key, math.ceil(window * 1000))
return 1
"""


class RedisLimiter:
    """The same window, shared by every worker through Redis.

    If Redis cannot be reached this FAILS OPEN to `fallback`, this process's own in-memory
    limiter, with a warning logged once per outage: a Redis outage must not lock every
    facilitator out (or turn sign-in into a 500), and counting per process still caps
    guessing at the limit per worker meanwhile. Failing closed would make any Redis blip a
    denial of service of sign-in and joining. Redis is asked again after
    RETRY_REDIS_SECONDS, so a dead Redis costs each request nothing but a local count.
    """

    def __init__(
        self,
        client: Redis,
        name: str,
        limit: int,
        window: float,
        *,
        where: str = "Redis",
    ) -> None:
        self.client = client
        self.name = name
        self.limit = limit
        self.window = window
        self.where = where
        self.fallback = MemoryLimiter.of(limit, window)
        self._script = client.register_script(_WINDOW_SCRIPT)
        self._down = False
        self._retry_at = 0.0

    def redis_key(self, key: str) -> str:
        return f"{KEY_PREFIX}:{self.name}:{key}"

    async def _run(self, key: str, operation: str, now: float | None) -> bytes | int | None:
        """The script's answer, or None when Redis is down (use the fallback)."""
        if self._down and time.monotonic() < self._retry_at:
            return None
        now = time.time() if now is None else now
        args: list[str | int] = [
            repr(now),
            repr(self.window),
            self.limit,
            operation,
            secrets.token_hex(8),
        ]
        try:
            answer: bytes | int = await self._script(keys=[self.redis_key(key)], args=args)
        except REDIS_ERRORS as exc:
            self._outage(exc)
            return None
        self._recovered()
        return answer

    async def allow(self, key: str, now: float | None = None) -> bool:
        answer = await self._run(key, "allow", now)
        return await self.fallback.allow(key) if answer is None else answer == 1

    async def blocked(self, key: str, now: float | None = None) -> bool:
        answer = await self._run(key, "blocked", now)
        return await self.fallback.blocked(key) if answer is None else answer == 1

    async def record(self, key: str, now: float | None = None) -> None:
        if await self._run(key, "record", now) is None:
            await self.fallback.record(key)

    async def forget(self, key: str) -> None:
        if await self._run(key, "forget", None) is None:
            await self.fallback.forget(key)

    async def retry_after(self, key: str, now: float | None = None) -> float:
        answer = await self._run(key, "retry_after", now)
        if answer is None:
            return await self.fallback.retry_after(key)
        return float(answer.decode() if isinstance(answer, bytes) else answer)

    def _outage(self, exc: BaseException) -> None:
        self._retry_at = time.monotonic() + RETRY_REDIS_SECONDS
        if self._down:
            return
        self._down = True
        log.warning(
            "%s is unreachable (%s); the %s limit is counted per worker until it is back",
            self.where,
            exc,
            self.name,
        )

    def _recovered(self) -> None:
        if self._down:
            self._down = False
            log.warning("%s answers again; the %s limit is shared again", self.where, self.name)


@dataclass(slots=True)
class Limits:
    """The app's limiters, and the Redis connection they share (if any)."""

    join: Limiter
    login: Limiter
    """Sign-in attempts per account."""
    login_address: Limiter
    """Sign-in attempts per client address."""
    client: Redis | None = None

    async def aclose(self) -> None:
        if self.client is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                await self.client.aclose()


def redis_client(url: str) -> Redis:
    """A client that gives up quickly: a limiter would rather count locally than wait.
    One immediate retry replaces a pooled connection that went stale (Redis restarted)."""
    return Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT,
        socket_timeout=REDIS_TIMEOUT,
        retry=Retry(NoBackoff(), 1),
    )


def make_limits(redis_url: str = "") -> Limits:
    """Shared through Redis when there is one (several workers), else per process."""
    if not redis_url:
        return Limits(
            join=MemoryLimiter.of(JOIN_LIMIT, JOIN_WINDOW),
            login=MemoryLimiter.of(LOGIN_LIMIT, LOGIN_WINDOW),
            login_address=MemoryLimiter.of(LOGIN_ADDRESS_LIMIT, LOGIN_WINDOW),
        )
    problem = redis_url_problem(redis_url)
    if problem is not None:
        raise ValueError(problem)
    client = redis_client(redis_url)
    where = f"Redis at {safe_redis_url(redis_url)}"
    return Limits(
        join=RedisLimiter(client, "join", JOIN_LIMIT, JOIN_WINDOW, where=where),
        login=RedisLimiter(client, "login", LOGIN_LIMIT, LOGIN_WINDOW, where=where),
        login_address=RedisLimiter(
            client, "login_address", LOGIN_ADDRESS_LIMIT, LOGIN_WINDOW, where=where
        ),
        client=client,
    )
