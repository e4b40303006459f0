"""Secrets: long enough, hashed, never guessable from what is shown."""

from __future__ import annotations

import math
import os
import subprocess
import sys

from app.services.security import (
    FAST_HASHES_FOR_TESTS,
    JOIN_ALPHABET,
    JOIN_CODE_LENGTH,
    SlidingWindowLimiter,
    format_join_code,
    hash_password,
    join_code_for,
    new_token,
    normalise_join_code,
    token_hash,
    verify_password,
)


def test_tokens_carry_at_least_128_bits_and_only_their_hash_is_kept() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    token = tokens.pop()
    assert len(token) * 6 >= 128  # URL-safe base64: six bits a character
    assert token not in token_hash(token) and len(token_hash(token)) == 64


def test_passwords_are_argon2_hashed_and_verified() -> None:
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2")
    assert verify_password(stored, "correct horse battery staple")
    assert not verify_password(stored, "Correct horse battery staple")
    assert not verify_password("not-a-hash", "anything")


def test_join_codes_have_40_bits_without_look_alike_characters() -> None:
    assert JOIN_CODE_LENGTH * math.log2(len(JOIN_ALPHABET)) >= 40
    assert not set("01OILU") & set(JOIN_ALPHABET)
    code = join_code_for("secret", "drill-1")
    assert len(code) == JOIN_CODE_LENGTH and set(code) <= set(JOIN_ALPHABET)
    assert join_code_for("secret", "drill-1") == code  # derived, so never stored
    assert join_code_for("other secret", "drill-1") != code
    assert join_code_for("secret", "drill-2") != code


def test_a_typed_join_code_is_forgiving_about_case_and_separators() -> None:
    code = join_code_for("secret", "drill-1")
    typed = f" {format_join_code(code).lower()} "
    assert normalise_join_code(typed) == code


def test_the_limiter_refuses_past_the_limit_and_forgets_after_the_window() -> None:
    limiter = SlidingWindowLimiter(limit=3, window=60)
    assert [limiter.allow("198.51.100.7", now=t) for t in (0, 1, 2, 3)] == [True] * 3 + [False]
    assert limiter.allow("203.0.113.9", now=3)  # another client is not affected
    assert 0 < limiter.retry_after("198.51.100.7", now=3) <= 60
    assert limiter.allow("198.51.100.7", now=61)


def _hash_in_a_fresh_process(env: dict[str, str]) -> str:
    script = "from app.services.security import hash_password; print(hash_password('pw'))"
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_a_real_server_hashes_passwords_at_full_cost_and_only_the_suite_goes_cheap() -> None:
    """The suite sets TABLETOP_INSECURE_FAST_PASSWORD_HASHES (tests/__init__.py); without
    it, as on any real server, hashes use RFC 9106's low-memory profile (64 MiB, 3 passes)."""
    plain = {k: v for k, v in os.environ.items() if not k.startswith("TABLETOP_")}
    assert "$m=65536,t=3,p=4$" in _hash_in_a_fresh_process(plain)
    cheap = _hash_in_a_fresh_process(plain | {FAST_HASHES_FOR_TESTS: "1"})
    assert "$m=8,t=1,p=1$" in cheap
    assert verify_password(cheap, "pw")  # a hash carries its parameters: any hasher verifies
