"""A comparison as a CI gate: the ways the candidate (B) can be worse than the baseline
(A) that a pull request should not merge past. Only changes that clear the 95%
intervals count as worse, so noise never fails a build."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

from redline.reports._compare import Comparison
from redline.reports._compare_format import fmt_delta, fmt_side
from redline.reports._compare_parts import WORSE, Change
from redline.reports._format import fmt_eps

__all__ = ["GATES", "Gate", "regressions"]

Gate = Literal["checks", "robust", "clean", "certified", "policy"]
GATES: tuple[str, ...] = get_args(Gate)
"""checks: a sanity check passed in A and warns or fails in B, or B fails one;
robust: robust accuracy worse at some shared eps; clean: clean accuracy worse;
certified: certified accuracy worse at some L2 radius; policy: B fails its policy."""


def _worse(change: Change, what: str) -> list[str]:
    if change.verdict != WORSE:
        return []
    return [f"{what} {fmt_side(change, 'a')} -> {fmt_side(change, 'b')} ({fmt_delta(change)})"]


def _checks(c: Comparison) -> list[str]:
    regressed = [f"{x.id} ({x.a} -> {x.b})" for x in c.regressions]
    failed = [f"{x.id} (FAIL)" for x in c.checks if x.b == "FAIL" and not x.regressed]
    return [f"{c.labels[1]} sanity check {item}" for item in regressed + failed]


def regressions(c: Comparison, gates: Iterable[str]) -> list[str]:
    """One line per way ``B`` is worse than ``A`` under the chosen gates (empty: pass).
    An unknown gate name is a ValueError (the CLI offers only :data:`GATES`)."""
    chosen = set(gates)
    if unknown := chosen - set(GATES):
        raise ValueError(f"unknown gate(s) {sorted(unknown)}; choose from {list(GATES)}")
    found: list[str] = []
    if "checks" in chosen:
        found += _checks(c)
    if "robust" in chosen:
        for row in c.eps:
            found += _worse(row.robust, f"robust accuracy at eps {fmt_eps(row.eps)}")
    if "clean" in chosen:
        found += _worse(c.clean, "clean accuracy")
    if "certified" in chosen:
        for point in c.certified:
            found += _worse(
                point.accuracy, f"certified accuracy at L2 radius {fmt_eps(point.radius)}"
            )
    if "policy" in chosen and c.policy.b == "FAIL":
        found.append(f"{c.labels[1]} fails its policy ({c.policy.source_b or 'inline rules'})")
    return found
