"""Incidents: open -> acknowledged -> mitigated -> resolved, with a timeline of notes
and links to the versions and scans involved. Every event is audited in the same
transaction; an illegal transition is an input error and changes nothing.

Allowed moves: acknowledge an open incident, mitigate an acknowledged one, resolve a
mitigated or acknowledged one (a false alarm needs no mitigation, but someone must have
looked), and reopen a resolved one. Notes can be added in any state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from redline.errors import InputError
from redline.registry._lifecycle import PRODUCTION, _current
from redline.registry._store import Store, now
from redline.registry._tables import incident_events, incidents, models, scans
from redline.registry._versions import _model_id, _resolve, parse_ref

__all__ = [
    "SEVERITIES",
    "STATES",
    "IncidentEvent",
    "IncidentInfo",
    "add_note",
    "get_incident",
    "list_incidents",
    "open_incident",
    "transition",
]

SEVERITIES = ("low", "medium", "high", "critical")
STATES = ("open", "acknowledged", "mitigated", "resolved")
_MOVES = {
    "acknowledge": ({"open"}, "acknowledged"),
    "mitigate": ({"acknowledged"}, "mitigated"),
    "resolve": ({"acknowledged", "mitigated"}, "resolved"),
    "reopen": ({"resolved"}, "open"),
}


@dataclass(frozen=True)
class IncidentEvent:
    """One timeline entry: what happened (open, acknowledge, ..., note), the state after
    it, who, when, the note and the linked versions/scans."""

    action: str
    state: str
    actor: str
    at: str
    note: str | None
    links: dict[str, Any]


@dataclass(frozen=True)
class IncidentInfo:
    """An incident and its timeline, oldest event first."""

    id: int
    model: str
    title: str
    severity: str
    state: str
    opened_by: str | None
    opened_at: str
    updated_at: str | None
    timeline: list[IncidentEvent] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """Not yet resolved."""
        return self.state != "resolved"


def _links(
    conn: Connection, model: str, refs: Sequence[str], scan_ids: Sequence[int]
) -> dict[str, Any]:
    """Resolve linked versions (of this model) and scans now, so a bad link fails
    before anything is written."""
    found = []
    for ref in refs:
        version = _resolve(conn, ref)
        if version.model != model:
            raise InputError(f"{ref} is not a version of {model!r}")
        found.append(version.ref)
    for scan_id in scan_ids:
        if conn.execute(sa.select(scans.c.id).where(scans.c.id == scan_id)).first() is None:
            raise InputError(f"unknown scan #{scan_id}")
    return {"versions": found, "scans": list(scan_ids)}


def _event(
    store: Store, conn: Connection, incident_id: int, entry: IncidentEvent, subject: str
) -> None:
    values = {"incident_id": incident_id, **entry.__dict__}
    conn.execute(incident_events.insert().values(values))
    conn.execute(
        incidents.update().where(incidents.c.id == incident_id).values(updated_at=entry.at)
    )
    details = {"incident": incident_id, "state": entry.state, "note": entry.note, **entry.links}
    store.audit(
        conn, actor=entry.actor, action=f"incident.{entry.action}", subject=subject, details=details
    )


def open_incident(
    store: Store,
    ref: str,
    *,
    severity: str,
    title: str,
    actor: str,
    note: str | None = None,
    scans: Sequence[int] = (),
) -> IncidentInfo:
    """Open an incident on a model. ``ref`` may name a version (``fraud@3``) to link it;
    a bare name links the version in production, if any."""
    if severity not in SEVERITIES:
        raise InputError(f"severity {severity!r}: use one of {', '.join(SEVERITIES)}")
    if not title.strip():
        raise InputError("an incident needs a title")
    name, selector = parse_ref(ref)
    with store.transaction() as conn:
        model_id = _model_id(conn, name, create=False)
        serving = _current(conn, model_id, PRODUCTION) if selector is None else None
        refs = [ref] if selector is not None else ([serving.ref] if serving else [])
        links = _links(conn, name, refs, scans)
        at = now()
        values = {"model_id": model_id, "title": title, "severity": severity, "state": "open"}
        values |= {"opened_at": at, "opened_by": actor, "updated_at": at}
        key = conn.execute(incidents.insert().values(values)).inserted_primary_key
        incident_id = int(key[0]) if key is not None else 0
        entry = IncidentEvent("open", "open", actor, at, note, links)
        _event(store, conn, incident_id, entry, f"incident/{incident_id}")
    return get_incident(store, incident_id)


def _locked(conn: Connection, incident_id: int) -> Any:
    row = conn.execute(
        sa.select(incidents, models.c.name.label("model"))
        .join(models, models.c.id == incidents.c.model_id)
        .where(incidents.c.id == incident_id)
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise InputError(f"unknown incident #{incident_id}")
    return row


def transition(
    store: Store,
    incident_id: int,
    move: str,
    *,
    actor: str,
    note: str | None = None,
    versions: Sequence[str] = (),
    scans: Sequence[int] = (),
) -> IncidentInfo:
    """``move`` is acknowledge, mitigate, resolve or reopen; anything the state machine
    does not allow from the current state is an input error and writes nothing."""
    if move not in _MOVES:
        raise InputError(f"unknown incident action {move!r}: use {', '.join(_MOVES)}")
    sources, state = _MOVES[move]
    with store.transaction() as conn:
        row = _locked(conn, incident_id)
        if row.state not in sources:
            raise InputError(
                f"incident #{incident_id} is {row.state}: cannot {move} it "
                f"(allowed from {', '.join(sorted(sources))})"
            )
        links = _links(conn, row.model, versions, scans)
        conn.execute(incidents.update().where(incidents.c.id == incident_id).values(state=state))
        entry = IncidentEvent(move, state, actor, now(), note, links)
        _event(store, conn, incident_id, entry, f"incident/{incident_id}")
    return get_incident(store, incident_id)


def add_note(
    store: Store,
    incident_id: int,
    note: str,
    *,
    actor: str,
    versions: Sequence[str] = (),
    scans: Sequence[int] = (),
) -> IncidentInfo:
    """Add a note (and links) to the timeline without changing the state."""
    if not note.strip():
        raise InputError("the note is empty")
    with store.transaction() as conn:
        row = _locked(conn, incident_id)
        links = _links(conn, row.model, versions, scans)
        entry = IncidentEvent("note", row.state, actor, now(), note, links)
        _event(store, conn, incident_id, entry, f"incident/{incident_id}")
    return get_incident(store, incident_id)


def _info(row: Any, timeline: list[IncidentEvent]) -> IncidentInfo:
    return IncidentInfo(
        id=int(row.id),
        model=row.model,
        title=row.title,
        severity=row.severity,
        state=row.state,
        opened_by=row.opened_by,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        timeline=timeline,
    )


def _timeline(conn: Connection, incident_id: int) -> list[IncidentEvent]:
    rows = conn.execute(
        sa.select(incident_events)
        .where(incident_events.c.incident_id == incident_id)
        .order_by(incident_events.c.id)
    ).all()
    return [
        IncidentEvent(r.action or r.state, r.state, r.actor, r.at, r.note, dict(r.links))
        for r in rows
    ]


def _select() -> sa.Select[Any]:
    return sa.select(incidents, models.c.name.label("model")).join(
        models, models.c.id == incidents.c.model_id
    )


def get_incident(store: Store, incident_id: int) -> IncidentInfo:
    """One incident with its timeline."""
    with store.engine.connect() as conn:
        row = conn.execute(_select().where(incidents.c.id == incident_id)).one_or_none()
        if row is None:
            raise InputError(f"unknown incident #{incident_id}")
        return _info(row, _timeline(conn, incident_id))


def list_incidents(
    store: Store, model: str | None = None, *, open_only: bool = False
) -> list[IncidentInfo]:
    """Incidents (of ``model`` if given), newest first, each with its timeline."""
    with store.engine.connect() as conn:
        query = _select().order_by(incidents.c.id.desc())
        if model is not None:
            query = query.where(
                incidents.c.model_id == _model_id(conn, model, create=False, lock=False)
            )
        if open_only:
            query = query.where(incidents.c.state != "resolved")
        return [_info(r, _timeline(conn, int(r.id))) for r in conn.execute(query).all()]
