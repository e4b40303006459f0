"""`tabletop token create | list | revoke`, run as an operator would, against a real server
started on the same database: the printed secret works, the list never shows it, and a
revoked token stops working at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.live import FIXTURES, PASSWORD, running_server

TABLETOP = str(Path(sys.executable).with_name("tabletop"))


def _tabletop(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "TABLETOP_DATA_DIR": str(data_dir),
        "TABLETOP_SCENARIOS_DIR": str(FIXTURES),
        "TABLETOP_SECRET_KEY": "test-secret",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [TABLETOP, *args], env=env, capture_output=True, text=True, check=False, timeout=120
    )


def test_an_operator_makes_lists_and_revokes_a_token(tmp_path: Path) -> None:
    with running_server(tmp_path) as live:  # its SQLite file in tmp_path, with account "fac"
        made = _tabletop(tmp_path, "token", "create", "ci-bot", "--user", "fac")
        assert made.returncode == 0, made.stderr
        secret = made.stdout.strip()
        assert secret.startswith("tt_") and len(secret) > 40
        assert "shown only now" in made.stderr
        bearer = {"Authorization": f"Bearer {secret}"}
        with httpx.Client(base_url=live.url, headers=bearer) as http:
            body = {"scenario": "mini.yaml", "name": "By token"}
            assert http.post("/api/drills", json=body).status_code == 201

            listed = _tabletop(tmp_path, "token", "list")
            assert listed.returncode == 0, listed.stderr
            assert "ci-bot\tfac\t" in listed.stdout and "active" in listed.stdout
            assert secret not in listed.stdout

            again = _tabletop(tmp_path, "token", "create", "ci-bot", "--user", "fac")
            assert again.returncode == 1 and "already a token called 'ci-bot'" in again.stderr
            nobody = _tabletop(tmp_path, "token", "create", "other", "--user", "nobody")
            assert nobody.returncode == 1 and "no user called 'nobody'" in nobody.stderr

            revoked = _tabletop(tmp_path, "token", "revoke", "ci-bot")
            assert revoked.returncode == 0, revoked.stderr
            assert http.post("/api/drills", json=body).status_code == 401
            assert "revoked" in _tabletop(tmp_path, "token", "list").stdout
            twice = _tabletop(tmp_path, "token", "revoke", "ci-bot")
            assert twice.returncode == 1 and "no active token" in twice.stderr


def test_an_operator_lists_disables_and_enables_accounts(tmp_path: Path) -> None:
    with (
        running_server(tmp_path) as live,
        httpx.Client(base_url=live.url, headers={"Origin": live.origin}) as http,
    ):
        signed = {"username": "fac", "password": PASSWORD}
        assert http.post("/api/session", json=signed).status_code == 200
        made = _tabletop(tmp_path, "user", "create", "ada", "--role", "admin", "--password-stdin")
        assert made.returncode == 1 and "at least 10 characters" in made.stderr  # empty stdin
        listed = _tabletop(tmp_path, "user", "list")
        assert listed.returncode == 0 and listed.stdout == "fac\tfacilitator\tactive\n"
        off = _tabletop(tmp_path, "user", "disable", "fac")
        assert off.returncode == 0 and "'fac' is disabled" in off.stdout
        assert "fac\tfacilitator\tdisabled" in _tabletop(tmp_path, "user", "list").stdout
        assert http.get("/api/scenarios").status_code == 401  # its session ended
        assert http.post("/api/session", json=signed).status_code == 403
        on = _tabletop(tmp_path, "user", "enable", "fac")
        assert on.returncode == 0
        assert http.post("/api/session", json=signed).status_code == 200
        nobody = _tabletop(tmp_path, "user", "disable", "nobody")
        assert nobody.returncode == 1 and "no user called 'nobody'" in nobody.stderr
