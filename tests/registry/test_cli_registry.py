"""The registry, incident and audit commands end to end, on SQLite and PostgreSQL: exit
codes, one-line errors, nothing written on bad input, tampering caught with exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import torch
from tests.registry._helpers import judged

from redline.cli.main import run
from redline.evaluation import ScanResult
from redline.registry import Store, get_version, list_incidents, record_scan
from redline.registry._tables import audit_events
from redline.zoo import digits_cnn


@pytest.fixture
def cli(store: Store, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``run`` against the test's store (``--store`` given, artifacts beside the fixture's)."""
    monkeypatch.setenv("REDLINE_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("REDLINE_ACTOR", "ana")

    def _run(*args: str) -> int:
        return run([*args, "--store", store_url])

    return _run


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "w.pt"
    torch.save(digits_cnn().state_dict(), path)
    return path


def _state(store: Store) -> tuple[int, int, list[str]]:
    with store.engine.connect() as conn:
        versions = conn.exec_driver_sql("SELECT count(*) FROM versions").scalar_one()
    return len(store.events()), int(versions), store.artifacts.stored()


def test_the_documented_workflow(
    cli, store: Store, weights: Path, tmp_path: Path, digits_scan: ScanResult, capsys
) -> None:  # type: ignore[no-untyped-def]
    model = ["--model", "redline.zoo:digits_cnn"]
    assert cli("registry", "add", "fraud", "--weights", str(weights), *model, "--note", "q3") == 0
    assert capsys.readouterr().out.strip() == "fraud@1"
    other = tmp_path / "w2.pt"
    torch.save(digits_cnn().state_dict(), other)
    assert (
        cli("registry", "add", "fraud", "--weights", str(other), *model, "--parent", "fraud@1") == 0
    )
    assert get_version(store, "fraud@2").framework == "torch/state_dict"
    record_scan(store, "fraud@1", judged(digits_scan, True), actor="ci")
    record_scan(store, "fraud@2", judged(digits_scan, False), actor="ci")
    assert cli("registry", "promote", "fraud@1") == 0
    assert cli("registry", "promote", "fraud@2") == 1  # the gate says no
    assert "refused: fraud@2 not promoted" in capsys.readouterr().err
    assert cli("registry", "promote", "fraud@2", "--force") == 2  # no reason
    assert cli("registry", "promote", "fraud@2", "--force", "--reason", "INC-1 hotfix") == 0
    assert cli("incident", "open", "fraud", "--severity", "high", "--title", "drift") == 0
    assert cli("incident", "ack", "1", "--note", "looking") == 0
    assert cli("registry", "rollback", "fraud", "--incident", "1", "--reason", "drift") == 0
    assert get_version(store, "fraud@production").number == 1
    assert cli("incident", "mitigate", "1", "--note", "rolled back") == 0
    assert cli("incident", "resolve", "1", "--note", "retrained") == 0
    timeline = list_incidents(store)[0].timeline
    assert [e.action for e in timeline] == ["open", "acknowledge", "note", "mitigate", "resolve"]
    assert timeline[2].links["versions"] == ["fraud@2", "fraud@1"]
    capsys.readouterr()
    assert cli("registry", "list", "fraud") == 0
    listing = capsys.readouterr().out.splitlines()
    assert "production" in listing[0] and "WITHDRAWN" in listing[1]
    assert cli("audit", "verify") == 0
    out = tmp_path / "audit.jsonl"
    assert cli("audit", "export", "--out", str(out)) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["seq"] for x in lines] == list(range(1, len(lines) + 1))
    assert {"alias.force", "alias.rollback", "incident.resolve"} <= {x["action"] for x in lines}
    got = tmp_path / "got.pt"
    assert cli("registry", "get", "fraud@production", "--out", str(got)) == 0
    assert got.read_bytes() == weights.read_bytes()


def test_weights_that_do_not_load_are_not_registered(cli, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    assert (
        cli("registry", "add", "fraud", "--weights", str(junk), "--model", "redline.zoo:mlp") == 2
    )
    assert _state(store) == (0, 0, [])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["registry", "promote", "nope@1"], "unknown model 'nope'"),
        (["registry", "promote", "fraud@9"], "unknown version 'fraud@9'"),
        (["registry", "promote", "fraud@candidate"], "has no alias 'candidate'"),
        (["registry", "alias", "fraud@9", "candidate"], "unknown version 'fraud@9'"),
        (["registry", "alias", "fraud@1", "production"], "only by promote"),
        (["registry", "alias", "fraud@1", "bad alias!"], "alias 'bad alias!'"),
        (["registry", "rollback", "nope"], "unknown model 'nope'"),
        (["registry", "show", "fraud@x y"], "alias 'x y'"),
        (["registry", "add", "fraud", "--weights", "missing.pt"], "missing.pt: no such file"),
        (["registry", "add", "fr aud", "--weights", "missing.pt"], "model name 'fr aud'"),
        (["incident", "open", "fraud", "--severity", "bad", "--title", "t"], "severity 'bad'"),
        (["incident", "open", "nope", "--severity", "low", "--title", "t"], "unknown model"),
        (["incident", "ack", "99"], "unknown incident #99"),
        (["audit", "export", "--out", "/nonexistent/dir/a.jsonl"], "not a file path"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    cli, store: Store, tmp_path: Path, capsys, args: list[str], message: str
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "w.pt").write_bytes(b"x")
    assert (
        cli("registry", "add", "fraud", "--weights", str(tmp_path / "w.pt"), "--no-check-load") == 0
    )
    capsys.readouterr()
    before = _state(store)
    assert cli(*args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert _state(store) == before


def test_illegal_incident_transition_exits_2(cli, store: Store, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "w.pt").write_bytes(b"x")
    assert (
        cli("registry", "add", "fraud", "--weights", str(tmp_path / "w.pt"), "--no-check-load") == 0
    )
    assert cli("incident", "open", "fraud@1", "--severity", "low", "--title", "t") == 0
    before = _state(store)
    capsys.readouterr()
    assert cli("incident", "resolve", "1") == 2
    assert "incident #1 is open: cannot resolve it" in capsys.readouterr().err
    assert _state(store) == before


@pytest.mark.parametrize(
    "url", ["sqlite:", "mysql://u@h/db", "not a url", "postgresql+psycopg://u:pw@127.0.0.1:1/x"]
)
def test_malformed_store_urls_exit_2(url: str, capsys, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    assert run(["audit", "verify", "--store", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("redline: error: ") and err.count("\n") == 1 and "pw" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_newer_schema_exits_2(cli, store: Store, capsys) -> None:  # type: ignore[no-untyped-def]
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'r9999'")
    assert cli("audit", "verify") == 2
    assert "schema r9999 is newer" in capsys.readouterr().err
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "r9999"


def test_an_edited_audit_row_fails_verify_naming_it(
    cli, store: Store, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        (tmp_path / f"w{i}").write_bytes(b"%d" % i)
        assert (
            cli("registry", "add", "fraud", "--weights", str(tmp_path / f"w{i}"), "--no-check-load")
            == 0
        )
    with store.engine.begin() as conn:
        conn.execute(sa.update(audit_events).where(audit_events.c.seq == 2).values(actor="mallory"))
    capsys.readouterr()
    assert cli("audit", "verify") == 1
    assert capsys.readouterr().err.strip() == (
        "redline: integrity failure: audit event #2: content does not match its hash"
    )


def test_a_flipped_artifact_byte_fails_load_naming_the_file(
    cli, store: Store, weights: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    assert cli("registry", "add", "fraud", "--weights", str(weights), "--no-check-load") == 0
    blob = store.artifacts.path(get_version(store, "fraud@1").artifact_sha256)
    data = bytearray(blob.read_bytes())
    data[100] ^= 1
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    capsys.readouterr()
    assert cli("registry", "get", "fraud@1", "--out", str(tmp_path / "out.pt")) == 1
    err = capsys.readouterr().err
    assert "integrity failure" in err and str(blob) in err
    assert not (tmp_path / "out.pt").exists()
    assert cli("registry", "check") == 1
    assert f"CORRUPT {blob}" in capsys.readouterr().err


def test_scan_registry_stores_the_result_against_the_version(
    cli, store: Store, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    from redline.registry import latest_scan
    from redline.zoo import mlp

    torch.manual_seed(0)
    path = tmp_path / "mlp.pt"
    torch.save(mlp().state_dict(), path)
    add = ["registry", "add", "cancer", "--weights", str(path), "--model", "redline.zoo:mlp"]
    assert cli(*add, "--bounds", "-5,5") == 0
    policy = tmp_path / "redline.toml"
    policy.write_text("[policy]\nmin_clean_accuracy = 0.0\nchecks = 'none'\n")
    scan = ["scan", "--registry", "cancer@1", "--data", "bundled:breast_cancer:test"]
    quick = ["--threat", "linf:0.1", "--suite", "quick", "--limit", "30", "--no-progress"]
    quick += ["--no-checks", "--no-minimal", "--bounds", "-5,5", "--policy", str(policy)]
    assert cli(*scan, *quick, "--weights", str(path), "--out", str(tmp_path / "r0")) == 2
    assert "drop --weights" in capsys.readouterr().err
    assert cli(*scan, *quick, "--out", str(tmp_path / "r1")) == 0
    assert "stored as scan #1 of cancer@1 (passed)" in capsys.readouterr().err
    stored = latest_scan(store, "cancer@1")
    assert stored is not None and stored.passed is True
    measured = stored.scan_result().target.sha256
    assert measured == get_version(store, "cancer@1").artifact_sha256
    assert cli("registry", "promote", "cancer@1") == 0


def test_an_anchor_catches_a_rewritten_chain(cli, store: Store, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from redline.registry import next_event

    for i in range(3):
        (tmp_path / f"w{i}").write_bytes(b"%d" % i)
        assert (
            cli("registry", "add", "fraud", "--weights", str(tmp_path / f"w{i}"), "--no-check-load")
            == 0
        )
    capsys.readouterr()
    assert cli("audit", "head") == 0
    anchor = capsys.readouterr().out.strip()
    assert anchor.startswith("3:") and cli("audit", "verify", "--anchor", anchor) == 0
    # An attacker with write access rewrites event 2 and re-hashes everything after it.
    events = store.events()
    forged, previous = [], events[0]
    for e in events[1:]:
        actor = "mallory" if e.seq == 2 else e.actor
        previous = next_event(
            previous, at=e.at, actor=actor, action=e.action, subject=e.subject, details=e.details
        )
        forged.append(previous)
    with store.engine.begin() as conn:
        for e in forged:
            conn.execute(
                sa.update(audit_events)
                .where(audit_events.c.seq == e.seq)
                .values(actor=e.actor, prev_hash=e.prev_hash, hash=e.hash)
            )
        conn.exec_driver_sql(f"UPDATE chain_head SET hash = '{forged[-1].hash}'")
    assert cli("audit", "verify") == 0  # self-consistent: the chain alone cannot tell
    capsys.readouterr()
    assert cli("audit", "verify", "--anchor", anchor) == 1
    assert "audit event #3: does not match the anchor" in capsys.readouterr().err
    assert cli("audit", "verify", "--anchor", "3:xyz") == 2
