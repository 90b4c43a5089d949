"""A throwaway PostgreSQL cluster for benchmarks and tests: ``initdb`` + ``pg_ctl`` in a
temp dir (as the ``postgres`` user when run as root: initdb refuses root), trust auth,
127.0.0.1 on a free port, its unix socket in the temp dir, removed on :meth:`stop`.

``Cluster(durable=True)`` keeps PostgreSQL's durability defaults (``fsync = on``,
``synchronous_commit = on``, ``full_page_writes = on``): a commit returns after its WAL
is flushed to disk, what a benchmark against SQLite ``synchronous=FULL`` must compare
with. ``durable=False`` turns the three off (fast, for tests: a crash loses the cluster,
which is thrown away anyway). ``initdb --no-sync`` in both cases: it only skips flushing
the freshly created files once, before the server starts.

    with Cluster(durable=True) as cluster:
        url = cluster.create_database("bench")  # postgresql+psycopg://postgres@127.0.0.1:N/bench
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa

__all__ = [
    "DURABILITY_SETTINGS",
    "FAST_SETTINGS",
    "Cluster",
    "admin_engine",
    "bindir",
    "create_database",
    "drop_database",
    "free_port",
    "server_settings",
]

FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
"""What ``durable=False`` appends to postgresql.conf (as the test suite's cluster did)."""
DURABILITY_SETTINGS = ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method")
"""The server settings :func:`server_settings` reports, to print beside a timing."""
_INITDB = ("-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _major(initdb: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in initdb.parents[1].name.split(".") if part.isdigit())


def bindir() -> Path:
    """The newest Debian PostgreSQL (``/usr/lib/postgresql/N/bin``), else ``initdb`` on
    PATH; FileNotFoundError when there is neither."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_major)
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    if on_path is None:
        raise FileNotFoundError("no initdb in /usr/lib/postgresql/*/bin or on PATH")
    return Path(on_path).parent


def free_port() -> int:
    """A TCP port of 127.0.0.1 free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def admin_engine(url: str | sa.URL) -> sa.Engine:
    """An autocommit engine on ``url`` (CREATE / DROP DATABASE cannot run in a
    transaction), checked with ``SELECT 1``; ``postgresql://`` means psycopg 3."""
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(parsed, isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except BaseException:
        engine.dispose()
        raise
    return engine


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"database name {name!r}: use lower-case letters, digits and '_'")
    return name


def create_database(admin: str | sa.URL | sa.Engine, name: str) -> str:
    """Create database ``name`` on the server ``admin`` (a URL on any database of it, or
    an engine from :func:`admin_engine`); its URL, password included."""
    engine = admin if isinstance(admin, sa.Engine) else admin_engine(admin)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{_check_name(name)}"')
        return engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        if engine is not admin:
            engine.dispose()


def drop_database(admin: str | sa.URL | sa.Engine, name: str) -> None:
    """Drop database ``name`` if it exists, closing its connections (PostgreSQL >= 13)."""
    engine = admin if isinstance(admin, sa.Engine) else admin_engine(admin)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{_check_name(name)}" WITH (FORCE)')
    finally:
        if engine is not admin:
            engine.dispose()


def server_settings(url: str | sa.URL) -> dict[str, str]:
    """``server_version`` and the :data:`DURABILITY_SETTINGS` of the server at ``url``."""
    engine = admin_engine(url)
    try:
        with engine.connect() as conn:
            names = ("server_version", *DURABILITY_SETTINGS)
            return {n: str(conn.exec_driver_sql(f"SHOW {n}").scalar_one()) for n in names}
    finally:
        engine.dispose()


class Cluster:
    """A throwaway PostgreSQL cluster in a temp dir (under ``base`` if given): trust
    auth, 127.0.0.1 only, durable (PostgreSQL's defaults) or not (fsync,
    synchronous_commit and full_page_writes off). ``settings`` adds postgresql.conf
    lines. Usable as a context manager (start on enter, stop on exit)."""

    def __init__(
        self,
        *,
        durable: bool = False,
        base: str | os.PathLike[str] | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.durable = durable
        self.bindir = bindir()
        self.root = Path(tempfile.mkdtemp(prefix="redline-pg-", dir=base))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.sa_url = sa.URL.create(
            "postgresql+psycopg", "postgres", host="127.0.0.1", port=self.port, database="postgres"
        )
        """The ``postgres`` database as a SQLAlchemy URL object."""
        self.url = self.sa_url.render_as_string(hide_password=False)
        """The ``postgres`` database: ``postgresql+psycopg://postgres@127.0.0.1:PORT/postgres``."""
        self.settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            **({} if durable else FAST_SETTINGS),
            **(settings or {}),
        }
        self.running = False

    def _run(self, tool: str, *args: str, timeout: float = 60) -> str:
        """Run a server binary (as ``postgres`` when we are root); its stdout. A failure
        is a RuntimeError with the tool's message and the tail of the server log."""
        command = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:  # initdb refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, cwd="/", capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-800:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed: {(done.stderr or done.stdout).strip()} {tail}")
        return done.stdout

    def version(self) -> str:
        """``postgres --version`` of the binaries, e.g. ``postgres (PostgreSQL) 15.8``."""
        return self._run("postgres", "--version").strip()

    def start(self) -> Cluster:
        """initdb, append the settings to postgresql.conf, start and wait for the server."""
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), *_INITDB)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in self.settings.items())
        log = str(self.log)
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "60", "-s", "start")
        self.running = True
        return self

    def stop(self) -> None:
        """Stop the server (immediate: nothing here is worth a checkpoint) and remove
        the temp dir, also when the stop fails."""
        try:
            if self.data.exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-s", "stop")
        finally:
            self.running = False
            shutil.rmtree(self.root, ignore_errors=True)

    def admin(self) -> sa.Engine:
        """An autocommit engine on the ``postgres`` database (dispose of it after use)."""
        return admin_engine(self.sa_url)

    def create_database(self, name: str) -> str:
        """Create database ``name``; its URL."""
        return create_database(self.sa_url, name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists."""
        drop_database(self.sa_url, name)

    def __enter__(self) -> Cluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Cluster({self.url!r}, durable={self.durable}, {state})"
