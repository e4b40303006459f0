"""Scenario bundles: the files a scenario's injects attach, kept with the scenario
version they came with (checked by content when loaded; served only to who may see the
inject that carries them).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scenario_assets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "scenario_version_id",
            sa.Integer,
            sa.ForeignKey("scenarios.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("path", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("scenario_version_id", "path", name="uq_scenario_assets_path"),
    )


def downgrade() -> None:
    op.drop_table("scenario_assets")
