"""``open_store(url, mode=...)``: the registry database (SQLite file by default,
PostgreSQL for teams), opened for reading, writing or creating (see ``_open``), with the
audit log appended in the same transaction as every change."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from redline.errors import InputError
from redline.registry import _open
from redline.registry._artifacts import ArtifactStore
from redline.registry._chain import AuditEvent, ChainCheck, next_event, verify_chain
from redline.registry._open import MODES, SCHEMA_HEAD, Mode
from redline.registry._tables import audit_events, chain_head

__all__ = ["DEFAULT_URL", "SCHEMA_HEAD", "Mode", "Store", "open_store"]

DEFAULT_URL = "sqlite:///.redline/registry.db"


def now() -> str:
    """The current UTC time, ISO 8601 with microseconds (how the store records time)."""
    return _now()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Store:
    """The registry database plus its artifact directory. ``created``: the
    :func:`open_store` call that made it created the store's schema; ``migrated_from``:
    the older revision it upgraded (None when it did not migrate)."""

    def __init__(
        self,
        engine: Engine,
        artifacts: ArtifactStore,
        *,
        created: bool = False,
        migrated_from: str | None = None,
    ) -> None:
        self.engine = engine
        self.artifacts = artifacts
        self.created = created
        self.migrated_from = migrated_from

    @property
    def location(self) -> str:
        """Where the store is, as messages print it: a SQLite file's absolute path, else
        the URL without its password."""
        db = self.engine.url.database
        if self.engine.dialect.name == "sqlite" and db and db != ":memory:":
            return str(Path(db).absolute())
        return _open.shown(self.engine.url)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction: everything in it, audit events included, commits or
        rolls back together."""
        with self.engine.begin() as conn:
            yield conn

    def audit(
        self,
        conn: Connection,
        *,
        actor: str,
        action: str,
        subject: str,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one audit event inside ``conn``'s transaction (the chain head row is
        locked first, so concurrent writers extend the chain one at a time)."""
        head = conn.execute(
            sa.select(chain_head.c.seq, chain_head.c.hash)
            .where(chain_head.c.id == 1)
            .with_for_update()
        ).one()
        previous = self._event(conn, head.seq) if head.seq else None
        event = next_event(
            previous, at=_now(), actor=actor, action=action, subject=subject, details=details
        )
        conn.execute(audit_events.insert().values(_row(event)))
        conn.execute(
            chain_head.update().where(chain_head.c.id == 1).values(seq=event.seq, hash=event.hash)
        )
        return event

    def _event(self, conn: Connection, seq: int) -> AuditEvent:
        row = conn.execute(sa.select(audit_events).where(audit_events.c.seq == seq)).one()
        return _event(row._mapping)

    def events(self) -> list[AuditEvent]:
        """Every audit event, in order."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audit_events).order_by(audit_events.c.seq)).all()
        return [_event(r._mapping) for r in rows]

    def verify_audit(self) -> ChainCheck:
        """Walk the chain, and check that it ends where the head says (a truncated tail
        is tampering too)."""
        events = self.events()
        found = verify_chain(events)
        if not found.ok:
            return found
        with self.engine.connect() as conn:
            head = conn.execute(sa.select(chain_head).where(chain_head.c.id == 1)).one()
        last = events[-1] if events else None
        if (last.seq if last else 0) != head.seq or (last.hash if last else head.hash) != head.hash:
            return ChainCheck(len(events), head.seq, "the chain ends before its recorded head")
        return found


def _row(event: AuditEvent) -> dict[str, Any]:
    details = json.dumps(event.details, sort_keys=True, separators=(",", ":"))
    return {
        "seq": event.seq,
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "details": details,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _event(row: Mapping[Any, Any]) -> AuditEvent:
    try:
        details = json.loads(row["details"])
    except json.JSONDecodeError:
        details = {"__unreadable__": str(row["details"])}
    return AuditEvent(
        row["seq"],
        row["at"],
        row["actor"],
        row["action"],
        row["subject"],
        details,
        row["prev_hash"],
        row["hash"],
    )


def open_store(
    url: str | None = None,
    *,
    artifacts: str | os.PathLike[str] | None = None,
    mode: Mode = "create",
) -> Store:
    """Open the store at ``url``, else ``$REDLINE_STORE``, else
    ``sqlite:///.redline/registry.db``. ``mode``: ``"read"`` needs an existing store at
    this redline's schema and never writes (an older schema is refused, not migrated);
    ``"write"`` needs an existing store and migrates it; ``"create"`` (the default, as
    before modes existed) also creates one, and sets :attr:`Store.created`. Artifacts
    live in ``artifacts``, else ``$REDLINE_ARTIFACTS``, else an ``artifacts`` folder beside
    a SQLite file (``.redline/artifacts`` for a server database)."""
    if mode not in MODES:
        raise InputError(f"open_store mode {mode!r}: use one of {', '.join(MODES)}")
    chosen = url or os.environ.get("REDLINE_STORE") or DEFAULT_URL
    engine = _open.make_engine(chosen, mode)
    try:
        before = _open.check_schema(engine, mode)
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        reason = " ".join(str(exc.orig).split())[:300]
        raise InputError(f"cannot open the store {_open.shown(engine.url)}: {reason}") from None
    except BaseException:
        engine.dispose()
        raise
    if artifacts is None:
        artifacts = os.environ.get("REDLINE_ARTIFACTS") or None
    if artifacts is None:
        db = engine.url.database if engine.url.drivername == "sqlite" else None
        base = Path(db).parent if db and db != ":memory:" else Path(".redline")
        artifacts = base / "artifacts"
    migrated = before if before != SCHEMA_HEAD else None
    return Store(engine, ArtifactStore(artifacts), created=before is None, migrated_from=migrated)
