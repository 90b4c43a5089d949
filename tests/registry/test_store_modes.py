"""Opening a store for reading, writing or creating, on SQLite and PostgreSQL: a store
that does not exist (a mistyped ``--store``, another folder) is an error naming the URL
with nothing created, and a write that creates a store says so, once."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from redline.cli.main import run
from redline.errors import InputError
from redline.registry import SCHEMA_HEAD, Store, open_store, register
from redline.registry._open import _MIGRATIONS, REVISIONS

Opener = Callable[..., Store]

READS = [
    ["registry", "list"],
    ["registry", "list", "fraud"],
    ["registry", "show", "fraud@1"],
    ["registry", "get", "fraud@1", "--out", "{tmp}/got.pt"],
    ["registry", "check"],
    ["incident", "list"],
    ["incident", "show", "1"],
    ["audit", "verify"],
    ["audit", "head"],
    ["audit", "export"],
    ["card", "fraud@1", "--out", "{tmp}/card.md"],
    ["report", "compare", "fraud@1", "fraud@2"],
]
SCAN = ["scan", "--registry", "fraud@1", "--threat", "linf:0.1"]
WRITES_TO_EXISTING = [
    ["registry", "promote", "fraud@1"],
    ["registry", "rollback", "fraud"],
    ["registry", "alias", "fraud@1", "candidate"],
    ["registry", "migrate"],
    ["registry", "add", "fraud", "--weights", "{tmp}/w.pt", "--no-check-load", "--parent", "f@1"],
    ["incident", "open", "fraud", "--severity", "low", "--title", "t"],
    ["incident", "ack", "1"],
    ["incident", "note", "1", "--note", "n"],
    [*SCAN, "--data", "bundled:digits:test", "--out", "{tmp}/s"],
    [
        "harden",
        *SCAN[1:],
        "--data",
        "bundled:digits:train",
        "--out",
        "{tmp}/h",
        "--report",
        "{tmp}/r",
    ],
]


def _args(command: list[str], tmp: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp)) for a in command]


def _untouched(url: str) -> bool:
    """No file or folder for a SQLite URL; no table in a PostgreSQL database."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return not Path(str(parsed.database)).parent.exists()
    engine = sa.create_engine(parsed)
    try:
        return sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def _refused(err: str, url: str) -> bool:
    shown = sa.make_url(url).render_as_string(hide_password=True)
    return err.startswith("redline: error: ") and err.count("\n") == 1 and shown in err


@pytest.mark.parametrize("command", READS + WRITES_TO_EXISTING, ids=" ".join)
def test_commands_refuse_a_store_that_does_not_exist(
    command: list[str], store_url: str, reopen: Opener, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "w.pt").write_bytes(b"weights")
    assert run([*_args(command, tmp_path), "--store", store_url]) == 2
    err = capsys.readouterr().err
    assert _refused(err, store_url), err
    assert "no registry store at" in err
    assert _untouched(store_url)


def test_a_missing_folder_is_refused_and_not_made(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}"
    assert run(["registry", "list", "--store", url]) == 2
    assert _refused(capsys.readouterr().err, url)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["registry", "list"], ["incident", "list"], ["audit", "head"]])
def test_another_folder_without_a_store_is_refused(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REDLINE_STORE", raising=False)
    assert run(command) == 2
    err = capsys.readouterr().err
    assert _refused(err, "sqlite:///.redline/registry.db")
    assert str(tmp_path / ".redline" / "registry.db") in err
    assert list(tmp_path.iterdir()) == []


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_bytes(b""), "holds no redline schema"),
        (_foreign, "holds no redline schema"),
        (lambda p: p.write_text("not a database at all\n" * 100), "not a database"),
    ],
    ids=["empty", "foreign", "text"],
)
def test_a_file_that_is_not_a_store_is_refused_unchanged(
    make: Callable[[Path], object], expected: str, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "x.db"
    make(path)
    before = path.read_bytes()
    for command in (["registry", "list"], ["registry", "promote", "fraud@1"]):
        assert run([*command, "--store", f"sqlite:///{path}"]) == 2
        err = capsys.readouterr().err
        assert expected in err and str(path) in err and err.count("\n") == 1
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["x.db"]


def test_a_write_announces_the_store_it_creates_once(
    store_url: str, reopen: Opener, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights")
    add = ["registry", "add", "fraud", "--weights", str(weights), "--no-check-load"]
    assert run([*add, "--store", store_url, "--actor", "ana"]) == 0
    err = capsys.readouterr().err
    store = reopen(mode="read")
    assert err.count("created new store at") == 1
    assert f"created new store at {store.location}\n" in err and "registered fraud@1" in err
    assert run([*add, "--store", store_url, "--actor", "ana"]) == 0
    assert "created new store" not in capsys.readouterr().err
    assert run(["registry", "list", "--store", store_url]) == 0
    assert capsys.readouterr().out == "fraud: 2 version(s)\n"


def test_bad_input_to_the_first_add_creates_nothing(store_url: str, reopen: Opener, capsys) -> None:  # type: ignore[no-untyped-def]
    add = ["registry", "add", "fraud", "--weights", "/no/such/w.pt", "--no-check-load"]
    assert run([*add, "--store", store_url]) == 2
    assert "--weights /no/such/w.pt: no such file" in capsys.readouterr().err
    assert _untouched(store_url)


def test_the_library_default_still_creates(reopen: Opener, store_url: str) -> None:
    first, again = reopen(), reopen()
    assert first.created and not again.created and first.migrated_from is None
    assert reopen(mode="read").created is False and reopen(mode="write").created is False


def test_read_and_write_modes_refuse_a_missing_store(reopen: Opener, store_url: str) -> None:
    for mode in ("read", "write"):
        with pytest.raises(InputError, match="no registry store at"):
            reopen(mode=mode)
    assert _untouched(store_url)
    with pytest.raises(InputError, match="mode 'readonly'"):
        open_store(store_url, mode="readonly")  # type: ignore[arg-type]


def test_a_read_store_cannot_write(store: Store, reopen: Opener, tmp_path: Path) -> None:
    (tmp_path / "w.pt").write_bytes(b"weights")
    reader = reopen(mode="read", artifacts=tmp_path / "artifacts")
    with pytest.raises(sa.exc.DBAPIError, match=r"(?i)read.?only"):
        register(reader, "fraud", tmp_path / "w.pt", actor="ana")
    assert register(store, "fraud", tmp_path / "w.pt", actor="ana").ref == "fraud@1"
    assert [e.action for e in reader.events()] == ["version.register"]


def _downgrade(store: Store, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_an_older_schema_is_refused_by_reads_and_migrated_by_a_write(
    store: Store, store_url: str, reopen: Opener, capsys
) -> None:  # type: ignore[no-untyped-def]
    _downgrade(store, "r0001")
    assert run(["registry", "list", "--store", store_url]) == 2
    err = capsys.readouterr().err
    assert "schema r0001, older than this redline's" in err and "registry migrate" in err
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "r0001"
    assert run(["registry", "migrate", "--store", store_url]) == 0
    assert f"schema {SCHEMA_HEAD} (migrated from r0001)" in capsys.readouterr().err
    assert run(["registry", "migrate", "--store", store_url]) == 0
    assert "(already current)" in capsys.readouterr().err
    assert run(["registry", "list", "--store", store_url]) == 0


def test_the_known_revisions_are_the_migrations() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    walked = [r.revision for r in ScriptDirectory.from_config(config).walk_revisions()]
    assert tuple(reversed(walked)) == REVISIONS and REVISIONS[-1] == SCHEMA_HEAD
