"""Certified accuracy of two scans side by side (randomized smoothing, a guarantee):
matched per L2 radius and kept in its own table, apart from the empirical robust
accuracies, as in the scan report."""

from __future__ import annotations

from dataclasses import dataclass

from redline.reports._compare_parts import Change, accuracy_change
from redline.results import Accuracy, CertifiedSection, ScanResult

__all__ = ["CertifiedChange", "certified_changes"]


@dataclass(frozen=True)
class CertifiedChange:
    """Certified accuracy at one L2 radius in both scans (None where a side has none)."""

    radius: float
    accuracy: Change


def _at(section: CertifiedSection | None, radius: float) -> Accuracy | None:
    return None if section is None else section.accuracy_at(radius)


def certified_changes(a: ScanResult, b: ScanResult) -> tuple[CertifiedChange, ...]:
    """Every radius of either side's curve, each side's certified accuracy recomputed
    from its per-sample radii (so two sigmas share one grid); empty when neither scan
    certified. Radii past the first where both sides certify nothing are left out.
    Sanity checks do not bear on a certificate, so a gain is never unverified here."""
    sections = (a.certified, b.certified)
    radii = sorted({p.radius for s in sections if s is not None for p in s.curve})
    rows: list[CertifiedChange] = []
    for r in radii:
        found = accuracy_change("certified accuracy", _at(sections[0], r), _at(sections[1], r))
        rows.append(CertifiedChange(r, found))
        if not (found.a or found.b):  # nothing certified on either side from here on
            break
    return tuple(rows)
