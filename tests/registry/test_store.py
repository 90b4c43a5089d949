"""``open_store`` on SQLite and PostgreSQL: migration, refusal of a newer schema, bad URLs,
and the audit log written in the same transaction as the change it records."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from redline.errors import InputError
from redline.registry import SCHEMA_HEAD, Store, open_store
from redline.registry._tables import audit_events, chain_head, models

Opener = Callable[..., Store]


def test_a_new_store_is_migrated_and_reopens(
    reopen: Opener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDLINE_ARTIFACTS", raising=False)
    store = reopen()
    sqlite = store.engine.dialect.name == "sqlite"
    with store.engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        if sqlite:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert version == SCHEMA_HEAD
    beside = tmp_path / "reg" / "artifacts" if sqlite else Path(".redline", "artifacts")
    assert store.artifacts.root == beside
    assert store.verify_audit().ok and store.events() == []
    reopen()  # idempotent


def test_store_url_from_the_environment(
    store_url: str, reopen: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDLINE_STORE", store_url)
    assert reopen(None).engine.url.database == sa.make_url(store_url).database


@pytest.mark.parametrize(
    ("url", "expected"),
    [("not a url", "malformed store URL"), ("mysql://u@h/db", "use sqlite")],
)
def test_bad_urls_are_input_errors(url: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        open_store(url)


def test_a_store_from_a_newer_redline_is_refused(store: Store, reopen: Opener) -> None:
    with store.transaction() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'r9999'")
    with pytest.raises(InputError, match="r9999 is newer"):
        reopen()


def test_audit_commits_and_rolls_back_with_the_change(store: Store) -> None:
    with store.transaction() as conn:
        conn.execute(models.insert().values(name="fraud", created_at="t"))
        store.audit(conn, actor="ci", action="model.add", subject="fraud", details={"n": 1})
    with pytest.raises(RuntimeError), store.transaction() as conn:
        conn.execute(models.insert().values(name="ghost", created_at="t"))
        store.audit(conn, actor="ci", action="model.add", subject="ghost")
        raise RuntimeError("crash before commit")
    with store.engine.connect() as conn:
        names = conn.execute(sa.select(models.c.name)).scalars().all()
    assert names == ["fraud"]
    events = store.events()
    assert [e.subject for e in events] == ["fraud"] and events[0].details == {"n": 1}
    assert store.verify_audit().ok


def test_an_edited_or_truncated_audit_log_fails_verification(store: Store) -> None:
    for i in range(4):
        with store.transaction() as conn:
            store.audit(conn, actor="ci", action="step", subject=f"s{i}")
    with store.transaction() as conn:
        conn.execute(audit_events.update().where(audit_events.c.seq == 2).values(actor="eve"))
    found = store.verify_audit()
    assert found.bad_seq == 2 and "hash" in found.reason
    with store.transaction() as conn:
        conn.execute(audit_events.update().where(audit_events.c.seq == 2).values(actor="ci"))
        conn.execute(audit_events.delete().where(audit_events.c.seq == 4))
    found = store.verify_audit()
    assert not found.ok and "head" in found.reason
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(chain_head.c.seq)).scalar() == 4


_APPEND = """
import os, sys
from redline.registry import open_store
store = open_store(sys.argv[1])
for i in range(int(sys.argv[2])):
    with store.transaction() as conn:
        store.audit(conn, actor=f"pid-{os.getpid()}", action="append", subject=str(i))
store.engine.dispose()
"""


def test_concurrent_writers_keep_one_linear_chain(store_url: str, store: Store) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", _APPEND, store_url, "25"]) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    events = store.events()
    assert len(events) == 100 and store.verify_audit().ok
    assert len({e.actor for e in events}) == 4


_OPEN = """
import sys
from redline.registry import open_store
open_store(sys.argv[1]).engine.dispose()
"""


def test_concurrent_first_opens_migrate_once(store_url: str, reopen: Callable[..., Store]) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", _OPEN, store_url]) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    with reopen().engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert version == SCHEMA_HEAD
