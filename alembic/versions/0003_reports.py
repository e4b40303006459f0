"""Reports: who created a drill, reviewers' edits, and the improvement plan's items.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("drills") as batch:
        batch.add_column(sa.Column("created_by", sa.String(80), nullable=True))
    op.create_table(
        "report_reviews",
        sa.Column(
            "drill_id",
            sa.String(36),
            sa.ForeignKey("drills.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "improvement_items",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "drill_id",
            sa.String(36),
            sa.ForeignKey("drills.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("scenario_id", sa.String(64), nullable=False),
        sa.Column("objective_id", sa.String(64), nullable=True),
        sa.Column("capability", sa.String(300), nullable=False),
        sa.Column("issue", sa.Text(), nullable=False),
        sa.Column("corrective_action", sa.Text(), nullable=False),
        sa.Column("element", sa.String(16), nullable=False),
        sa.Column("responsible", sa.String(200), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("start", sa.Date(), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("closed_by", sa.String(80), nullable=True),
        sa.Column("closed_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_improvement_items_drill_id", "improvement_items", ["drill_id"])
    op.create_index("ix_improvement_items_status", "improvement_items", ["status"])


def downgrade() -> None:
    op.drop_table("improvement_items")
    op.drop_table("report_reviews")
    with op.batch_alter_table("drills") as batch:
        batch.drop_column("created_by")
