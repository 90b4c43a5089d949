"""Scans stored against versions, policy-gated promotion, rollback to the last
known-good version: on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.registry._helpers import judged, versions

from redline.errors import InputError, IntegrityError, RefusedError
from redline.evaluation import ScanResult
from redline.policy import parse_policy
from redline.registry import (
    Store,
    get_version,
    latest_scan,
    list_scans,
    promote,
    record_scan,
    register,
    rollback,
    set_alias,
)
from redline.registry._tables import alias_history


def _actions(store: Store) -> list[str]:
    return [e.action for e in store.events()]


def test_scans_are_stored_against_their_version(
    store: Store, tmp_path: Path, digits_scan: ScanResult
) -> None:
    versions(store, tmp_path, digits_scan, "fraud", [None])
    assert latest_scan(store, "fraud@1") is None
    first = record_scan(store, "fraud@1", judged(digits_scan, False), actor="ci")
    second = record_scan(store, "fraud@1", judged(digits_scan, True), actor="ci")
    assert [s.id for s in list_scans(store, "fraud@1")] == [first.id, second.id]
    newest = latest_scan(store, "fraud@1")
    assert newest is not None and newest.passed is True
    again = newest.scan_result()
    assert again.clean.accuracy.value == digits_scan.clean.accuracy.value
    assert [r.robust.value for r in again.eps] == [r.robust.value for r in digits_scan.eps]
    assert _actions(store)[-2:] == ["scan.record", "scan.record"]


def test_a_scan_of_other_weights_is_refused(
    store: Store, tmp_path: Path, digits_scan: ScanResult
) -> None:
    versions(store, tmp_path, digits_scan, "fraud", [None])
    other = digits_scan.model_copy(
        update={"target": digits_scan.target.model_copy(update={"sha256": "ab" * 32})}
    )
    before = len(store.events())
    with pytest.raises(InputError, match="scan the registered version"):
        record_scan(store, "fraud@1", other, actor="ci")
    assert len(store.events()) == before and list_scans(store, "fraud@1") == []


def test_promotion_is_gated_by_the_latest_scan(
    store: Store, tmp_path: Path, digits_scan: ScanResult
) -> None:
    versions(store, tmp_path, digits_scan, "fraud", [True, False, None])
    moved = promote(store, "fraud@1", actor="ana")
    assert moved.previous is None and get_version(store, "fraud@production").number == 1
    events = len(store.events())
    with pytest.raises(RefusedError, match="scan #2 failed its policy"):
        promote(store, "fraud@2", actor="ana")
    with pytest.raises(RefusedError, match="never scanned"):
        promote(store, "fraud@3", actor="ana")
    assert len(store.events()) == events  # a refusal writes nothing
    assert get_version(store, "fraud@production").number == 1


def test_promotion_judged_by_todays_policy(
    store: Store, tmp_path: Path, digits_scan: ScanResult
) -> None:
    versions(store, tmp_path, digits_scan, "fraud", [True])
    accuracy = digits_scan.clean.accuracy.value
    strict = parse_policy(
        f"[policy]\nmin_clean_accuracy = {accuracy + 0.01}\nchecks = 'none'\n", source="t"
    )
    loose = parse_policy(
        f"[policy]\nmin_clean_accuracy = {accuracy - 0.01}\nchecks = 'none'\n", source="t"
    )
    with pytest.raises(RefusedError, match="fails min_clean_accuracy"):
        promote(store, "fraud@1", actor="ana", policy=strict)
    assert promote(store, "fraud@1", actor="ana", policy=loose).gate is not None


def test_force_needs_a_reason_and_is_audited(
    store: Store, tmp_path: Path, digits_scan: ScanResult
) -> None:
    versions(store, tmp_path, digits_scan, "fraud", [False])
    with pytest.raises(InputError, match="--force needs --reason"):
        promote(store, "fraud@1", actor="ana", force=True, reason="  ")
    moved = promote(store, "fraud@1", actor="ana", force=True, reason="hotfix for INC-7")
    assert moved.forced
    event = store.events()[-1]
    assert event.action == "alias.force" and event.actor == "ana"
    assert event.details["reason"] == "hotfix for INC-7" and event.details["forced"] is True
    assert "failed its policy" in event.details["gate"]


def test_production_moves_only_through_the_gate(
    store: Store, tmp_path: Path, digits_scan: ScanResult
) -> None:
    versions(store, tmp_path, digits_scan, "fraud", [False])
    with pytest.raises(InputError, match="only by promote"):
        set_alias(store, "fraud@1", "production", actor="ana")
    assert set_alias(store, "fraud@1", "candidate", actor="ana").version.number == 1
    with pytest.raises(InputError, match="unknown version"):
        set_alias(store, "fraud@9", "candidate", actor="ana")


def test_rollback_goes_to_the_newest_known_good_version(
    store: Store, tmp_path: Path, digits_scan: ScanResult
) -> None:
    versions(store, tmp_path, digits_scan, "fraud", [True, True, True, False])
    for n in (1, 2, 3):
        promote(store, f"fraud@{n}", actor="ana")
    promote(store, "fraud@4", actor="ana", force=True, reason="urgent")
    record_scan(store, "fraud@3", judged(digits_scan, False), actor="ci")  # 3 went bad
    moved = rollback(store, "fraud", actor="bob", reason="drift")
    assert (moved.previous and moved.previous.number, moved.version.number) == (4, 2)
    assert moved.skipped == (("fraud@3", "scan #5 failed its policy"),)
    assert get_version(store, "fraud@4").withdrawn_at is not None
    assert get_version(store, "fraud@production").number == 2
    assert rollback(store, "fraud", actor="bob").version.number == 1
    with pytest.raises(RefusedError, match="no known-good version"):
        rollback(store, "fraud", actor="bob")
    assert _actions(store).count("alias.rollback") == 2
    assert store.verify_audit().ok


def test_rollback_refuses_without_production(
    store: Store, tmp_path: Path, digits_scan: ScanResult
) -> None:
    versions(store, tmp_path, digits_scan, "fraud", [True])
    with pytest.raises(RefusedError, match="no production version"):
        rollback(store, "fraud", actor="bob")
    with pytest.raises(InputError, match="unknown model"):
        rollback(store, "nope", actor="bob")


def test_rollback_verifies_the_artifact_first(
    store: Store, tmp_path: Path, digits_scan: ScanResult
) -> None:
    versions(store, tmp_path, digits_scan, "fraud", [True, True])
    promote(store, "fraud@1", actor="ana")
    promote(store, "fraud@2", actor="ana")
    blob = store.artifacts.path(get_version(store, "fraud@1").artifact_sha256)
    blob.chmod(0o644)
    blob.write_bytes(b"tampered")
    events = len(store.events())
    with pytest.raises(IntegrityError, match=str(blob)):
        rollback(store, "fraud", actor="bob")
    assert get_version(store, "fraud@production").number == 2
    assert len(store.events()) == events and get_version(store, "fraud@2").withdrawn_at is None


def test_a_promotion_clears_a_withdrawal_and_history_is_linear(
    store: Store, tmp_path: Path, digits_scan: ScanResult
) -> None:
    versions(store, tmp_path, digits_scan, "fraud", [True, True])
    promote(store, "fraud@1", actor="ana")
    promote(store, "fraud@2", actor="ana")
    rollback(store, "fraud", actor="bob")
    promote(store, "fraud@2", actor="ana")
    assert get_version(store, "fraud@2").withdrawn_at is None
    assert rollback(store, "fraud", actor="bob").version.number == 1
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(alias_history).order_by(alias_history.c.id)).all()
    ids = {get_version(store, f"fraud@{n}").id: n for n in (1, 2)}
    chain = [(r.previous_version_id, r.version_id) for r in rows]
    assert [(ids.get(a), ids[b]) for a, b in chain] == [(None, 1), (1, 2), (2, 1), (1, 2), (2, 1)]
    assert [r.action for r in rows] == ["promote", "promote", "rollback", "promote", "rollback"]


def test_register_validates_before_writing(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        register(store, "fraud", tmp_path / "missing.pt", actor="ana")
    with pytest.raises(InputError, match="unknown model"):
        register(store, "fraud", tmp_path, actor="ana", parent="other@1")
    assert store.events() == [] and store.artifacts.stored() == []
