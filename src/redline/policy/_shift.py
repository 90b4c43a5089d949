"""Policy rules on natural shift and slices: ``[[policy.corruption]]`` (mean or one
shift, at one severity or over all) and ``[policy.slices] max_gap``; a rule whose
evidence was not collected fails."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator

from redline.results import NaturalShiftSection, PolicyFinding, ScanResult, slice_gap

__all__ = ["CorruptionRule", "SliceRules", "at_least", "corruption_findings", "slice_findings"]


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CorruptionRule(_Rule):
    """Accuracy under natural shift (``scan --corruptions``): a floor, a largest drop from
    clean accuracy, or both, for the mean over every shift or for one shift's row."""

    name: str = "mean"
    severity: int | None = None
    min_accuracy: float | None = None
    max_drop: float | None = None

    @model_validator(mode="after")
    def _something(self) -> CorruptionRule:
        if self.min_accuracy is None and self.max_drop is None:
            raise ValueError("a corruption rule needs min_accuracy or max_drop")
        if self.severity is not None and not 1 <= self.severity <= 5:
            raise ValueError(f"severity must be 1..5, got {self.severity}")
        return self


class SliceRules(_Rule):
    """Largest allowed gap between the best and the worst slice (the point estimate, or
    its upper 95% bound with ``use_lower_bound``, the pessimistic end)."""

    max_gap: float


def at_least(rule: str, actual: float, threshold: float, what: str) -> PolicyFinding:
    """A finding that passes when ``actual >= threshold``."""
    return PolicyFinding(
        rule=rule,
        passed=actual >= threshold,
        actual=actual,
        threshold=threshold,
        message=f"{what} {actual:.1%} (min {threshold:.1%})",
    )


def _missing(name: str, threshold: float | None, what: str) -> PolicyFinding:
    """A rule whose evidence was not collected: it fails, and says how to collect it."""
    return PolicyFinding(rule=name, passed=False, threshold=threshold, message=what)


def corruption_findings(
    rules: list[CorruptionRule], result: ScanResult, lower: bool
) -> list[PolicyFinding]:
    """``[[policy.corruption]]``: mean or one row, at one severity or over all of them."""
    out, ns = [], result.natural_shift
    for rule in rules:
        name = f"corruption[{rule.name}{'' if rule.severity is None else f':{rule.severity}'}]"
        limit = rule.min_accuracy if rule.min_accuracy is not None else rule.max_drop
        if ns is None:
            what = "natural-shift accuracy was not measured (run redline scan --corruptions)"
            out.append(_missing(name, limit, what))
            continue
        found = _shifted(ns, rule)
        if isinstance(found, str):
            out.append(_missing(name, limit, found))
            continue
        value, low, what = found
        if rule.min_accuracy is not None:
            out.append(at_least(name, low if lower else value, rule.min_accuracy, what))
        if rule.max_drop is not None:
            drop = ns.clean.value - value
            out.append(
                PolicyFinding(
                    rule=f"{name}.max_drop", passed=drop <= rule.max_drop, actual=drop,
                    threshold=rule.max_drop,
                    message=f"{what} drops {100 * drop:.1f} pts from clean "
                    f"(max {100 * rule.max_drop:.1f})",
                )
            )  # fmt: skip
    return out


def _shifted(ns: NaturalShiftSection, rule: CorruptionRule) -> tuple[float, float, str] | str:
    """``(accuracy, its lower bound, what)`` a rule judges, or why it cannot be judged."""
    rows = ns.rows if rule.name == "mean" else [r for r in ns.rows if r.name == rule.name]
    if not rows:
        known = ", ".join(r.name for r in ns.rows)
        return f"shift {rule.name!r} was not run (this scan ran: {known})"
    if rule.severity is None:
        if rule.name == "mean":
            acc = ns.mean_accuracy
            return acc.value, acc.ci.low, "mean accuracy under natural shift"
        row = rows[0]
        low = sum(lv.accuracy.ci.low for lv in row.levels) / len(row.levels)
        return row.mean, low, f"{row.name} accuracy (mean over severities)"
    cells = [lv for r in rows for lv in r.levels if lv.severity == rule.severity]
    if not cells:
        return f"severity {rule.severity} of {rule.name!r} was not run"
    value = sum(c.accuracy.value for c in cells) / len(cells)
    low = sum(c.accuracy.ci.low for c in cells) / len(cells)
    return value, low, f"{rule.name} accuracy at severity {rule.severity}"


def slice_findings(
    rules: SliceRules | None, result: ScanResult, upper: bool
) -> list[PolicyFinding]:
    """``[policy.slices] max_gap`` on clean accuracy, every eps and the natural shift."""
    if rules is None:
        return []
    gaps = {"clean": slice_gap([(g.name, g.accuracy) for g in result.clean.per_slice])}
    for e in result.eps:
        gaps[f"eps {e.eps:.6g}"] = slice_gap([(g.name, g.accuracy) for g in e.per_slice])
    if result.natural_shift is not None:
        gaps["natural shift"] = result.natural_shift.slice_gap
    if gaps["clean"] is None:
        what = "the scan has fewer than two slices (give the data groups, e.g. --group-column)"
        return [_missing("slices.max_gap", rules.max_gap, what)]
    out = []
    for where, gap in gaps.items():
        if gap is None:
            continue
        actual = gap.ci.high if upper else gap.gap
        bound = " (upper 95% bound)" if upper else ""
        out.append(
            PolicyFinding(
                rule=f"slices.max_gap[{where}]", passed=actual <= rules.max_gap, actual=actual,
                threshold=rules.max_gap,
                message=f"{where}: slice {gap.best} minus slice {gap.worst} is "
                f"{100 * actual:.1f} pts{bound} (max {100 * rules.max_gap:.1f})",
            )
        )  # fmt: skip
    return out
