"""Clock leases: which worker runs each drill's clock, and until when.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("drills") as batch:
        batch.add_column(sa.Column("clock_holder", sa.String(64), nullable=True))
        batch.add_column(sa.Column("clock_lease_until", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drills") as batch:
        batch.drop_column("clock_lease_until")
        batch.drop_column("clock_holder")
