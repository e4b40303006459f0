"""Settings from TABLETOP_* environment variables (and a .env file, if present)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.resources import resource_dir

DEFAULT_DATA_DIR = Path(".tabletop")


def _default_scenarios_dir() -> Path:
    local = Path("scenarios")
    return local if local.is_dir() else resource_dir("scenarios")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TABLETOP_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="Where the embedded database and the generated secret key live.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL. Empty: a SQLite file in the data folder. "
        "Production: postgresql+asyncpg://user:password@host/db",
    )
    secret_key: str = Field(
        default="",
        description="Signs sessions. Empty: generated on first run and kept in the data folder.",
    )
    scenarios_dir: Path = Field(
        default_factory=lambda: _default_scenarios_dir(),
        description="The scenario library served to facilitators. Default: ./scenarios when "
        "that folder exists, else the library shipped with Tabletop.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Extra origins allowed to open websockets (behind a proxy with another "
        "host name), e.g. https://drills.example.org. The server's own host is always allowed.",
    )
    public_url: str = Field(
        default="",
        description="The address participants' devices reach this server at, e.g. "
        "http://192.168.1.20:8000 or https://drills.example.org: the console's join link "
        "and QR code use it. Empty: the address the console was opened at.",
    )
    drill_interval_months: int = Field(
        default=6,
        ge=1,
        le=24,
        description="How often the team drills: the next drill is due this long after the last.",
    )
    session_hours: float = Field(
        default=12,
        gt=0,
        le=24 * 30,
        description="A signed-in session's absolute lifetime: sign in again after this long.",
    )
    session_idle_minutes: float = Field(
        default=120,
        gt=0,
        description="A session with no page, API call or websocket command for this long "
        "ends (a console left open and untouched, a forgotten browser).",
    )
    participant_hours_after_end: float = Field(
        default=12,
        ge=0,
        description="How long participants' join tokens keep working after their drill "
        "ends (the hot wash, the released scores); then they stop.",
    )
    api_docs: bool = Field(
        default=True,
        description="Serve the interactive API documentation (/docs, /redoc) and "
        "/openapi.json. Production servers that do not want to advertise their API: false.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="The host names this server answers to, as a JSON list, e.g. "
        '["drills.example.org"] (a leading "*." allows subdomains). Empty: any. Set in '
        "production: a request naming another Host gets 400, so links built from the "
        "Host header (the console's join link and QR code) never point elsewhere.",
    )
    trusted_proxies: str = Field(
        default="",
        description="The addresses of the TLS proxies in front of this server, comma "
        "separated (IPs or networks, e.g. 10.0.0.5,10.1.0.0/16; * for any): their "
        "X-Forwarded-Proto and X-Forwarded-For are believed, so cookies are Secure and "
        "__Host- prefixed, the Origin check expects https, and throttles count real client "
        "addresses. Empty: uvicorn's FORWARDED_ALLOW_IPS, or loopback only.",
    )
    max_body_mib: float = Field(
        default=4,
        gt=0,
        description="The largest request body accepted, in MiB (a scenario upload is at "
        "most 2 MiB); larger ones are refused with 413 before they are read.",
    )
    sqlite_busy_timeout_ms: int = 5000
    tick_seconds: float = Field(default=0.25, gt=0, description="How often drill clocks tick.")
    redis_url: str = Field(
        default="",
        description="Redis for several workers or hosts, e.g. redis://127.0.0.1:6379/0: each "
        "commit's (drill, seq) notice goes out on pub/sub so every worker's websockets get "
        "the new events (always read from the database). Empty: one process, no Redis.",
    )
    clock_worker_id: str = Field(
        default="",
        max_length=64,
        description="The name this process's clock holds drill leases under. Empty: a new "
        "one at every start (with several workers, each its own). `tabletop serve` with one "
        "worker sets it from the host name and port, the same after a restart, so a "
        "restarted server takes its own drills' clocks back at once instead of waiting for "
        "its old leases to lapse. Never give two live processes the same one.",
    )
    clock_lease_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long a worker holds a drill's clock without renewing it; after a "
        "worker dies, another takes its drills' clocks over within about this long.",
    )

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"TABLETOP_PUBLIC_URL must be an http or https address such as "
                f"http://192.168.1.20:8000, not {value!r}"
            )
        return value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'tabletop.db').as_posix()}"

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept (mode 0600) beside the data."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(key)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
