"""Lifecycle: alias history (who moved production where, and why), withdrawn versions
(rolled back from), who opened an incident, when it last changed, and what each
incident event did.

Revision ID: r0002
Revises: r0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None

_TS = sa.String(40)


def upgrade() -> None:
    """Add the alias history table and the lifecycle columns."""
    op.create_table(
        "alias_history",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("alias", sa.String(100), nullable=False),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("versions.id"), nullable=False),
        sa.Column("previous_version_id", sa.Integer, sa.ForeignKey("versions.id")),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("at", _TS, nullable=False),
    )
    op.create_index("ix_alias_history_model", "alias_history", ["model_id", "alias", "id"])
    op.create_index("ix_scans_version", "scans", ["version_id", "id"])
    op.add_column("versions", sa.Column("withdrawn_at", _TS))
    op.add_column("incidents", sa.Column("opened_by", sa.String(200)))
    op.add_column("incidents", sa.Column("updated_at", _TS))
    op.add_column("incident_events", sa.Column("action", sa.String(20)))


def downgrade() -> None:
    """Back to schema r0001."""
    with op.batch_alter_table("incident_events") as batch:
        batch.drop_column("action")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("opened_by")
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("withdrawn_at")
    op.drop_index("ix_scans_version", "scans")
    op.drop_index("ix_alias_history_model", "alias_history")
    op.drop_table("alias_history")
