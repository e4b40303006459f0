"""The event log: scenarios, drills, drill_events, command_receipts.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scenarios",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("scenario_id", sa.String(64), nullable=False, index=True),
        sa.Column("version", sa.String(300), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
    )
    op.create_table(
        "drills",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("scenario_version_id", sa.Integer(), sa.ForeignKey("scenarios.id"),
                  nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "drill_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("drill_id", sa.String(36), sa.ForeignKey("drills.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("scenario_time", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.UniqueConstraint("drill_id", "seq", name="uq_drill_events_drill_seq"),
    )
    op.create_table(
        "command_receipts",
        sa.Column("drill_id", sa.String(36), sa.ForeignKey("drills.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
    )
    op.create_index("ix_command_receipts_drill", "command_receipts", ["drill_id"])


def downgrade() -> None:
    op.drop_index("ix_command_receipts_drill", table_name="command_receipts")
    op.drop_table("command_receipts")
    op.drop_table("drill_events")
    op.drop_table("drills")
    op.drop_table("scenarios")
