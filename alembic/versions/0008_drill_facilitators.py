"""Drills have owners: who may run each drill (its creator, and the co-facilitators they
add). Existing drills get their creator, when that account still exists and runs drills; a
drill with no such creator stays open to every facilitator, as every drill was before.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drill_facilitators",
        sa.Column(
            "drill_id",
            sa.String(36),
            sa.ForeignKey("drills.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("added_by", sa.String(80), nullable=True),
        sa.Column("added_at", sa.Float, nullable=False),
    )
    op.create_index("ix_drill_facilitators_user_id", "drill_facilitators", ["user_id"])
    op.execute(
        "INSERT INTO drill_facilitators (drill_id, user_id, added_by, added_at) "
        "SELECT drills.id, users.id, drills.created_by, 0 FROM drills "
        "JOIN users ON users.username = drills.created_by "
        "AND users.role IN ('admin', 'facilitator')"
    )


def downgrade() -> None:
    op.drop_index("ix_drill_facilitators_user_id", "drill_facilitators")
    op.drop_table("drill_facilitators")
