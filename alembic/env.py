"""Alembic environment: runs on the connection handed over by app.db.migrate."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from alembic import context
from app.db.models import Base

config = context.config
connection = config.attributes.get("connection")


def run(conn: Connection) -> None:
    context.configure(
        connection=conn,
        target_metadata=Base.metadata,
        render_as_batch=conn.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if isinstance(connection, Connection):
    run(connection)
else:
    raise RuntimeError("run migrations with `tabletop db upgrade`")
