"""Formatting shared by the comparison's Markdown and HTML renderers: values by kind,
signed changes with a true minus sign, and the sentence that explains a verdict."""

from __future__ import annotations

from redline.reports._compare_parts import (
    BETTER,
    NOISE,
    SAME,
    UNVERIFIED,
    WORSE,
    Change,
    Kind,
)
from redline.reports._format import fmt_num, fmt_pct

__all__ = ["explain", "fmt_ci_pair", "fmt_delta", "fmt_kind", "fmt_side", "signed"]

MINUS = "\u2212"


def signed(text: str) -> str:
    """A number formatted with an explicit sign, its hyphen made a minus sign."""
    return text.replace("-", MINUS)


def fmt_kind(kind: Kind, value: float | None) -> str:
    """One side's value as its kind is read: 97.2%, 0.031, 12.4 s, 1,234."""
    if value is None:
        return "—"
    if kind in ("accuracy", "rate"):
        return fmt_pct(value)
    if kind == "ece":
        return f"{value:.3f}"
    if kind == "seconds":
        return f"{value:.1f} s"
    return fmt_num(int(value))


def fmt_side(change: Change, side: str) -> str:
    """The value of ``change`` in scan ``side`` ("a" or "b")."""
    return fmt_kind(change.kind, change.a if side == "a" else change.b)


def fmt_ci_pair(ci: tuple[float, float] | None) -> str:
    """A Wilson interval in percent, "[95.1, 98.4]"; empty without one."""
    return "" if ci is None else f"[{100.0 * ci[0]:.1f}, {100.0 * ci[1]:.1f}]"


def fmt_delta(change: Change) -> str:
    """B − A: percentage points for accuracies and rates, else in the metric's unit."""
    d = change.delta
    if d is None:
        return "—"
    if change.verdict == SAME:
        return {"accuracy": "0.0 pts", "rate": "0.0 pts"}.get(change.kind, fmt_kind(change.kind, 0))
    if change.kind in ("accuracy", "rate"):
        return signed(f"{100.0 * d:+.1f} pts")
    if change.kind == "ece":
        return signed(f"{d:+.3f}")
    if change.kind == "seconds":
        return signed(f"{d:+.1f} s")
    return signed(f"{int(d):+,}")


def explain(change: Change, candidate: str) -> str:
    """Why the verdict is what it is, in words a reviewer can quote."""
    reasons = {
        BETTER: "better: the 95% intervals do not overlap",
        WORSE: "worse: the 95% intervals do not overlap",
        NOISE: "within noise: the 95% intervals overlap",
        SAME: "unchanged",
        UNVERIFIED: f"unverified: {candidate} fails sanity checks, so the gain may be "
        "gradient masking, not robustness",
    }
    return reasons.get(change.verdict, change.verdict)
