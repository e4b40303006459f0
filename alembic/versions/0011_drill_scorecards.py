"""Stored scorecards: each drill's scores as of its last seq, by the scoring code's digest,
so the programme page does not load and score every drill's log after each restart.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drill_scorecards",
        sa.Column(
            "drill_id",
            sa.String(36),
            sa.ForeignKey("drills.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("scoring", sa.String(64), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("drill_scorecards")
