"""Registry fixtures: every database test runs on SQLite and on a real PostgreSQL server.

The server is ``$REDLINE_TEST_POSTGRES`` (a URL on any database of it, e.g.
``postgresql+psycopg://user@127.0.0.1:5432/postgres``; the role must be allowed to
CREATE DATABASE), else a throwaway cluster started here (``initdb`` + ``pg_ctl``, as the
``postgres`` user when run as root, on a free port of 127.0.0.1) and stopped at the end
of the session. Without one the PostgreSQL runs are skipped, with the reason, unless
``REDLINE_REQUIRE_POSTGRES=1`` (CI), where they error. ``pytest -k postgresql`` (or
``-m postgresql``) selects them; each test gets a fresh database, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from benchmarks._postgres import Cluster, admin_engine

from redline.registry import Store, open_store
from redline.registry import _open as open_module
from redline.registry._open import Mode

SERVER_ENV = "REDLINE_TEST_POSTGRES"
REQUIRE_ENV = "REDLINE_REQUIRE_POSTGRES"


def _server() -> Iterator[sa.Engine | str]:
    """Yield an admin engine on the server, or why there is none."""
    cluster = None
    try:
        import psycopg  # noqa: F401

        named = os.environ.get(SERVER_ENV)
        if named:
            url = sa.make_url(named)
        else:
            cluster = Cluster(durable=False)
            cluster.start()
            url = cluster.sa_url
        engine = admin_engine(url)
    except Exception as exc:
        where = f"${SERVER_ENV}" if os.environ.get(SERVER_ENV) else "a throwaway cluster"
        if cluster is not None:
            cluster.stop()
        yield f"no PostgreSQL server: could not start or reach {where} ({_short(exc)})"
        return
    try:
        yield engine
    finally:
        engine.dispose()
        if cluster is not None:
            cluster.stop()


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return f"{type(exc).__name__}: {' '.join(text.split())[:600]}"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine | str]:
    """An autocommit engine on the test PostgreSQL server, or the reason there is none."""
    yield from _server()


def _unavailable(reason: str) -> None:
    """Skip, unless a server was asked for: then it is an error."""
    if os.environ.get(SERVER_ENV):
        pytest.fail(f"{reason} (${SERVER_ENV} is set)", pytrace=False)
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(reason)


def _postgres_database(admin: sa.Engine) -> Iterator[str]:
    name = f"redline_test_{uuid.uuid4().hex[:16]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty store database: a SQLite file, or a new PostgreSQL
    database (dropped after the test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'reg' / 'registry.db'}"
        return
    admin = request.getfixturevalue("postgres_admin")
    if isinstance(admin, str):
        _unavailable(admin)
    yield from _postgres_database(admin)


@pytest.fixture
def reopen(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Store]]:
    """``open_store(url, **kwargs)`` with ``url`` defaulting to the test's store
    (``url=None``: from the environment). Every engine opened during the test, also by
    CLI commands run in-process, is disposed of afterwards: an unclosed psycopg
    connection collected later warns (ResourceWarning), which fails whichever test is
    running."""
    engines: list[sa.Engine] = []
    make_engine = open_module.make_engine

    def _tracked(url: str, mode: Mode) -> sa.Engine:
        engines.append(make_engine(url, mode))
        return engines[-1]

    monkeypatch.setattr(open_module, "make_engine", _tracked)

    def _open(url: str | None = store_url, **kwargs: Any) -> Store:
        return open_store(url, **kwargs)

    yield _open
    for engine in engines:
        engine.dispose()


@pytest.fixture
def store(reopen: Callable[..., Store], tmp_path: Path) -> Store:
    """A freshly migrated store on the test's database, artifacts under tmp_path."""
    return reopen(artifacts=tmp_path / "artifacts")
