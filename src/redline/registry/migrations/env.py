"""Alembic environment for redline's registry: always run programmatically, on the
connection :func:`redline.registry.open_store` passes in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from redline.registry._tables import METADATA

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=METADATA, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
