"""Protocol: each command receipt keeps a hash of its command, so a command id reused
for another command is refused instead of acknowledged as a repeat. Receipts written
before have none and dedupe as they always did.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("command_receipts") as batch:
        batch.add_column(sa.Column("command_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("command_receipts") as batch:
        batch.drop_column("command_hash")
