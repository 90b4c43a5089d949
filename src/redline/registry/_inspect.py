"""Read-only views of the store for listings and checks: models, aliases, and which
artifacts the versions refer to."""

from __future__ import annotations

import sqlalchemy as sa

from redline.registry._lifecycle import PRODUCTION
from redline.registry._store import Store
from redline.registry._tables import aliases, models, versions
from redline.registry._versions import _check_name, _model_id

__all__ = ["aliases_of", "list_models", "referenced_hashes"]


def list_models(store: Store) -> list[tuple[str, int, int | None]]:
    """Every model: (name, number of versions, version number in production or None)."""
    served = (
        sa.select(aliases.c.model_id, versions.c.number)
        .join(versions, versions.c.id == aliases.c.version_id)
        .where(aliases.c.name == PRODUCTION)
        .subquery()
    )
    query = (
        sa.select(models.c.name, sa.func.count(versions.c.id), served.c.number)
        .outerjoin(versions, versions.c.model_id == models.c.id)
        .outerjoin(served, served.c.model_id == models.c.id)
        .group_by(models.c.name, served.c.number)
        .order_by(models.c.name)
    )
    with store.engine.connect() as conn:
        return [(r[0], int(r[1]), r[2]) for r in conn.execute(query).all()]


def aliases_of(store: Store, name: str) -> dict[int, list[str]]:
    """Version number -> the aliases pointing at it, for one model."""
    with store.engine.connect() as conn:
        model_id = _model_id(conn, _check_name(name, "model name"), create=False, lock=False)
        rows = conn.execute(
            sa.select(versions.c.number, aliases.c.name)
            .join(versions, versions.c.id == aliases.c.version_id)
            .where(aliases.c.model_id == model_id)
            .order_by(aliases.c.name)
        ).all()
    found: dict[int, list[str]] = {}
    for number, alias in rows:
        found.setdefault(int(number), []).append(alias)
    return found


def referenced_hashes(store: Store) -> dict[str, list[str]]:
    """Artifact SHA-256 -> the versions (``name@n``) that refer to it."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(versions.c.artifact_sha256, models.c.name, versions.c.number)
            .join(models, models.c.id == versions.c.model_id)
            .order_by(models.c.name, versions.c.number)
        ).all()
    found: dict[str, list[str]] = {}
    for sha, name, number in rows:
        found.setdefault(sha, []).append(f"{name}@{number}")
    return found
