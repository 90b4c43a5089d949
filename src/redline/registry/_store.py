"""``open_store(url)``: the registry database (SQLite file by default, PostgreSQL for
teams), migrated to the current schema, with the audit log appended in the same
transaction as every change."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from redline.errors import InputError
from redline.registry._artifacts import ArtifactStore
from redline.registry._chain import AuditEvent, ChainCheck, next_event, verify_chain
from redline.registry._tables import audit_events, chain_head

__all__ = ["DEFAULT_URL", "SCHEMA_HEAD", "Store", "open_store"]

DEFAULT_URL = "sqlite:///.redline/registry.db"
SCHEMA_HEAD = "r0002"
_DIALECTS = {"sqlite": "sqlite", "postgresql+psycopg": "postgresql"}
_MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 7248610519
"""PostgreSQL advisory lock key held while migrating (serialises concurrent first opens)."""


def now() -> str:
    """The current UTC time, ISO 8601 with microseconds (how the store records time)."""
    return _now()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _engine(url: str) -> Engine:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise InputError(f"malformed store URL {url!r} ({exc})") from None
    if parsed.drivername not in _DIALECTS and parsed.drivername != "postgresql":
        raise InputError(
            f"store URL {url!r}: use sqlite:///path.db or postgresql+psycopg://user@host/db"
        )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername == "sqlite":
        return _sqlite_engine(parsed)
    return sa.create_engine(parsed, pool_pre_ping=True)


def _sqlite_engine(url: sa.URL) -> Engine:
    """WAL journal, foreign keys on, and BEGIN IMMEDIATE: writers queue on the file lock
    at the start of a transaction instead of failing half-way."""
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 60})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi: Any, _: Any) -> None:
        dbapi.isolation_level = None  # redline issues BEGIN itself
        cursor = dbapi.cursor()
        _wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _wal(cursor: Any, patience: float = 60.0) -> None:
    """``PRAGMA journal_mode=WAL``, retried while the file is locked: switching a new
    file to WAL needs a lock SQLite does not wait for through the busy timeout, so two
    first opens of one file used to fail "database is locked" (4 of 240 here)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005 + 0.02 * random.random())


def _migrate(engine: Engine) -> None:
    """Upgrade to :data:`SCHEMA_HEAD`; a store written by a newer redline is refused."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    known = {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # two first opens must not both create tables
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        current = MigrationContext.configure(conn).get_current_revision()
        if current is not None and current not in known:
            raise InputError(
                f"the store's schema {current} is newer than this redline knows "
                f"({SCHEMA_HEAD}): upgrade redline"
            )
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


class Store:
    """The registry database plus its artifact directory."""

    def __init__(self, engine: Engine, artifacts: ArtifactStore) -> None:
        self.engine = engine
        self.artifacts = artifacts

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


def open_store(url: str | None = None, *, artifacts: str | os.PathLike[str] | None = None) -> Store:
    """Open (creating and migrating as needed) the store at ``url``, else ``$REDLINE_STORE``,
    else ``sqlite:///.redline/registry.db``. Artifacts live in ``artifacts``, else
    ``$REDLINE_ARTIFACTS``, else an ``artifacts`` folder beside a SQLite file
    (``.redline/artifacts`` for a server database)."""
    chosen = url or os.environ.get("REDLINE_STORE") or DEFAULT_URL
    engine = _engine(chosen)
    try:
        _migrate(engine)
    except sa.exc.OperationalError as exc:
        engine.dispose()
        shown = engine.url.render_as_string(hide_password=True)
        reason = " ".join(str(exc.orig).split())[:300]
        raise InputError(f"cannot open the store {shown}: {reason}") from None
    except BaseException:
        engine.dispose()
        raise
    if artifacts is None:
        artifacts = os.environ.get("REDLINE_ARTIFACTS") or None
    if artifacts is None:
        db = engine.url.database if engine.url.drivername == "sqlite" else None
        base = Path(db).parent if db and db != ":memory:" else Path(".redline")
        artifacts = base / "artifacts"
    return Store(engine, ArtifactStore(artifacts))
