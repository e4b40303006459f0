"""Accounts managed in the browser: disabled accounts, idle session lifetimes, one-time
set-password links for a named account, and the audit log.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("disabled_at", sa.Float, nullable=True))
    with op.batch_alter_table("web_sessions") as sessions:
        # Existing sessions count as seen when they began: an idle one ends as it would have.
        sessions.add_column(sa.Column("last_seen_at", sa.Float, nullable=True))
    op.execute("UPDATE web_sessions SET last_seen_at = created_at")
    with op.batch_alter_table("setup_tokens") as links:
        # A link for one existing account (a new account, or a reset): NULL is the
        # first-run link, which creates the first (admin) account.
        links.add_column(
            sa.Column(
                "user_id",
                sa.Integer,
                sa.ForeignKey("users.id", name="fk_setup_tokens_user_id", ondelete="CASCADE"),
                nullable=True,
            )
        )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(80), nullable=True),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("detail", sa.String(500), nullable=False, server_default=""),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_at", "audit_events")
    op.drop_table("audit_events")
    with op.batch_alter_table("setup_tokens") as links:
        links.drop_constraint("fk_setup_tokens_user_id", type_="foreignkey")
        links.drop_column("user_id")
    with op.batch_alter_table("web_sessions") as sessions:
        sessions.drop_column("last_seen_at")
    with op.batch_alter_table("users") as users:
        users.drop_column("disabled_at")
