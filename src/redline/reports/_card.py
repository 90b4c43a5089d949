"""The model card: everything the registry knows about one version (identity, lineage,
latest evaluation, incidents, promotions, audit status) gathered into one frozen value
that the Markdown and HTML renderers only format, so both always say the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redline.registry import (
    PRODUCTION,
    AuditEvent,
    IncidentInfo,
    ScanRecord,
    Store,
    VersionInfo,
    get_version,
    lineage,
    list_incidents,
    list_scans,
    list_versions,
)
from redline.registry._inspect import aliases_of
from redline.registry._store import now
from redline.reports._card_governance import GovernanceRow, governance_rows
from redline.reports._card_intended import IntendedUse, load_intended_use

if TYPE_CHECKING:
    from redline.results import ScanResult

__all__ = ["AuditStatus", "CardScan", "ModelCard", "Promotion", "build_card"]


@dataclass(frozen=True)
class CardScan:
    """One stored scan as the card cites it: ``scan #id``, when, the verdict it carried
    (None: run without a policy) and the parsed result."""

    id: int
    created_at: str
    passed: bool | None
    result: ScanResult

    @property
    def evasion(self) -> bool:
        """Whether the scan measured robustness (a backdoor-only scan has no threat model)."""
        return self.result.config.norm is not None


@dataclass(frozen=True)
class Promotion:
    """One alias move of the model, read back from its audit event."""

    seq: int
    at: str
    actor: str
    action: str
    """promote, force (a policy override), rollback or set."""
    alias: str
    version: int | None
    previous: int | None
    reason: str | None
    gate: str | None

    @property
    def forced(self) -> bool:
        """A promotion that overrode a failing policy gate."""
        return self.action == "force"


@dataclass(frozen=True)
class AuditStatus:
    """The audit chain as verified while the card was built: ``events`` in the whole
    store, ``model_events`` about this model, and the first bad event if any."""

    ok: bool
    events: int
    model_events: int
    bad_seq: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class ModelCard:
    """Everything the card shows about one version, gathered from the store."""

    version: VersionInfo
    versions_total: int
    aliases: tuple[str, ...]
    production: str | None
    """The version of this model in production now (``name@n``), if any."""
    lineage: tuple[VersionInfo, ...]
    """Parent versions, nearest first, up to the root."""
    intended_use: IntendedUse | None
    scan: CardScan | None
    """The newest scan of this version: what a promotion gate judges."""
    backdoor_scan: CardScan | None
    """The newest scan of this version that carries a backdoor section."""
    scans_total: int
    incidents: tuple[IncidentInfo, ...]
    promotions: tuple[Promotion, ...]
    audit: AuditStatus
    generated_at: str

    @property
    def in_production(self) -> bool:
        """Whether this version is the one in production."""
        return self.production == self.version.ref

    @property
    def open_incidents(self) -> tuple[IncidentInfo, ...]:
        """Incidents of the model not yet resolved, newest first."""
        return tuple(i for i in self.incidents if i.is_open)

    @property
    def resolved_incidents(self) -> tuple[IncidentInfo, ...]:
        """Resolved incidents of the model, newest first."""
        return tuple(i for i in self.incidents if not i.is_open)

    @property
    def forced_promotions(self) -> tuple[Promotion, ...]:
        """Policy overrides that put this version behind an alias."""
        return tuple(p for p in self.promotions if p.forced and p.version == self.version.number)

    @property
    def governance(self) -> tuple[GovernanceRow, ...]:
        """The activities evidenced in the store, mapped to NIST AI RMF and ISO/IEC 42001."""
        return governance_rows(self)


def build_card(store: Store, ref: str, intended_use: Path | None = None) -> ModelCard:
    """Gather the card of ``ref`` (``name@3``, ``name@alias`` or ``name``) from the store;
    ``intended_use`` is the owner's TOML file (None: the card says "not documented")."""
    version = get_version(store, ref)
    use = load_intended_use(intended_use) if intended_use is not None else None
    scans = list_scans(store, version.ref)
    latest = _scan(scans[-1]) if scans else None
    backdoor = next((s for s in reversed(scans) if s.result.get("backdoor")), None)
    if backdoor is not None and latest is not None and backdoor.id == latest.id:
        backdoor_scan: CardScan | None = latest
    else:
        backdoor_scan = _scan(backdoor) if backdoor is not None else None
    held = aliases_of(store, version.model)
    production = next((n for n, names in held.items() if PRODUCTION in names), None)
    incidents = tuple(list_incidents(store, version.model))
    events = store.events()
    return ModelCard(
        version=version,
        versions_total=len(list_versions(store, version.model)),
        aliases=tuple(held.get(version.number, [])),
        production=None if production is None else f"{version.model}@{production}",
        lineage=tuple(lineage(store, version)),
        intended_use=use,
        scan=latest,
        backdoor_scan=backdoor_scan,
        scans_total=len(scans),
        incidents=incidents,
        promotions=_promotions(events, version.model),
        audit=_audit(store, events, version.model, incidents),
        generated_at=now(),
    )


def _scan(record: ScanRecord) -> CardScan:
    return CardScan(record.id, record.created_at, record.passed, record.scan_result())


def _model_of(subject: str) -> str:
    return subject.partition("@")[0]


def _promotions(events: list[AuditEvent], model: str) -> tuple[Promotion, ...]:
    """Every ``alias.*`` event of the model, oldest first."""
    found = []
    for event in events:
        if not event.action.startswith("alias.") or _model_of(event.subject) != model:
            continue
        details = event.details
        found.append(
            Promotion(
                seq=event.seq,
                at=event.at,
                actor=event.actor,
                action=event.action.removeprefix("alias."),
                alias=str(details.get("alias", "")),
                version=_number(details.get("version")),
                previous=_number(details.get("previous")),
                reason=_text(details.get("reason")),
                gate=_text(details.get("gate")),
            )
        )
    return tuple(found)


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _audit(
    store: Store, events: list[AuditEvent], model: str, incidents: tuple[IncidentInfo, ...]
) -> AuditStatus:
    """Verify the whole chain; count the events about this model and its incidents."""
    check = store.verify_audit()
    subjects = {f"incident/{i.id}" for i in incidents}
    mine = sum(1 for e in events if _model_of(e.subject) == model or e.subject in subjects)
    return AuditStatus(check.ok, check.events, mine, check.bad_seq, check.reason)
