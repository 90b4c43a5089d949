"""Wording shared by the Markdown and HTML model cards: alerts, labels and sizes, so the
two formats never disagree about what the store says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from redline.reports._format import fmt_when

if TYPE_CHECKING:
    from redline.registry import IncidentInfo
    from redline.reports._card import ModelCard, Promotion

__all__ = [
    "ACTION_LABELS",
    "Alert",
    "action_label",
    "alerts",
    "fmt_bytes",
    "incident_versions",
    "production_line",
    "scan_weights_line",
]

ACTION_LABELS = {
    "promote": "promoted",
    "force": "FORCED (policy override)",
    "rollback": "rolled back",
    "set": "alias set",
}


@dataclass(frozen=True)
class Alert:
    """A finding a reader must not miss, shown above everything else; ``tone`` is FAIL
    or WARN, ``anchor`` the section that explains it."""

    tone: str
    title: str
    text: str
    anchor: str


def fmt_bytes(size: int) -> str:
    """A byte count as "1.5 MiB (1,572,864 bytes)"."""
    if size < 1024:
        return f"{size:,} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit} ({size:,} bytes)"
        value /= 1024
    return f"{value:.1f} TiB ({size:,} bytes)"


def production_line(card: ModelCard) -> str:
    """Whether this version serves production, and which one does if not."""
    if card.in_production:
        return "yes: this version is in production"
    if card.production is None:
        return f"no: {card.version.model} has no version in production"
    return f"no: {card.production} is in production"


def scan_weights_line(card: ModelCard) -> str:
    """Whether the scan measured these exact weights (its recorded hash)."""
    if card.scan is None:
        return ""
    measured = card.scan.result.target.sha256
    if measured is None:
        return "the scan did not record the hash of the weights it measured"
    return "the scan measured these exact weights (SHA-256 matches the artifact)"


def incident_versions(incident: IncidentInfo) -> tuple[str, ...]:
    """The versions an incident's timeline links to, in first-seen order."""
    found: list[str] = []
    for event in incident.timeline:
        found += [v for v in event.links.get("versions", []) if v not in found]
    return tuple(found)


def action_label(promotion: Promotion) -> str:
    """promoted, FORCED (policy override), rolled back or alias set."""
    return ACTION_LABELS.get(promotion.action, promotion.action)


def alerts(card: ModelCard) -> tuple[Alert, ...]:
    """What must be said first: tampering, open incidents, overrides, missing or failed
    evidence, withdrawal."""
    found = []
    if not card.audit.ok:
        text = f"Event #{card.audit.bad_seq}: {card.audit.reason}. Nothing below can be trusted."
        found.append(Alert("FAIL", "The audit log fails its hash-chain check.", text, "audit"))
    if card.open_incidents:
        n = len(card.open_incidents)
        titles = "; ".join(f"#{i.id} {i.title} ({i.severity})" for i in card.open_incidents)
        title = f"{n} open incident{'s' if n > 1 else ''} on {card.version.model}."
        found.append(Alert("FAIL", title, titles, "incidents"))
    if card.version.withdrawn_at:
        when = fmt_when(card.version.withdrawn_at)
        text = f"Production was rolled back from this version at {when}."
        found.append(Alert("FAIL", "Withdrawn.", text, "promotions"))
    for p in card.forced_promotions:
        text = f"{p.actor} at {fmt_when(p.at)}: {p.reason or 'no reason'} (gate: {p.gate or '?'})."
        found.append(
            Alert("WARN", f"Forced into {p.alias} over a failing policy.", text, "promotions")
        )
    found += _evidence_alerts(card)
    return tuple(found)


def _evidence_alerts(card: ModelCard) -> list[Alert]:
    scan = card.scan
    if scan is None:
        text = (
            "No scan of this version is stored: there is no evidence of its accuracy or robustness."
        )
        return [Alert("WARN", "Not scanned.", text, "evaluation")]
    policy = scan.result.policy
    if policy is not None and not policy.passed:
        failed = ", ".join(f.rule for f in policy.findings if not f.passed)
        return [Alert("FAIL", f"Scan #{scan.id} fails its policy.", f"Failed: {failed}.", "policy")]
    fails = [c.id for c in scan.result.checks if c.status == "FAIL"]
    if fails:
        text = f"{', '.join(fails)}: the robustness numbers may be overstated."
        return [Alert("WARN", "Evaluation sanity checks failed.", text, "checks")]
    return []
