"""Installable anywhere: the wheel carries the templates, static files, migrations and the
shipped scenario library, so `pip install .` (or pipx, or an image) runs Tabletop from an
empty folder. Builds the wheel, installs it into a fresh venv, and uses it as a new user
would: list the library, serve (migrated, healthy, a drill created from a built-in
scenario over the API), validate a file of their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from app.authoring.loader import scenario_files
from tests.live import free_port

ROOT = Path(__file__).parents[2]
PASSWORD = "a wheel facilitator password"


def test_every_package_of_the_app_is_in_the_wheel() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "app").rglob("__init__.py")
    }
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; its bin folder."""
    work = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "--quiet", "--no-deps", "-w", str(work), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = work.glob("tabletop-*.whl")
    # A venv as `python -m venv` makes one, filled by this suite's pip (`--python`): the
    # same packages a user's `pip install` puts there, without a second pip to bootstrap
    # or byte-compiling every dependency first (Python compiles on first import anyway).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(work / "venv")], check=True)
    bin_dir = work / "venv" / "bin"
    subprocess.run(
        [
            *pip,
            "--python",
            str(bin_dir / "python"),
            "install",
            "--quiet",
            "--no-compile",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return bin_dir


def _empty_folder(tmp_path: Path) -> dict[str, str]:
    """Run as a new user would: in an empty folder, no TABLETOP_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TABLETOP_")}


def test_the_library_ships_inside_the_wheel(installed: Path, tmp_path: Path) -> None:
    listed = subprocess.run(
        [str(installed / "tabletop"), "scenarios", "list", "--json"],
        cwd=tmp_path,
        env=_empty_folder(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    library = json.loads(listed.stdout)
    assert Path(library["dir"]).parts[-3:] == ("app", "_data", "scenarios")
    ids = {entry["id"] for entry in library["scenarios"]}
    shipped = {path.stem for path in scenario_files([ROOT / "scenarios"])}
    assert ids == shipped and len(ids) >= 8  # the library's minimum


def test_the_regimes_ship_inside_the_wheel(installed: Path, tmp_path: Path) -> None:
    listed = subprocess.run(
        [str(installed / "tabletop"), "regimes", "list", "--json"],
        cwd=tmp_path,
        env=_empty_folder(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    ids = {regime["id"] for regime in json.loads(listed.stdout)}
    shipped = {path.stem for path in (ROOT / "app" / "regimes" / "data").glob("*.yaml")}
    assert ids == shipped and {"gdpr", "nis2", "dora", "sec_8k", "hipaa", "nydfs", "cra"} <= ids


def test_validate_works_on_a_file_in_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    env = _empty_folder(tmp_path)
    tabletop = str(installed / "tabletop")
    subprocess.run([tabletop, "new", "night-shift"], cwd=tmp_path, env=env, check=True)
    checked = subprocess.run(
        [tabletop, "validate", "--strict", "scenarios/night-shift.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_serve_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    env = _empty_folder(tmp_path)
    tabletop = str(installed / "tabletop")
    subprocess.run(
        [tabletop, "user", "create", "fac", "--password-stdin"],
        input=PASSWORD,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [tabletop, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
            time.sleep(0.2)
        assert httpx.get(f"{url}/readyz").status_code == 200  # migrated and reachable
        assert httpx.get(f"{url}/join").status_code == 200  # templates found
        assert httpx.get(f"{url}/static/app.css").status_code == 200
        # The first drill loads and checks the scenario library: on two cores shared with
        # the rest of the suite that took more than httpx's 5 s default once in CI.
        with httpx.Client(base_url=url, headers={"Origin": url}, timeout=60) as client:
            signed = client.post("/api/session", json={"username": "fac", "password": PASSWORD})
            assert signed.status_code == 200, signed.text
            created = client.post(
                "/api/drills",
                json={"scenario": "ransomware-holiday-weekend.yaml", "name": "From the wheel"},
            )
            assert created.status_code == 201, created.text
    finally:
        server.terminate()
        server.wait(10)
    assert (tmp_path / ".tabletop" / "tabletop.db").exists()
