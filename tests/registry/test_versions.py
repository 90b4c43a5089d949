"""Registering versions, resolving references and moving aliases, each audited (on SQLite
and PostgreSQL: the ``store`` fixture is in conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from redline.datasets import Dataset, manifest
from redline.errors import InputError, IntegrityError
from redline.registry import (
    Store,
    get_version,
    list_versions,
    parse_ref,
    register,
    set_alias,
)


def _weights(tmp_path: Path, name: str, payload: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(payload)
    return path


def test_register_numbers_versions_and_records_lineage(store: Store, tmp_path: Path) -> None:
    data = Dataset(np.zeros((4, 3), np.float32), np.array([0, 1, 0, 1]), "train.npz")
    manifest(data).to_json(tmp_path / "train.manifest.json")
    one = register(store, "fraud", _weights(tmp_path, "a.pt", b"v1"), actor="ana", note="first")
    two = register(
        store,
        "fraud",
        _weights(tmp_path, "b.pt", b"v2"),
        actor="ana",
        parent="fraud@1",
        data_manifests=[tmp_path / "train.manifest.json"],
        training_config={"epochs": 20},
    )
    assert (one.number, two.number, two.parent) == (1, 2, one.id)
    assert two.data_manifests[0]["n"] == 4 and two.training_config == {"epochs": 20}
    assert store.artifacts.read_bytes(two.artifact_sha256) == b"v2"
    assert [v.ref for v in list_versions(store, "fraud")] == ["fraud@1", "fraud@2"]
    assert get_version(store, "fraud").number == 2
    events = store.events()
    assert [(e.action, e.subject) for e in events] == [
        ("version.register", "fraud@1"),
        ("version.register", "fraud@2"),
    ]
    assert events[1].details["artifact_sha256"] == two.artifact_sha256
    assert store.verify_audit().ok


def test_aliases_move_and_resolve(store: Store, tmp_path: Path) -> None:
    for i in range(3):
        register(store, "fraud", _weights(tmp_path, f"{i}.pt", bytes([i])), actor="ci")
    set_alias(store, "fraud@2", "canary", actor="ana", reason="passed policy")
    assert get_version(store, "fraud@canary").number == 2
    set_alias(store, "fraud@3", "canary", actor="ana")
    assert get_version(store, "fraud@canary").number == 3
    last = store.events()[-1]
    assert last.action == "alias.set" and last.details["alias"] == "canary"
    assert last.details["previous"] == 2


def test_bad_references_are_input_errors_and_write_nothing(store: Store, tmp_path: Path) -> None:
    register(store, "fraud", _weights(tmp_path, "a.pt", b"v1"), actor="ci")
    before = len(store.events())
    cases = {
        "fraud@9": "unknown version",
        "nope@1": "unknown model",
        "fraud@staging": "no alias 'staging'",
        "../x@1": "model name",
    }
    for ref, expected in cases.items():
        with pytest.raises(InputError, match=expected):
            get_version(store, ref)
    with pytest.raises(InputError, match="unknown version"):
        set_alias(store, "fraud@9", "canary", actor="ci")
    with pytest.raises(InputError, match="alias"):
        set_alias(store, "fraud@1", "prod uction", actor="ci")
    with pytest.raises(InputError, match="unknown model"):
        register(store, "other", _weights(tmp_path, "b.pt", b"v"), actor="ci", parent="nope@1")
    with pytest.raises(InputError, match="no such file"):
        register(store, "other", tmp_path / "missing.pt", actor="ci")
    assert len(store.events()) == before and len(store.artifacts.stored()) == 1
    assert [v.ref for v in list_versions(store, "fraud")] == ["fraud@1"]
    assert parse_ref("fraud@12") == ("fraud", 12) and parse_ref("fraud") == ("fraud", None)


def test_a_tampered_artifact_is_named_on_load(store: Store, tmp_path: Path) -> None:
    v = register(store, "fraud", _weights(tmp_path, "a.pt", b"weights" * 100), actor="ci")
    path = store.artifacts.path(v.artifact_sha256)
    path.chmod(0o644)
    path.write_bytes(b"evil" * 175)
    with pytest.raises(IntegrityError, match=str(path)):
        store.artifacts.verify(v.artifact_sha256)
    assert json.loads(json.dumps(v.input_spec)) == {}
