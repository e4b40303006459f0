"""The white cell: a second code per drill for the people who play the outside parties,
and the parties each such participant plays. A drill made before this gets its
white-cell code the first time its console is opened (the code is derived from the
server's secret, which a migration does not have).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN and a unique index: a batch operation would rebuild `drills` on
    # SQLite, and dropping the old table cascades to every drill's events.
    op.add_column("drills", sa.Column("white_cell_code_hash", sa.String(64), nullable=True))
    op.create_index(
        "ix_drills_white_cell_code_hash", "drills", ["white_cell_code_hash"], unique=True
    )
    op.add_column("participants", sa.Column("parties", sa.String(2000), nullable=True))


def downgrade() -> None:
    op.drop_column("participants", "parties")
    op.drop_index("ix_drills_white_cell_code_hash", table_name="drills")
    op.drop_column("drills", "white_cell_code_hash")
