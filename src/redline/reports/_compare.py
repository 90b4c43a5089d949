"""Two scans side by side: every metric's change, whether it clears the noise, what the
sanity checks say about the newer number, and what the change cost. Everything is
decided here, once, as one frozen :class:`Comparison`; the Markdown and HTML renderers
only format it, so both always say the same thing.

The comparison is directional: A is the baseline, B the candidate (a retrained or
hardened model). Robust accuracy is matched per eps, and the headline is the largest eps
both scans measured. A higher robust accuracy of a B whose sanity checks fail is called
unverified, never better: gradient masking raises robust accuracy without making a
model any harder to attack, so that case is the first thing either report says."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from redline.errors import InputError
from redline.reports._compare_certified import CertifiedChange, certified_changes
from redline.reports._compare_format import explain, fmt_delta, fmt_side
from redline.reports._compare_parts import (
    Change,
    CheckChange,
    Notice,
    PolicyChange,
    TrainingRow,
    VersionMeta,
    accuracy_change,
    check_changes,
    plain_change,
    policy_change,
    training_rows,
)
from redline.reports._format import fmt_eps, norm_label
from redline.results import GroupAccuracy, ScanResult

__all__ = ["Comparison", "EpsChange", "compare_results", "lineage_line", "summary_line"]


@dataclass(frozen=True)
class EpsChange:
    """Robust accuracy and attack success rate at one eps both scans measured."""

    eps: float
    robust: Change
    success: Change


@dataclass(frozen=True)
class Comparison:
    """Scan B (candidate) against scan A (baseline), every section decided."""

    labels: tuple[str, str]
    a: ScanResult
    b: ScanResult
    meta: tuple[VersionMeta | None, VersionMeta | None]
    notices: tuple[Notice, ...]
    """Warnings for the top of the report, the gravest first."""
    clean: Change
    ece: Change
    eps: tuple[EpsChange, ...]
    """Every eps both scans measured, ascending."""
    only_a: tuple[float, ...]
    only_b: tuple[float, ...]
    per_class: tuple[Change, ...]
    """Robust accuracy per class at the headline eps."""
    checks: tuple[CheckChange, ...]
    policy: PolicyChange
    cost: tuple[Change, ...]
    """What each scan cost: wall time, forward and backward passes, queries."""
    training: tuple[TrainingRow, ...]
    """What each side's training cost, from the registry (empty without it)."""
    certified: tuple[CertifiedChange, ...] = ()
    """Certified accuracy per L2 radius (randomized smoothing; empty when neither scan
    certified): a guarantee, never folded into the robust rows."""

    @property
    def headline(self) -> EpsChange | None:
        """The largest eps both scans measured (None when they share none)."""
        return self.eps[-1] if self.eps else None

    @property
    def regressions(self) -> tuple[CheckChange, ...]:
        """Checks that passed in A and warn or fail in B."""
        return tuple(c for c in self.checks if c.regressed)


def _same_eps(x: float, y: float) -> bool:
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)


def _eps_changes(
    a: ScanResult, b: ScanResult, trusted: bool
) -> tuple[tuple[EpsChange, ...], tuple[float, ...], tuple[float, ...]]:
    """Robust rows for every eps in both scans (ascending), and the eps only one has."""
    rows: list[EpsChange] = []
    only_a: list[float] = []
    for ra in sorted(a.eps, key=lambda r: r.eps):
        rb = next((r for r in b.eps if _same_eps(r.eps, ra.eps)), None)
        if rb is None:
            only_a.append(ra.eps)
            continue
        robust = accuracy_change("robust accuracy", ra.robust, rb.robust, trusted=trusted)
        rates = (ra.attack_success_rate, rb.attack_success_rate)
        rows.append(EpsChange(ra.eps, robust, plain_change("attack success", "rate", *rates)))
    only_b = sorted(r.eps for r in b.eps if not any(_same_eps(r.eps, e.eps) for e in rows))
    return tuple(rows), tuple(only_a), tuple(only_b)


def _class_changes(
    a: list[GroupAccuracy], b: list[GroupAccuracy], trusted: bool
) -> tuple[Change, ...]:
    """Per-class accuracies matched by class name, A's order first."""
    in_a, in_b = {g.name: g.accuracy for g in a}, {g.name: g.accuracy for g in b}
    names = list(in_a) + [n for n in in_b if n not in in_a]
    return tuple(accuracy_change(n, in_a.get(n), in_b.get(n), trusted=trusted) for n in names)


def _cost(a: ScanResult, b: ScanResult) -> tuple[Change, ...]:
    ca, cb = a.cost, b.cost
    return (
        plain_change("scan wall time", "seconds", ca.seconds, cb.seconds),
        plain_change("forward passes", "count", ca.forward, cb.forward),
        plain_change("backward passes", "count", ca.backward, cb.backward),
        plain_change("queries", "count", ca.queries, cb.queries),
    )


def _refuse(a: ScanResult, b: ScanResult, labels: Sequence[str], different_data: bool) -> None:
    """Comparisons that would mislead: no threat model, different norms, different data."""
    if len(labels) != 2 or not all(s.strip() for s in labels) or labels[0] == labels[1]:
        raise InputError(f"labels must be two different non-empty names, got {list(labels)}")
    for label, r in zip(labels, (a, b), strict=True):
        if r.config.norm is None:
            raise InputError(f"{label} has no threat model (backdoor checks only): no robustness")
    if a.config.norm != b.config.norm:
        raise InputError(
            f"cannot compare a {norm_label(a.config.norm)} scan ({labels[0]}) with a "
            f"{norm_label(b.config.norm)} scan ({labels[1]}): robust accuracies under "
            "different threat models do not compare"
        )
    if a.data.sha256 != b.data.sha256 and not different_data:
        raise InputError(
            f"{labels[0]} and {labels[1]} were scanned on different data (sha256 "
            f"{a.data.sha256[:12]}… vs {b.data.sha256[:12]}…); allow different data "
            "(--allow-different-data) to compare anyway"
        )


def compare_results(
    a: ScanResult,
    b: ScanResult,
    *,
    labels: tuple[str, str] = ("A", "B"),
    meta_a: VersionMeta | None = None,
    meta_b: VersionMeta | None = None,
    allow_different_data: bool = False,
) -> Comparison:
    """Compare candidate ``b`` with baseline ``a``. Refused (InputError): a scan without
    a threat model, different norms, and different data unless ``allow_different_data``
    (then the first warning says so)."""
    _refuse(a, b, labels, allow_different_data)
    checks = check_changes(a.checks, b.checks)
    trusted = not any(c.regressed or c.b == "FAIL" for c in checks)
    eps, only_a, only_b = _eps_changes(a, b, trusted)
    per_class: tuple[Change, ...] = ()
    if eps:
        ra, rb = a.at(eps[-1].eps), b.at(eps[-1].eps)
        per_class = _class_changes(ra.per_class, rb.per_class, trusted)
    found = Comparison(
        labels=(labels[0], labels[1]), a=a, b=b, meta=(meta_a, meta_b), notices=(),
        clean=accuracy_change("clean accuracy", a.clean.accuracy, b.clean.accuracy),
        ece=plain_change("ECE (clean)", "ece", a.clean.ece, b.clean.ece),
        eps=eps, only_a=only_a, only_b=only_b, per_class=per_class, checks=checks,
        policy=policy_change(a.policy, b.policy), cost=_cost(a, b),
        training=training_rows(meta_a, meta_b), certified=certified_changes(a, b),
    )  # fmt: skip
    return replace(found, notices=_notices(found))


def _listed(checks: Sequence[CheckChange], side: str) -> str:
    return ", ".join(f"{c.id} ({c.a if side == 'a' else c.b})" for c in checks)


def _check_notices(c: Comparison) -> list[Notice]:
    """Checks that regressed (the gravest notice), and failed checks on either side."""
    la, lb = c.labels
    out = []
    if regressed := c.regressions:
        why = (
            "They look for gradient masking and attacks too weak for the model: a model that "
            "masks its gradients scores a higher robust accuracy without being any harder "
            f"to attack, so {lb}'s robust accuracy is no evidence of robustness until they pass."
            if any(r.masking for r in regressed)
            else f"{lb}'s evaluation is less trustworthy than {la}'s; read its numbers with care."
        )
        title = f"{lb} fails sanity checks that {la} passed: {_listed(regressed, 'b')}."
        out.append(Notice("FAIL", title, why))
    if failed_b := [x for x in c.checks if x.b == "FAIL" and not x.regressed]:
        text = f"{lb}'s robust accuracy may be overstated; its gains are marked unverified."
        out.append(Notice("WARN", f"{lb} fails sanity checks: {_listed(failed_b, 'b')}.", text))
    if failed_a := [x for x in c.checks if x.a == "FAIL"]:
        text = "The baseline's robust accuracy may be overstated, so changes against it are too."
        out.append(Notice("WARN", f"{la} fails sanity checks: {_listed(failed_a, 'a')}.", text))
    return out


def _setting_notices(c: Comparison) -> list[Notice]:
    """Different data, different suites, no shared eps, the same weights twice."""
    (la, lb), a, b, out = c.labels, c.a, c.b, []
    if a.data.sha256 != b.data.sha256:
        text = (
            f"{la}: {a.data.source} ({a.data.n_samples:,} samples, sha256 {a.data.sha256[:12]}…); "
            f"{lb}: {b.data.source} ({b.data.n_samples:,} samples, sha256 "
            f"{b.data.sha256[:12]}…). Every difference mixes the model with the data."
        )
        out.append(Notice("WARN", "The scans ran on different data.", text))
    if a.config.suite != b.config.suite:
        text = (
            f"{la} used the {a.config.suite} suite, {lb} the {b.config.suite} suite: a stronger "
            "suite lowers robust accuracy by itself. Scan both with one suite to compare models."
        )
        out.append(Notice("WARN", "The scans used different attack suites.", text))
    if not c.eps:
        grids = [", ".join(fmt_eps(e.eps) for e in r.eps) or "none" for r in (a, b)]
        text = f"{la} measured ε ∈ {{{grids[0]}}}, {lb} ε ∈ {{{grids[1]}}}; scan both on one grid."
        out.append(Notice("WARN", "No ε in common: robust accuracy cannot be compared.", text))
    if a.target.sha256 is not None and a.target.sha256 == b.target.sha256:
        text = f"sha256 {a.target.sha256[:12]}…: every difference comes from the scan settings."
        out.append(Notice("INFO", "Both scans measured the same weights.", text))
    return out


def _notices(c: Comparison) -> tuple[Notice, ...]:
    order = {"FAIL": 0, "WARN": 1, "INFO": 2}
    return tuple(sorted(_check_notices(c) + _setting_notices(c), key=lambda n: order[n.level]))


def _from_to(change: Change) -> str:
    return f"{fmt_side(change, 'a')} → {fmt_side(change, 'b')} ({fmt_delta(change)})"


def summary_line(c: Comparison) -> str:
    """One sentence a reviewer can quote: the headline robust accuracy and the clean
    accuracy, each with its change and what the change may be called."""
    la, lb = c.labels
    clean = f"clean accuracy {_from_to(c.clean)}, {explain(c.clean, lb)}."
    head = c.headline
    if head is None:
        return f"No ε in common; {clean}"
    threat = f"{norm_label(c.a.config.norm)} ε = {fmt_eps(head.eps)}"
    return (
        f"Robust accuracy at {threat}, {la} → {lb}: {_from_to(head.robust)}, "
        f"{explain(head.robust, lb)}; {clean}"
    )


def lineage_line(c: Comparison) -> str | None:
    """How the two versions are related, from the registry (None without it): B's
    parent, else A's."""
    ma, mb = c.meta
    if mb is not None and mb.parent is not None:
        child, other = mb, ma
    elif ma is not None and ma.parent is not None:
        child, other = ma, mb
    else:
        return None
    text = f"{child.ref} was derived from {child.parent}"
    method = child.training.get("method")
    text += f" by {method} training" if method else ""
    if other is not None and child.parent != other.ref:
        text += f" (not from {other.ref})"
    return text + "."
