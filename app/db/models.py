"""Tables. Few on purpose: the drill log is the source of truth; nothing is updated in
place except a drill's summary columns, which are a cache of its log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON}


class ScenarioVersion(Base):
    """The exact text a drill was created from, kept forever: later edits change nothing."""

    __tablename__ = "scenarios"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scenario_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    data_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    """What `source`'s YAML holds, as JSON (`Loaded.data_json`): a restarted server
    validates it instead of parsing the YAML again. NULL where JSON cannot hold it exactly,
    and for versions stored before it was kept: then the text is parsed."""


class ScenarioAsset(Base):
    """A file of a scenario bundle (an image, a PDF, a log), kept with its version."""

    __tablename__ = "scenario_assets"
    __table_args__ = (
        UniqueConstraint("scenario_version_id", "path", name="uq_scenario_assets_path"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_version_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Drill(Base):
    __tablename__ = "drills"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    scenario_version_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"))
    status: Mapped[str] = mapped_column(String(16), index=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    join_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    white_cell_code_hash: Mapped[str | None] = mapped_column(
        String(64), unique=True, index=True, nullable=True
    )
    """The code the white cell joins with (they play the outside parties)."""
    created_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    """The facilitator's user name, for the report's overview."""
    clock_holder: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The worker whose clock ticks this drill (app/db/leases.py); None: nobody yet."""
    clock_lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    """Epoch seconds; past it, another worker may take the clock over."""


class DrillFacilitator(Base):
    """An account that may run a drill: its creator (the owner), and the co-facilitators
    the owner adds. A drill with none (made before owners, or from the shell) is open to
    every facilitator."""

    __tablename__ = "drill_facilitators"

    drill_id: Mapped[str] = mapped_column(
        ForeignKey("drills.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    added_at: Mapped[float] = mapped_column(Float)


class DrillEvent(Base):
    """The append-only log. (drill_id, seq) is unique: two writers can never both win."""

    __tablename__ = "drill_events"
    __table_args__ = (UniqueConstraint("drill_id", "seq", name="uq_drill_events_drill_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drill_id: Mapped[str] = mapped_column(ForeignKey("drills.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[float] = mapped_column(Float)
    scenario_time: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class CommandReceipt(Base):
    """A command's idempotency key, claimed in the transaction that writes its events."""

    __tablename__ = "command_receipts"
    __table_args__ = (Index("ix_command_receipts_drill", "drill_id"),)

    drill_id: Mapped[str] = mapped_column(
        ForeignKey("drills.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    first_seq: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer)
    command_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """SHA-256 of the command the key was first used for: the same key with another
    command is refused. None: a receipt written before the hash was kept (it dedupes as
    it always did)."""


class User(Base):
    """An admin, facilitator or reviewer account. Participants have no account."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    disabled_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    """Set by an admin: the account cannot sign in and its credentials stop working."""


class WebSession(Base):
    """A signed-in browser. Only the hash of its cookie is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    """The absolute end: signed in this long ago at most, whatever the activity."""
    last_seen_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    """The last request or command (to the minute): idle longer than the idle limit ends it."""


class ApiToken(Base):
    """A script's or integration's bearer token, acting as the account it was made for.
    Only its hash is stored; the secret is shown once, when it is made."""

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class SetupToken(Base):
    """A one-time link to choose a password: the first run's (no user: it creates the
    first admin) or one an admin made for an account (new, or reset)."""

    __tablename__ = "setup_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float)
    used: Mapped[bool] = mapped_column(default=False)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )


class AuditEvent(Base):
    """One line of the audit log: a sign-in, a failure, a throttle, a setup link's use or
    an account change. Written in the transaction of the change it records."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(80), nullable=True)
    """Who did it (a user name), or None: an anonymous caller, or the server's shell."""
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str] = mapped_column(String(500), default="")


class ParticipantRow(Base):
    """Someone who joined a drill with its code. Their token is stored hashed."""

    __tablename__ = "participants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    drill_id: Mapped[str] = mapped_column(ForeignKey("drills.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parties: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    """A white-cell player's outside parties, comma-separated; None for everyone else."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def played_parties(self) -> tuple[str, ...]:
        return tuple(p for p in (self.parties or "").split(",") if p)


class StoredScorecard(Base):
    """A drill's scorecard as of `last_seq`, scored by the scoring code whose digest is
    `scoring` (app/services/scorecards): the programme page reads these instead of
    loading and scoring every drill's log on each server's first view. Never the truth,
    only a copy of what the log gives: a row whose seq or digest differs is scored again."""

    __tablename__ = "drill_scorecards"

    drill_id: Mapped[str] = mapped_column(
        ForeignKey("drills.id", ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(Integer)
    scoring: Mapped[str] = mapped_column(String(64))
    data: Mapped[str] = mapped_column(Text)
    """The scorecard as app.engine.scoring.Scorecard's JSON."""


class StoredSnapshot(Base):
    """A drill's state as of `seq`, folded by the engine whose digest is `engine`
    (app/services/snapshots): a restarted server folds only the log after it. Written in
    the transaction of the events that reach it, so it never runs ahead of the log; never
    the truth, only a copy of what the log gives, and one of other code is not used."""

    __tablename__ = "drill_snapshots"

    drill_id: Mapped[str] = mapped_column(
        ForeignKey("drills.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    engine: Mapped[str] = mapped_column(String(64))
    data: Mapped[str] = mapped_column(Text)
    """The state as app.engine.snapshot's JSON."""


class ReportReview(Base):
    """A reviewer's edits to a drill's report (ratings, strengths, areas, summary), as the
    JSON of app.reports.model.Review. The report itself is rebuilt from the log each time."""

    __tablename__ = "report_reviews"

    drill_id: Mapped[str] = mapped_column(
        ForeignKey("drills.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[float] = mapped_column(Float)


class ImprovementItemRow(Base):
    """One corrective action of an improvement plan. It outlives its drill's review: the
    programme carries open items from drill to drill until someone closes them."""

    __tablename__ = "improvement_items"
    __table_args__ = (Index("ix_improvement_items_status", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    drill_id: Mapped[str] = mapped_column(ForeignKey("drills.id", ondelete="CASCADE"), index=True)
    scenario_id: Mapped[str] = mapped_column(String(64))
    objective_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    capability: Mapped[str] = mapped_column(String(300))
    issue: Mapped[str] = mapped_column(Text)
    corrective_action: Mapped[str] = mapped_column(Text)
    element: Mapped[str] = mapped_column(String(16))
    responsible: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(200))
    start: Mapped[date | None] = mapped_column(Date, nullable=True)
    due: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    closed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
