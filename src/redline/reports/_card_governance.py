"""The governance table of a model card: what the store shows was done for this version,
mapped to the NIST AI RMF 1.0 functions (with the subcategory that fits) and to the
ISO/IEC 42001:2023 Annex A control that fits, where one does.

The mapping is informative: it points an assessor at evidence, it certifies nothing.
Control titles follow ISO/IEC 42001:2023 Annex A (table A.1); NIST subcategories
follow AI RMF 1.0 (NIST AI 100-1). Activities the store holds no record of (AI policy
A.2, roles A.3, impact assessment A.5 / MAP 5, the incident communication plan A.8.4)
are listed as out of scope rather than mapped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from redline.reports._format import fmt_pct, norm_label

if TYPE_CHECKING:
    from redline.reports._card import ModelCard

__all__ = ["DISCLAIMER", "ISO_42001", "NOT_IN_STORE", "GovernanceRow", "governance_rows"]

ISO_42001 = {
    "A.6.2.4": "AI system verification and validation",
    "A.6.2.5": "AI system deployment",
    "A.6.2.6": "AI system operation and monitoring",
    "A.6.2.7": "AI system technical documentation",
    "A.6.2.8": "AI system recording of event logs",
    "A.7.3": "Acquisition of data",
    "A.7.5": "Data provenance",
    "A.8.2": "System documentation and information for users",
    "A.9.4": "Intended use of the AI system",
}
"""The ISO/IEC 42001:2023 Annex A controls the card maps to, by number."""

DISCLAIMER = (
    "This mapping is informative: it points at evidence held in the registry store. It is "
    "not a certification, an audit opinion or a statement of conformity with any standard."
)
NOT_IN_STORE = (
    "The registry holds no evidence for the AI policy (ISO/IEC 42001 A.2), roles and "
    "responsibilities (A.3), AI system impact assessments (A.5; NIST MAP 5) or the plan "
    "for communicating incidents to users (A.8.4): keep those records elsewhere."
)


@dataclass(frozen=True)
class GovernanceRow:
    """One activity: whether the store holds evidence of it, a pointer to that evidence,
    the NIST AI RMF function and subcategories, and the ISO/IEC 42001 controls."""

    activity: str
    present: bool
    evidence: str
    function: str
    nist: tuple[str, ...]
    iso: tuple[str, ...]

    @property
    def nist_label(self) -> str:
        """The function with its subcategories: "Measure (MEASURE 2.1, MEASURE 2.7)"."""
        return f"{self.function} ({', '.join(self.nist)})" if self.nist else self.function

    @property
    def iso_labels(self) -> tuple[str, ...]:
        """Each control as "A.6.2.4 AI system verification and validation"."""
        return tuple(f"{c} {ISO_42001[c]}" for c in self.iso)


def governance_rows(card: ModelCard) -> tuple[GovernanceRow, ...]:
    """The table, one row per activity, evidence read off the card."""
    return (
        _record(card),
        _intended(card),
        _provenance(card),
        _evaluation(card),
        _checks(card),
        _backdoor(card),
        _promotion(card),
        _rollback(card),
        _incidents(card),
        _audit(card),
    )


def _record(card: ModelCard) -> GovernanceRow:
    v = card.version
    evidence = (
        f"{v.ref} (version {v.number} of {card.versions_total}), artifact SHA-256 "
        f"{v.artifact_sha256[:12]}…, registered by {v.created_by}"
    )
    return GovernanceRow(
        "Version record: content-addressed artifact, framework, input spec, training config",
        True,
        evidence,
        "Govern",
        ("GOVERN 1.6",),
        ("A.6.2.7",),
    )


def _intended(card: ModelCard) -> GovernanceRow:
    use = card.intended_use
    evidence = f"intended-use file {use.source}" if use else "not documented"
    return GovernanceRow(
        "Intended use, users, out-of-scope uses and limitations documented",
        use is not None,
        evidence,
        "Map",
        ("MAP 1.1", "MAP 2.2"),
        ("A.9.4", "A.8.2"),
    )


def _provenance(card: ModelCard) -> GovernanceRow:
    manifests = card.version.data_manifests
    parts = [f"{len(manifests)} data manifest{'s' if len(manifests) != 1 else ''}"]
    if card.lineage:
        parts.append(f"parent chain of {len(card.lineage)} version(s) to {card.lineage[-1].ref}")
    evidence = ", ".join(parts) if manifests else "no data manifest recorded"
    return GovernanceRow(
        "Training-data provenance: dataset hashes, sources, parent versions",
        bool(manifests),
        evidence,
        "Map",
        ("MAP 2.3",),
        ("A.7.5", "A.7.3"),
    )


def _evaluation(card: ModelCard) -> GovernanceRow:
    scan = card.scan
    if scan is None or not scan.evasion:
        evidence = "not scanned" if scan is None else f"scan #{scan.id} has no robustness part"
        present = False
    else:
        r = scan.result
        clean = r.clean.accuracy
        evidence = (
            f"scan #{scan.id}: clean {fmt_pct(clean.value)}, {norm_label(r.config.norm)} "
            f"{r.config.suite} suite at {len(r.eps)} eps, n = {clean.n}"
        )
        present = True
    return GovernanceRow(
        "Accuracy and adversarial-robustness evaluation with confidence intervals",
        present,
        evidence,
        "Measure",
        ("MEASURE 2.1", "MEASURE 2.7"),
        ("A.6.2.4",),
    )


def _checks(card: ModelCard) -> GovernanceRow:
    checks = card.scan.result.checks if card.scan else []
    failed = sum(c.status == "FAIL" for c in checks)
    evidence = (
        f"scan #{card.scan.id}: {len(checks)} checks, {failed} failed"
        if card.scan and checks
        else "no sanity checks recorded"
    )
    return GovernanceRow(
        "Sanity checks of the evaluation itself (gradient masking, convergence, eps sweep)",
        bool(checks),
        evidence,
        "Measure",
        ("MEASURE 2.13",),
        ("A.6.2.4",),
    )


def _backdoor(card: ModelCard) -> GovernanceRow:
    scan = card.backdoor_scan
    section = scan.result.backdoor if scan else None
    evidence = (
        f"scan #{scan.id}: verdict {section.verdict}"
        if scan and section
        else "no backdoor scan recorded"
    )
    return GovernanceRow(
        "Backdoor / data-poisoning scan",
        section is not None,
        evidence,
        "Measure",
        ("MEASURE 2.7",),
        ("A.6.2.4",),
    )


def _promotion(card: ModelCard) -> GovernanceRow:
    mine = [p for p in card.promotions if p.version == card.version.number]
    moves = [p for p in mine if p.action in ("promote", "force")]
    forced = sum(p.forced for p in moves)
    if moves:
        last = moves[-1]
        evidence = f"audit event #{last.seq}: {last.action} to {last.alias} by {last.actor}"
        evidence += f"; {forced} forced override(s)" if forced else "; gate passed"
    else:
        evidence = f"{card.version.ref} was never promoted"
    return GovernanceRow(
        "Policy-gated promotion (overrides need a recorded reason)",
        bool(moves),
        evidence,
        "Manage",
        ("MANAGE 1.1",),
        ("A.6.2.5",),
    )


def _rollback(card: ModelCard) -> GovernanceRow:
    rollbacks = [p for p in card.promotions if p.action == "rollback"]
    evidence = (
        f"{len(rollbacks)} rollback(s), last audit event #{rollbacks[-1].seq}"
        if rollbacks
        else "no rollback of this model recorded"
    )
    return GovernanceRow(
        "Rollback to the last known-good version (withdrawal)",
        bool(rollbacks),
        evidence,
        "Manage",
        ("MANAGE 2.4",),
        ("A.6.2.6",),
    )


def _incidents(card: ModelCard) -> GovernanceRow:
    total, opened = len(card.incidents), len(card.open_incidents)
    evidence = f"{total} incident(s), {opened} open" if total else "no incident recorded"
    return GovernanceRow(
        "Incident tracking with a timeline (open → acknowledged → mitigated → resolved)",
        bool(total),
        evidence,
        "Manage",
        ("MANAGE 4.3",),
        ("A.6.2.6",),
    )


def _audit(card: ModelCard) -> GovernanceRow:
    a = card.audit
    evidence = (
        f"audit chain verified ({a.events} events, {a.model_events} about {card.version.model})"
        if a.ok
        else f"audit chain BROKEN at event #{a.bad_seq}: {a.reason}"
    )
    return GovernanceRow(
        "Tamper-evident, hash-chained audit log of every change",
        a.ok,
        evidence,
        "Govern",
        ("GOVERN 1.4",),
        ("A.6.2.8",),
    )
