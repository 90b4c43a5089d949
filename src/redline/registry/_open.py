"""Opening the registry database in one of three modes, so that a mistyped ``--store``
never looks like an empty registry: ``read`` (must exist at this redline's schema;
nothing created, migrated or written), ``write`` (must exist; migrated if older) and
``create`` (may create, and says so). Alembic is imported only when a migration runs."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from redline.errors import InputError

__all__ = ["MODES", "REVISIONS", "SCHEMA_HEAD", "Mode", "check_schema", "make_engine", "shown"]

Mode = Literal["read", "write", "create"]
MODES: tuple[Mode, ...] = ("read", "write", "create")
REVISIONS = ("r0001", "r0002")
"""The schema revisions this redline knows, oldest first (a test pins them to the
migrations folder)."""
SCHEMA_HEAD = REVISIONS[-1]
_DIALECTS = {"sqlite": "sqlite", "postgresql+psycopg": "postgresql"}
_MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 7248610519
"""PostgreSQL advisory lock key held while migrating (serialises concurrent first opens)."""


def shown(url: sa.URL) -> str:
    """The URL as messages print it: without its password."""
    return url.render_as_string(hide_password=True)


def make_engine(url: str, mode: Mode) -> Engine:
    """An engine on ``url``; ``read`` and ``write`` refuse a SQLite file that does not
    exist before anything touches the disk (no folder, no empty database)."""
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
        return _sqlite_engine(parsed, mode)
    engine = sa.create_engine(parsed, pool_pre_ping=True)
    if mode == "read":
        sa.event.listen(engine, "connect", _postgres_read_only)
    return engine


def _postgres_read_only(dbapi: Any, _: Any) -> None:
    """Every transaction of a ``read`` engine is READ ONLY: the server refuses writes."""
    cursor = dbapi.cursor()
    cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cursor.close()
    dbapi.commit()


def _sqlite_file(url: sa.URL, mode: Mode) -> str | None:
    """The database file (None: in memory); its folder is made only by ``create``."""
    db = url.database
    if not db or db == ":memory:" or url.query.get("uri"):  # a URI says its own mode
        return None
    path = Path(db)
    if mode == "create":
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.is_file():
        where = f" ({path.absolute()})" if not path.is_absolute() else ""
        raise InputError(
            f"no registry store at {shown(url)}{where}: the file does not exist "
            "(nothing was created; a first 'redline registry add' creates a store)"
        )
    return db


def _sqlite_engine(url: sa.URL, mode: Mode) -> Engine:
    """WAL journal, foreign keys on, and BEGIN IMMEDIATE: writers queue on the file lock
    at the start of a transaction instead of failing half-way. A file that must exist is
    opened with ``mode=rw`` (SQLite then never creates it); ``read`` connections are
    ``query_only`` and begin deferred, so readers do not queue behind writers."""
    db = _sqlite_file(url, mode)
    if db is not None and mode != "create":
        uri = Path(db).absolute().as_uri() + "?mode=rw"
        engine = sa.create_engine(
            url,
            creator=lambda: sqlite3.connect(uri, uri=True, timeout=60, check_same_thread=False),
        )
    else:
        engine = sa.create_engine(url, connect_args={"timeout": 60})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi: Any, _: Any) -> None:
        dbapi.isolation_level = None  # redline issues BEGIN itself
        cursor = dbapi.cursor()
        if mode == "create":
            _wal(cursor)  # a store made by redline stays WAL: other opens leave it be
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        if mode == "read":
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    begin = "BEGIN" if mode == "read" else "BEGIN IMMEDIATE"

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

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


def _revision(conn: Connection) -> str | None:
    """The store's schema revision; None where there is no redline schema at all."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    found = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return None if found is None else str(found)


def _judge(current: str | None, mode: Mode, url: sa.URL) -> bool:
    """Whether a migration must run; refuse what ``mode`` may not open."""
    if current is not None and current not in REVISIONS:
        raise InputError(
            f"the store's schema {current} is newer than this redline knows "
            f"({SCHEMA_HEAD}): upgrade redline"
        )
    if current is None and mode != "create":
        raise InputError(
            f"no registry store at {shown(url)}: the database holds no redline schema "
            "(nothing was created; a first 'redline registry add' creates a store)"
        )
    if current is not None and current != SCHEMA_HEAD and mode == "read":
        raise InputError(
            f"the store {shown(url)} has schema {current}, older than this redline's "
            f"{SCHEMA_HEAD}: read-only commands do not migrate; run "
            "'redline registry migrate' (or any write) first"
        )
    return current != SCHEMA_HEAD


def check_schema(engine: Engine, mode: Mode) -> str | None:
    """Check (one query when the schema is current) and migrate if allowed and needed.
    Returns the revision the store had before (None: this call created the schema)."""
    with engine.connect() as conn:
        current = _revision(conn)
    if not _judge(current, mode, engine.url):
        return current
    return _migrate(engine, mode)


def _migrate(engine: Engine, mode: Mode) -> str | None:
    """Upgrade to :data:`SCHEMA_HEAD` under the migration lock (the revision is read
    again there: a concurrent open may have migrated meanwhile); the revision before."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # two first opens must not both create tables
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        current = _revision(conn)
        _judge(current, mode, engine.url)
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return current
