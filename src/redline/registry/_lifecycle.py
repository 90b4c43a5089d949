"""Moving aliases: plain ``set_alias``, policy-gated ``promote`` and ``rollback`` to the
last known-good version. Each locks the model's row, verifies the artifact it points
production at, and records the move in the alias history and the audit log in the same
transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from redline.errors import InputError, RefusedError
from redline.registry._scans import latest_scan_in
from redline.registry._store import Store, now
from redline.registry._tables import alias_history, aliases, versions
from redline.registry._versions import (
    VersionInfo,
    _check_name,
    _info,
    _model_id,
    _query,
    _resolve,
)

if TYPE_CHECKING:
    from redline.policy import Policy

__all__ = ["PRODUCTION", "Gate", "Move", "promote", "rollback", "set_alias"]

PRODUCTION = "production"
"""The alias that only ``promote`` and ``rollback`` may move."""


@dataclass(frozen=True)
class Gate:
    """Whether a version's latest scan passes: ``scan_id`` is that scan (None if the
    version was never scanned), ``reason`` says why it failed."""

    passed: bool
    reason: str
    scan_id: int | None


@dataclass(frozen=True)
class Move:
    """One alias move: where it points now, where it pointed before (None if new), the
    gate that allowed it, and the candidates a rollback passed over, with why."""

    alias: str
    version: VersionInfo
    previous: VersionInfo | None
    gate: Gate | None = None
    forced: bool = False
    skipped: tuple[tuple[str, str], ...] = ()


def gate_in(conn: Connection, version: VersionInfo, policy: Policy | None) -> Gate:
    """Judge ``version`` by its newest scan: against ``policy`` when given (today's
    rules), else by the verdict the scan carried."""
    scan = latest_scan_in(conn, version, with_result=policy is not None)
    if scan is None:
        return Gate(False, f"{version.ref} was never scanned", None)
    if policy is not None:
        verdict = policy.evaluate(scan.scan_result())
        failed = [f.rule for f in verdict.findings if not f.passed]
        why = f"scan #{scan.id} fails {', '.join(failed)}" if failed else f"scan #{scan.id} passes"
        return Gate(verdict.passed, why, scan.id)
    if scan.passed is None:
        return Gate(False, f"scan #{scan.id} ran without a policy: pass --policy", scan.id)
    verdict_word = "passed" if scan.passed else "failed"
    return Gate(scan.passed, f"scan #{scan.id} {verdict_word} its policy", scan.id)


def _current(conn: Connection, model_id: int, alias: str) -> VersionInfo | None:
    row = conn.execute(
        _query()
        .join(aliases, aliases.c.version_id == versions.c.id)
        .where(aliases.c.model_id == model_id, aliases.c.name == alias)
    ).one_or_none()
    if row is None:
        return None
    return _info(row._mapping)


def _move(
    store: Store,
    conn: Connection,
    target: VersionInfo,
    alias: str,
    how: tuple[str, str, str | None],
    details: dict[str, Any],
) -> VersionInfo | None:
    """Point ``alias`` at ``target``; write the history row and the audit event.
    ``how`` is (action, actor, reason)."""
    action, actor, reason = how
    model_id = _model_id(conn, target.model, create=False)
    before = _current(conn, model_id, alias)
    key = (aliases.c.model_id == model_id) & (aliases.c.name == alias)
    at = now()
    if before is None:
        conn.execute(
            aliases.insert().values(
                model_id=model_id, name=alias, version_id=target.id, updated_at=at
            )
        )
    else:
        conn.execute(aliases.update().where(key).values(version_id=target.id, updated_at=at))
    conn.execute(
        alias_history.insert().values(
            model_id=model_id,
            alias=alias,
            version_id=target.id,
            previous_version_id=None if before is None else before.id,
            action=action,
            actor=actor,
            reason=reason,
            at=at,
        )
    )
    body = {"alias": alias, "version": target.number, "reason": reason, **details}
    body["previous"] = None if before is None else before.number
    store.audit(conn, actor=actor, action=f"alias.{action}", subject=target.ref, details=body)
    return before


def set_alias(store: Store, ref: str, alias: str, *, actor: str, reason: str | None = None) -> Move:
    """Point ``alias`` (not ``production``) at the version ``ref`` names (audited)."""
    _check_name(alias, "alias")
    if alias == PRODUCTION:
        raise InputError("production moves only by promote (policy-gated) or rollback")
    with store.transaction() as conn:
        target = _resolve(conn, ref)
        _model_id(conn, target.model, create=False)  # lock before reading the alias
        before = _move(store, conn, target, alias, ("set", actor, reason), {})
    return Move(alias, target, before)


def promote(
    store: Store,
    ref: str,
    *,
    actor: str,
    to: str = PRODUCTION,
    policy: Policy | None = None,
    force: bool = False,
    reason: str | None = None,
) -> Move:
    """Point ``to`` at ``ref`` if its newest scan passes the policy (RefusedError
    otherwise). ``force`` overrides a failing gate and needs a ``reason``; both the
    gate and the override are in the audit event. The artifact is verified first."""
    _check_name(to, "alias")
    if force and not (reason and reason.strip()):
        raise InputError("--force needs --reason: say why the policy is overridden")
    with store.transaction() as conn:
        target = _resolve(conn, ref)
        _model_id(conn, target.model, create=False)
        gate = gate_in(conn, target, policy)
        if not gate.passed and not force:
            raise RefusedError(f"{target.ref} not promoted to {to}: {gate.reason}")
        store.artifacts.verify(target.artifact_sha256)
        conn.execute(versions.update().where(versions.c.id == target.id).values(withdrawn_at=None))
        details = {"gate": gate.reason, "scan": gate.scan_id}
        details["forced"] = force and not gate.passed
        action = "force" if details["forced"] else "promote"
        before = _move(store, conn, target, to, (action, actor, reason), details)
    return Move(to, target, before, gate, bool(details["forced"]))


def _served_before(conn: Connection, model_id: int, alias: str) -> set[int]:
    rows = conn.execute(
        sa.select(alias_history.c.version_id).where(
            alias_history.c.model_id == model_id, alias_history.c.alias == alias
        )
    ).scalars()
    return {int(r) for r in rows}


def _known_good(
    conn: Connection, current: VersionInfo, alias: str, policy: Policy | None
) -> tuple[VersionInfo | None, list[tuple[str, str]]]:
    """The newest version that served ``alias`` before, was not rolled back from, and
    passes the gate; plus the candidates passed over and why."""
    model_id = _model_id(conn, current.model, create=False)
    served = _served_before(conn, model_id, alias) - {current.id}
    rows = conn.execute(
        _query().where(versions.c.id.in_(served)).order_by(versions.c.number.desc())
    ).all()
    skipped: list[tuple[str, str]] = []
    for row in rows:
        candidate = _info(row._mapping)
        if candidate.withdrawn_at is not None:
            skipped.append((candidate.ref, f"rolled back from at {candidate.withdrawn_at}"))
            continue
        gate = gate_in(conn, candidate, policy)
        if gate.passed:
            return candidate, skipped
        skipped.append((candidate.ref, gate.reason))
    return None, skipped


def rollback(
    store: Store,
    name: str,
    *,
    actor: str,
    alias: str = PRODUCTION,
    policy: Policy | None = None,
    reason: str | None = None,
) -> Move:
    """Move ``alias`` back to the newest version that served it before and passes the
    gate, after verifying that version's artifact; the version rolled back from is
    marked withdrawn (skipped by later rollbacks until it is promoted again). Refuses
    (RefusedError) when there is no production version or no known-good one."""
    _check_name(alias, "alias")
    with store.transaction() as conn:
        model_id = _model_id(conn, _check_name(name, "model name"), create=False)
        current = _current(conn, model_id, alias)
        if current is None:
            raise RefusedError(f"model {name!r} has no {alias} version to roll back from")
        target, skipped = _known_good(conn, current, alias, policy)
        if target is None:
            why = "; ".join(f"{r}: {w}" for r, w in skipped) or "no other version served it"
            raise RefusedError(f"no known-good version of {name!r} to roll back to ({why})")
        store.artifacts.verify(target.artifact_sha256)
        conn.execute(
            versions.update().where(versions.c.id == current.id).values(withdrawn_at=now())
        )
        details = {"from": current.number, "skipped": [list(s) for s in skipped]}
        _move(store, conn, target, alias, ("rollback", actor, reason), details)
    return Move(alias, target, current, skipped=tuple(skipped))
