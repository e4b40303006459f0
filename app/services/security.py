"""Secrets: random, at least 128 bits, stored only as hashes; passwords with argon2."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# Crockford-style alphabet without look-alikes (no 0/O, 1/I/L, U): 30 symbols, ~4.9 bits each.
JOIN_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
JOIN_CODE_LENGTH = 10  # 10 x log2(30) = 49 bits

FAST_HASHES_FOR_TESTS = "TABLETOP_INSECURE_FAST_PASSWORD_HASHES"
"""Set to 1 only by test suites: argon2 at its cheapest (one pass over 8 KiB). A suite
signs in hundreds of times and needs none of the cost; a real server must never set it."""


def _password_hasher() -> PasswordHasher:
    """argon2-cffi's defaults (RFC 9106's low-memory profile: 3 passes over 64 MiB), or the
    cheapest parameters for a test suite. A stored hash carries its own parameters, so
    either hasher verifies any hash."""
    if os.environ.get(FAST_HASHES_FOR_TESTS) == "1":
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()


_hasher = _password_hasher()


def new_token() -> str:
    """A bearer secret: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class PasswordChecks:
    """argon2 off the event loop, a bounded number at a time.

    One check costs ~130 ms of CPU on purpose. Run on the event loop, 15 concurrent
    sign-ins stalled every other request and websocket of the worker (/healthz went from
    2 ms to 630 ms). Here each runs in a thread (argon2 releases the GIL), at most one per
    core at once: a burst of sign-ins queues behind the semaphore, holding no CPU, while
    the loop keeps serving drills."""

    def __init__(self, concurrency: int | None = None) -> None:
        self.concurrency = concurrency or max(1, os.cpu_count() or 1)
        self._slots = asyncio.Semaphore(self.concurrency)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(hash_password, password)

    async def verify(self, stored_hash: str, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(verify_password, stored_hash, password)


def join_code_for(secret_key: str, drill_id: str, purpose: str = "join") -> str:
    """The drill's join code, derived (never stored): HMAC of the drill id. `purpose`
    "white-cell" gives the other code, for those who play the outside parties."""
    message = f"{purpose}:{drill_id}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    symbols = []
    for _ in range(JOIN_CODE_LENGTH):
        number, index = divmod(number, len(JOIN_ALPHABET))
        symbols.append(JOIN_ALPHABET[index])
    return "".join(symbols)


def normalise_join_code(raw: str) -> str:
    """What people type: any case, with spaces or a dash in the middle."""
    return "".join(ch for ch in raw.upper() if ch not in "- \t")


def format_join_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(slots=True)
class SlidingWindowLimiter:
    """At most `limit` attempts per `window` seconds per key (e.g. client address), counted
    in this process. app.web.limits wraps it (and shares the counts through Redis when there
    are several workers)."""

    limit: int
    window: float
    _hits: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, key: str, now: float | None = None) -> bool:
        """Count an attempt; False (and not counted) once the key has used its window."""
        if self.blocked(key, now):
            return False
        self.record(key, now)
        return True

    def blocked(self, key: str, now: float | None = None) -> bool:
        """The key has used up its window (checking does not count as an attempt)."""
        return len(self._live(key, now)) >= self.limit

    def record(self, key: str, now: float | None = None) -> None:
        """Count one attempt against the key. Only the latest `limit` are kept: the key is
        blocked until the oldest of them leaves the window, whatever came before it."""
        now = time.monotonic() if now is None else now
        self._hits.setdefault(key, deque(maxlen=self.limit)).append(now)
        if len(self._hits) > 10_000:  # forget idle keys so memory stays bounded
            self._hits = {k: v for k, v in self._hits.items() if self._live(k, now)}

    def forget(self, key: str) -> None:
        """Take back the key's latest attempt: it turned out not to count."""
        hits = self._hits.get(key)
        if hits:
            hits.pop()

    def retry_after(self, key: str, now: float | None = None) -> float:
        """Seconds until the key may try again (0 when it may now)."""
        now = time.monotonic() if now is None else now
        hits = self._live(key, now)
        if len(hits) < self.limit:
            return 0.0
        return max(0.0, hits[0] + self.window - now)

    def _live(self, key: str, now: float | None) -> deque[float]:
        """The key's attempts still inside the window (older ones dropped)."""
        now = time.monotonic() if now is None else now
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits
