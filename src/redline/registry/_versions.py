"""Models and their versions: register an artifact, resolve ``name@3`` / ``name@alias``,
move aliases. Every change writes its audit event in the same transaction."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from redline.errors import InputError
from redline.registry._store import Store, now
from redline.registry._tables import aliases, models, versions

__all__ = [
    "VersionInfo",
    "get_version",
    "lineage",
    "list_versions",
    "load_artifact",
    "parse_ref",
    "register",
]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class VersionInfo:
    """One registered version of a model, as stored."""

    model: str
    number: int
    id: int
    artifact_sha256: str
    artifact_size: int
    framework: str
    entry_point: str | None
    input_spec: dict[str, Any]
    parent: int | None
    data_manifests: list[dict[str, Any]]
    training_config: dict[str, Any]
    note: str | None
    created_by: str
    created_at: str
    withdrawn_at: str | None = None
    """Set when production was rolled back from this version (cleared by a promotion)."""

    @property
    def ref(self) -> str:
        """``name@number``."""
        return f"{self.model}@{self.number}"


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(
            f"{what} {name!r}: use letters, digits, '.', '_' or '-' (at most 100, "
            "starting with a letter or digit)"
        )
    return name


def parse_ref(ref: str) -> tuple[str, int | str | None]:
    """``"fraud@3"`` -> ("fraud", 3); ``"fraud@production"`` -> ("fraud", "production");
    ``"fraud"`` -> ("fraud", None)."""
    name, _, selector = ref.partition("@")
    _check_name(name, "model name")
    if not selector:
        return name, None
    if selector.isdigit():
        return name, int(selector)
    return name, _check_name(selector, "alias")


def _manifest_entry(path: str | os.PathLike[str]) -> dict[str, Any]:
    from redline.datasets import Manifest

    found = Manifest.from_json(Path(path))
    return {
        "path": str(path),
        "dataset_hash": found.dataset_hash,
        "n": len(found),
        "source": found.source,
    }


def _model_id(conn: Connection, name: str, *, create: bool, lock: bool = True) -> int:
    """The model's id, its row locked for the rest of the transaction unless ``lock`` is
    False (every change to a model starts here, so changes to one model are serialised
    on every database; readers pass ``lock=False``)."""
    query = sa.select(models.c.id).where(models.c.name == name)
    if lock:
        query = query.with_for_update()
    found = conn.execute(query).scalar_one_or_none()
    if found is not None:
        return int(found)
    if not create:
        raise InputError(f"unknown model {name!r}")
    values = {"name": name, "created_at": now()}
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        conn.execute(insert(models).values(values).on_conflict_do_nothing())
    else:  # SQLite: BEGIN IMMEDIATE already holds the only write lock
        conn.execute(models.insert().values(values))
    return int(conn.execute(query).scalar_one())


def register(
    store: Store,
    name: str,
    artifact: str | os.PathLike[str],
    *,
    actor: str,
    framework: str = "torch",
    entry_point: str | None = None,
    input_spec: Mapping[str, Any] | None = None,
    parent: str | None = None,
    data_manifests: Sequence[str | os.PathLike[str]] = (),
    training_config: Mapping[str, Any] | None = None,
    note: str | None = None,
) -> VersionInfo:
    """Store the artifact (content-addressed, verified), then add version ``n + 1`` of
    ``name`` (created if new) and its audit event in one transaction. A crash between
    the two leaves an orphan blob that ``ArtifactStore.check`` reports, never a version
    without its artifact."""
    _check_name(name, "model name")
    manifests = [_manifest_entry(p) for p in data_manifests]
    if parent:
        get_version(store, parent)  # bad input fails before anything is written
    if not Path(artifact).is_file():
        raise InputError(f"{artifact}: no such file")
    blob = store.artifacts.put_file(Path(artifact))
    record = {
        "artifact_sha256": blob.sha256,
        "artifact_size": blob.size,
        "framework": framework,
        "entry_point": entry_point,
        "input_spec": dict(input_spec or {}),
        "data_manifests": manifests,
        "training_config": dict(training_config or {}),
        "note": note,
        "created_by": actor,
    }
    with store.transaction() as conn:
        return _insert_version(store, conn, name, parent, record)


def _insert_version(
    store: Store, conn: Connection, name: str, parent: str | None, record: dict[str, Any]
) -> VersionInfo:
    """Add the next version of ``name`` under the model's lock, with its audit event."""
    model_id = _model_id(conn, name, create=True)
    parent_id = _resolve(conn, parent).id if parent else None
    latest = sa.select(sa.func.coalesce(sa.func.max(versions.c.number), 0))
    number = 1 + int(conn.execute(latest.where(versions.c.model_id == model_id)).scalar_one())
    values = {**record, "model_id": model_id, "number": number, "parent_id": parent_id}
    conn.execute(versions.insert().values({**values, "created_at": now()}))
    details = {
        "artifact_sha256": record["artifact_sha256"],
        "size": record["artifact_size"],
        "note": record["note"],
    }
    store.audit(
        conn,
        actor=record["created_by"],
        action="version.register",
        subject=f"{name}@{number}",
        details=details,
    )
    return _resolve(conn, f"{name}@{number}")


def _info(row: Mapping[Any, Any]) -> VersionInfo:
    return VersionInfo(
        model=row["model"],
        number=row["number"],
        id=row["id"],
        artifact_sha256=row["artifact_sha256"],
        artifact_size=row["artifact_size"],
        framework=row["framework"],
        entry_point=row["entry_point"],
        input_spec=dict(row["input_spec"]),
        parent=row["parent_id"],
        data_manifests=list(row["data_manifests"]),
        training_config=dict(row["training_config"]),
        note=row["note"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        withdrawn_at=row["withdrawn_at"],
    )


def _query() -> sa.Select[Any]:
    return sa.select(versions, models.c.name.label("model")).join(
        models, models.c.id == versions.c.model_id
    )


def _resolve(conn: Connection, ref: str) -> VersionInfo:
    name, selector = parse_ref(ref)
    model_id = _model_id(conn, name, create=False, lock=False)
    query = _query().where(versions.c.model_id == model_id)
    if selector is None:
        query = query.order_by(versions.c.number.desc()).limit(1)
    elif isinstance(selector, int):
        query = query.where(versions.c.number == selector)
    else:
        target = conn.execute(
            sa.select(aliases.c.version_id).where(
                aliases.c.model_id == model_id, aliases.c.name == selector
            )
        ).scalar_one_or_none()
        if target is None:
            raise InputError(f"model {name!r} has no alias {selector!r}")
        query = query.where(versions.c.id == target)
    row = conn.execute(query).one_or_none()
    if row is None:
        raise InputError(f"unknown version {ref!r}")
    return _info(row._mapping)


def get_version(store: Store, ref: str) -> VersionInfo:
    """Resolve ``name``, ``name@3`` or ``name@alias``; unknown ones are input errors."""
    with store.engine.connect() as conn:
        return _resolve(conn, ref)


def lineage(store: Store, version: VersionInfo) -> list[VersionInfo]:
    """The parent, grandparent, ... of ``version`` up to the root (a parent may belong
    to another model), nearest first."""
    chain: list[VersionInfo] = []
    seen, parent = {version.id}, version.parent
    with store.engine.connect() as conn:
        while parent is not None and parent not in seen:
            row = conn.execute(_query().where(versions.c.id == parent)).one_or_none()
            if row is None:
                break
            chain.append(_info(row._mapping))
            seen.add(parent)
            parent = chain[-1].parent
    return chain


def list_versions(store: Store, name: str) -> list[VersionInfo]:
    """Every version of ``name``, oldest first."""
    with store.engine.connect() as conn:
        model_id = _model_id(conn, _check_name(name, "model name"), create=False, lock=False)
        rows = conn.execute(
            _query().where(versions.c.model_id == model_id).order_by(versions.c.number)
        ).all()
    return [_info(r._mapping) for r in rows]


def load_artifact(store: Store, ref: str) -> tuple[VersionInfo, Path]:
    """The version ``ref`` names and the path of its artifact, after verifying the bytes
    against the recorded SHA-256 (a tampered or missing file is an IntegrityError)."""
    info = get_version(store, ref)
    return info, store.artifacts.verify(info.artifact_sha256)
