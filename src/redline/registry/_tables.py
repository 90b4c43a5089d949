"""The registry's tables (SQLAlchemy 2 Core): models, versions, aliases, scans, incidents
and the audit log. Migrations in ``redline/registry/migrations`` create them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "METADATA",
    "alias_history",
    "aliases",
    "audit_events",
    "chain_head",
    "incident_events",
    "incidents",
    "models",
    "scans",
    "versions",
]

METADATA = MetaData()

models = Table(
    "models",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
)

versions = Table(
    "versions",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("model_id", ForeignKey("models.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("artifact_sha256", String(64), nullable=False),
    Column("artifact_size", BigInteger, nullable=False),
    Column("framework", String(40), nullable=False),
    Column("entry_point", String(500)),
    Column("input_spec", JSON, nullable=False),
    Column("parent_id", ForeignKey("versions.id")),
    Column("data_manifests", JSON, nullable=False),
    Column("training_config", JSON, nullable=False),
    Column("note", Text),
    Column("created_by", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("withdrawn_at", String(40)),
    UniqueConstraint("model_id", "number"),
)

aliases = Table(
    "aliases",
    METADATA,
    Column("model_id", ForeignKey("models.id"), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("version_id", ForeignKey("versions.id"), nullable=False),
    Column("updated_at", String(40), nullable=False),
)

alias_history = Table(
    "alias_history",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("model_id", ForeignKey("models.id"), nullable=False),
    Column("alias", String(100), nullable=False),
    Column("version_id", ForeignKey("versions.id"), nullable=False),
    Column("previous_version_id", ForeignKey("versions.id")),
    Column("action", String(20), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text),
    Column("at", String(40), nullable=False),
    Index("ix_alias_history_model", "model_id", "alias", "id"),
)
"""Every move of every alias, oldest first: rollback reads which versions were in
production before."""

scans = Table(
    "scans",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("version_id", ForeignKey("versions.id"), nullable=False),
    Column("result", JSON, nullable=False),
    Column("passed", Integer),
    Column("created_at", String(40), nullable=False),
    Index("ix_scans_version", "version_id", "id"),
)

incidents = Table(
    "incidents",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("model_id", ForeignKey("models.id"), nullable=False),
    Column("title", String(500), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("state", String(20), nullable=False),
    Column("opened_at", String(40), nullable=False),
    Column("opened_by", String(200)),
    Column("updated_at", String(40)),
)

incident_events = Table(
    "incident_events",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("incident_id", ForeignKey("incidents.id"), nullable=False),
    Column("state", String(20), nullable=False),
    Column("action", String(20)),
    Column("note", Text),
    Column("links", JSON, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at", String(40), nullable=False),
)

audit_events = Table(
    "audit_events",
    METADATA,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

chain_head = Table(
    "chain_head",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)
"""One row (id 1): the last audit event. Appends lock it, so the chain stays linear
under concurrent writers on every database."""
