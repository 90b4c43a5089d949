"""The parts of a scan comparison: one metric's change and the word it has earned, the
sanity checks and policy rules side by side, the registry facts and training cost.

A change is called better or worse only when the Wilson 95% intervals of the two
accuracies are disjoint; a metric without an interval is only ever higher or lower."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from redline.results import Accuracy, CheckResult, CheckStatus, PolicyVerdict

if TYPE_CHECKING:
    from redline.registry import VersionInfo

__all__ = [
    "BETTER",
    "HIGHER",
    "LOWER",
    "MASKING_CHECKS",
    "NOISE",
    "SAME",
    "UNVERIFIED",
    "WORSE",
    "Change",
    "CheckChange",
    "Kind",
    "Notice",
    "PolicyChange",
    "RuleChange",
    "TrainingRow",
    "VersionMeta",
    "accuracy_change",
    "check_changes",
    "plain_change",
    "policy_change",
    "training_rows",
]

Kind = Literal["accuracy", "rate", "ece", "seconds", "count"]
BETTER, WORSE, NOISE, SAME = "better", "worse", "within noise", "unchanged"
HIGHER, LOWER, UNVERIFIED, MISSING = "higher", "lower", "unverified", "n/a"
_TONES = {BETTER: "PASS", WORSE: "FAIL", NOISE: "noise", UNVERIFIED: "WARN"}
MASKING_CHECKS = frozenset(
    [
        "gradients",
        "determinism",
        "eps-sweep",
        "convergence",
        "single-step",
        "noise",
        "black-box-gap",
    ]
)
"""Checks whose failure points at gradient masking or an attack too weak for the model."""


@dataclass(frozen=True)
class Change:
    """One metric in both scans: the values, their 95% intervals where the metric has
    them, the difference B − A and the word it has earned (``verdict``)."""

    label: str
    kind: Kind
    a: float | None
    b: float | None
    ci_a: tuple[float, float] | None = None
    ci_b: tuple[float, float] | None = None
    delta: float | None = None
    overlap: bool | None = None
    """Whether the two intervals overlap (None: the metric has no interval)."""
    verdict: str = MISSING

    @property
    def tone(self) -> str:
        """CSS tone of the verdict: PASS, FAIL, WARN, noise or neutral."""
        return _TONES.get(self.verdict, "neutral")


def _interval(acc: Accuracy | None) -> tuple[float, float] | None:
    return None if acc is None else (acc.ci.low, acc.ci.high)


def _verdict(delta: float, overlap: bool, trusted: bool) -> str:
    if math.isclose(delta, 0.0, abs_tol=1e-12):
        return SAME
    if overlap:
        return NOISE
    if delta < 0:
        return WORSE
    return BETTER if trusted else UNVERIFIED


def accuracy_change(
    label: str, a: Accuracy | None, b: Accuracy | None, *, trusted: bool = True
) -> Change:
    """Accuracies compared through their Wilson intervals: better or worse only when the
    intervals are disjoint; a gain that B's own failed checks undermine is unverified."""
    a = a if a is not None and a.n else None
    b = b if b is not None and b.n else None
    if a is None or b is None:
        va, vb = (None if x is None else x.value for x in (a, b))
        return Change(label, "accuracy", va, vb, _interval(a), _interval(b))
    delta = b.value - a.value
    overlap = a.ci.low <= b.ci.high and b.ci.low <= a.ci.high
    return Change(
        label, "accuracy", a.value, b.value, _interval(a), _interval(b), delta, overlap,
        _verdict(delta, overlap, trusted),
    )  # fmt: skip


def plain_change(label: str, kind: Kind, a: float | None, b: float | None) -> Change:
    """A metric without an interval: its change is only ever called higher or lower."""
    if a is None or b is None:
        return Change(label, kind, a, b)
    delta = b - a
    verdict = SAME if math.isclose(delta, 0.0, abs_tol=1e-12) else (HIGHER if delta > 0 else LOWER)
    return Change(label, kind, a, b, delta=delta, verdict=verdict)


@dataclass(frozen=True)
class CheckChange:
    """One sanity check in both scans (status None where a scan did not run it); the
    summary and fix are the candidate's (B) where it ran the check."""

    id: str
    title: str
    a: CheckStatus | None
    b: CheckStatus | None
    summary: str
    fix: str | None

    @property
    def regressed(self) -> bool:
        """Passed in A, warns or fails in B: B's evaluation lost trust A's had."""
        return self.a == "PASS" and self.b in ("FAIL", "WARN")

    @property
    def fixed(self) -> bool:
        """Warned or failed in A, passes in B."""
        return self.a in ("FAIL", "WARN") and self.b == "PASS"

    @property
    def masking(self) -> bool:
        """Whether this check looks for gradient masking or too weak an attack."""
        return self.id in MASKING_CHECKS


def check_changes(a: list[CheckResult], b: list[CheckResult]) -> tuple[CheckChange, ...]:
    """Checks matched by id: regressions first, then B's order, then checks only A ran."""
    in_a, in_b = {c.id: c for c in a}, {c.id: c for c in b}
    ids = [c.id for c in b] + [i for i in in_a if i not in in_b]
    rows = []
    for i in ids:
        ca, cb = in_a.get(i), in_b.get(i)
        shown = cb or ca
        assert shown is not None
        status_a = None if ca is None else ca.status
        status_b = None if cb is None else cb.status
        rows.append(CheckChange(i, shown.title, status_a, status_b, shown.summary, shown.fix))
    return tuple(sorted(rows, key=lambda r: not r.regressed))


@dataclass(frozen=True)
class RuleChange:
    """One policy rule in both verdicts (None where that scan's policy lacks it)."""

    rule: str
    a: bool | None
    b: bool | None
    message: str


@dataclass(frozen=True)
class PolicyChange:
    """Both policy verdicts: PASS, FAIL or none, with the rules side by side."""

    a: str
    b: str
    source_a: str | None
    source_b: str | None
    rules: tuple[RuleChange, ...]


def _word(verdict: PolicyVerdict | None) -> str:
    if verdict is None:
        return "none"
    return "PASS" if verdict.passed else "FAIL"


def policy_change(a: PolicyVerdict | None, b: PolicyVerdict | None) -> PolicyChange:
    """Policy verdicts and rules side by side, B's rule order first."""
    fa = {f.rule: f for f in (a.findings if a else [])}
    fb = {f.rule: f for f in (b.findings if b else [])}
    names = list(fb) + [r for r in fa if r not in fb]
    rules = []
    for name in names:
        ra, rb = fa.get(name), fb.get(name)
        shown = rb or ra
        assert shown is not None
        passed_a = None if ra is None else ra.passed
        passed_b = None if rb is None else rb.passed
        rules.append(RuleChange(name, passed_a, passed_b, shown.message))
    source_a = None if a is None else a.source
    source_b = None if b is None else b.source
    return PolicyChange(_word(a), _word(b), source_a, source_b, tuple(rules))


@dataclass(frozen=True)
class VersionMeta:
    """What the registry knows about one side: its ref, its parent's ref, and how it was
    trained (the version's ``training_config``: method, eps, epochs_run, seconds ...)."""

    ref: str
    parent: str | None = None
    training: Mapping[str, Any] = field(default_factory=dict)
    note: str | None = None

    @classmethod
    def from_version(cls, version: VersionInfo, parent: VersionInfo | None = None) -> VersionMeta:
        """The meta of a registered version (``parent``: the first entry of its lineage)."""
        return cls(
            ref=version.ref,
            parent=None if parent is None else parent.ref,
            training=dict(version.training_config),
            note=version.note,
        )


@dataclass(frozen=True)
class TrainingRow:
    """One training-cost fact for both sides (None where a side does not record it)."""

    key: str
    label: str
    a: Any
    b: Any


_TRAINING_KEYS = (
    ("method", "method"), ("norm", "norm"), ("eps", "ε"), ("epochs", "epochs planned"),
    ("epochs_run", "epochs run"), ("steps", "attack steps"), ("seconds", "wall time (s)"),
    ("stopped", "stopped early"), ("overfit_epochs", "overfit epochs"),
)  # fmt: skip
_MAX_OTHER = 12


def training_rows(a: VersionMeta | None, b: VersionMeta | None) -> tuple[TrainingRow, ...]:
    """The training-cost facts redline's ``harden`` records, where either side has them;
    a hand-written training config without them is shown key by key (at most 12)."""
    ta = dict(a.training) if a else {}
    tb = dict(b.training) if b else {}
    known = [(k, label) for k, label in _TRAINING_KEYS if k in ta or k in tb]
    if not known:
        other = list(tb) + [k for k in ta if k not in tb]
        known = [(k, k) for k in other[:_MAX_OTHER]]
    return tuple(TrainingRow(k, label, _fact(ta, k), _fact(tb, k)) for k, label in known)


def _fact(training: dict[str, Any], key: str) -> Any:
    """A recorded value (None: not recorded); ``stopped: None`` means it ran to the end."""
    if key == "stopped" and key in training and training[key] is None:
        return "no"
    return training.get(key)


@dataclass(frozen=True)
class Notice:
    """A warning shown above everything else: FAIL (do not trust the headline), WARN
    (read it with care) or INFO."""

    level: Literal["FAIL", "WARN", "INFO"]
    title: str
    text: str
