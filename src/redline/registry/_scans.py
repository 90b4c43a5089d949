"""Scan results stored against the version they measured, with the policy verdict they
carried, so promotion and rollback can ask "did this version pass?"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from redline.errors import InputError
from redline.registry._store import Store, now
from redline.registry._tables import scans
from redline.registry._versions import VersionInfo, _resolve

if TYPE_CHECKING:
    from redline.results import ScanResult

__all__ = ["ScanRecord", "latest_scan", "list_scans", "record_scan"]


@dataclass(frozen=True)
class ScanRecord:
    """One stored scan: its id, the version it measured, the verdict it carried (None
    when it was run without a policy) and the full result JSON."""

    id: int
    version: str
    passed: bool | None
    created_at: str
    result: dict[str, Any]

    def scan_result(self) -> ScanResult:
        """The stored JSON as a :class:`~redline.results.ScanResult`."""
        from redline.results import result_from_dict

        return result_from_dict(self.result, f"scan #{self.id}")


def _check_matches(version: VersionInfo, result: ScanResult) -> None:
    """A scan of other weights must not be filed under this version."""
    measured = result.target.sha256
    if measured is not None and measured != version.artifact_sha256:
        raise InputError(
            f"the scan measured weights {measured[:12]}…, but {version.ref} is "
            f"{version.artifact_sha256[:12]}…: scan the registered version"
        )


def record_scan(store: Store, ref: str, result: ScanResult, *, actor: str) -> ScanRecord:
    """Store ``result`` against the version ``ref`` names (audited). The verdict kept is
    the policy verdict inside the result (None if it was scanned without a policy)."""
    passed = None if result.policy is None else bool(result.policy.passed)
    body = result.model_dump(mode="json")
    with store.transaction() as conn:
        version = _resolve(conn, ref)
        _check_matches(version, result)
        values = {
            "version_id": version.id,
            "result": body,
            "passed": None if passed is None else int(passed),
            "created_at": now(),
        }
        key = conn.execute(scans.insert().values(values)).inserted_primary_key
        scan_id = int(key[0]) if key is not None else 0
        details = {
            "scan_id": scan_id,
            "passed": passed,
            "policy": None if result.policy is None else result.policy.source,
            "clean_accuracy": result.clean.accuracy.value,
            "robust": {f"{r.eps:g}": r.robust.value for r in result.eps},
        }
        store.audit(conn, actor=actor, action="scan.record", subject=version.ref, details=details)
    return ScanRecord(scan_id, version.ref, passed, str(values["created_at"]), body)


def _record(row: Any, ref: str) -> ScanRecord:
    passed = None if row.passed is None else bool(row.passed)
    result = dict(row.result) if "result" in row._fields else {}
    return ScanRecord(int(row.id), ref, passed, row.created_at, result)


def latest_scan_in(
    conn: Connection, version: VersionInfo, *, with_result: bool = True
) -> ScanRecord | None:
    """The newest scan of ``version`` inside an open transaction (``with_result=False``
    leaves the JSON in the database: the verdict is enough for a gate)."""
    columns = [scans.c.id, scans.c.passed, scans.c.created_at]
    if with_result:
        columns.append(scans.c.result)
    row = conn.execute(
        sa.select(*columns)
        .where(scans.c.version_id == version.id)
        .order_by(scans.c.id.desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else _record(row, version.ref)


def latest_scan(store: Store, ref: str) -> ScanRecord | None:
    """The newest scan stored against ``ref``, or None if it was never scanned."""
    with store.engine.connect() as conn:
        return latest_scan_in(conn, _resolve(conn, ref))


def list_scans(store: Store, ref: str) -> list[ScanRecord]:
    """Every scan of ``ref``, oldest first."""
    with store.engine.connect() as conn:
        version = _resolve(conn, ref)
        rows = conn.execute(
            sa.select(scans).where(scans.c.version_id == version.id).order_by(scans.c.id)
        ).all()
    return [_record(r, version.ref) for r in rows]
