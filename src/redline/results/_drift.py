"""The drift result: a comparison of a current window with a reference, one finding per
feature (and slice, and the model's outputs), each with its test, p-value, FDR-adjusted
q-value, effect size with a bootstrap interval and the thresholds it was held to. A run
that is not a scan, so a top-level result of its own with its own schema version."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from redline.results._common import Interval, _Model
from redline.results._scan import PolicyVerdict

__all__ = [
    "DRIFT_SCHEMA_VERSION",
    "Distribution",
    "DriftFinding",
    "DriftResult",
    "DriftSettings",
    "Effect",
    "PerformanceEstimate",
    "WindowInfo",
]

DRIFT_SCHEMA_VERSION = "1.0"
FindingKind = Literal[
    "numeric", "categorical", "missing", "prediction", "confidence", "multivariate"
]
FindingStatus = Literal["drift", "significant", "stable", "not-tested"]


class Effect(_Model):
    """How large the change is, in a unit a person can judge, and the bar it must clear."""

    name: str
    """``wasserstein`` (in reference standard deviations), ``tvd`` (total variation),
    ``missing-share`` (difference of missing shares), ``auc`` (classifier AUC - 0.5),
    ``mmd2`` (squared maximum mean discrepancy)."""
    value: float
    ci: Interval | None = None
    """Bootstrap 95% percentile interval."""
    threshold: float


class Distribution(_Model):
    """Enough of both distributions to draw them: quantiles or category shares."""

    quantiles: list[float] = Field(default_factory=list)
    """At levels 0, 0.05, ..., 1 (numeric)."""
    reference_quantiles: list[float] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    shares: list[float] = Field(default_factory=list)
    reference_shares: list[float] = Field(default_factory=list)


class DriftFinding(_Model):
    """One feature (or the model's output, or a multivariate test) in one slice."""

    feature: str
    slice: str | None = None
    kind: FindingKind
    test: str
    """ks, cvm, chi2, two-proportion, mmd, c2st, or none (not tested)."""
    statistic: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    """Benjamini-Hochberg adjusted across every finding of the run."""
    effect: Effect | None = None
    psi: float | None = None
    status: FindingStatus
    """drift: significant after FDR and effect above its threshold (an alarm);
    significant: only significant; stable: neither; not-tested: see ``note``."""
    exact: bool = True
    """False when a summary was a sketch (the test then accounts for its rank error)."""
    reference_n: int
    current_n: int
    unseen: list[str] = Field(default_factory=list)
    """Categories in the current window that the reference never had."""
    note: str | None = None
    distribution: Distribution | None = None

    @property
    def alarm(self) -> bool:
        return self.status == "drift"

    @property
    def key(self) -> str:
        return self.feature if self.slice is None else f"{self.feature} [{self.slice}]"


class WindowInfo(_Model):
    """A profiled window: where it came from and how big it is."""

    source: str
    n_rows: int
    columns: int
    exact: bool
    """Every numeric column kept exactly (no sketch)."""


class DriftSettings(_Model):
    """The rules the findings were held to (defaults are stated in every report)."""

    alpha: float
    """False discovery rate of the Benjamini-Hochberg procedure."""
    numeric_test: Literal["ks", "cvm"]
    thresholds: dict[str, float]
    """Smallest effect that may alarm, per effect name."""
    bootstrap: int
    seed: int
    multivariate: bool


class PerformanceEstimate(_Model):
    """Accuracy estimated without labels from the model's confidence (CBPE)."""

    estimated: float
    ci: Interval
    reference_accuracy: float | None = None
    """Realised accuracy on the reference, when its labels were profiled."""
    note: str


class DriftResult(_Model):
    """Everything ``redline monitor drift`` found; JSON is the source of truth."""

    schema_version: str = DRIFT_SCHEMA_VERSION
    kind: Literal["drift"] = "drift"
    created_at: str
    redline: str
    reference: WindowInfo
    current: WindowInfo
    settings: DriftSettings
    findings: list[DriftFinding]
    performance: PerformanceEstimate | None = None
    policy: PolicyVerdict | None = None

    @property
    def alarms(self) -> list[DriftFinding]:
        """Findings that alarm, most significant first."""
        hits = [f for f in self.findings if f.alarm]
        return sorted(hits, key=lambda f: (f.q_value if f.q_value is not None else 1.0, f.key))

    @property
    def drifted(self) -> bool:
        return any(f.alarm for f in self.findings)

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(self.model_dump_json(indent=1), encoding="utf-8")
