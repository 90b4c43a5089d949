"""The scan result: a versioned, JSON-serialisable record that every report is built from.

Results are data: pages are rendered by ``redline.reports.write_html(result, path)``, never
by the result itself, so this floor imports nothing above it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from redline.results._backdoor import BackdoorSection
from redline.results._certified import CertifiedPoint, CertifiedSection
from redline.results._common import Accuracy, Interval, _Model
from redline.results._shift import NaturalShiftSection
from redline.results._tabular import TabularSection

__all__ = [
    "CHECK_IDS",
    "SCHEMA_VERSION",
    "Accuracy",
    "AttackStats",
    "CertifiedPoint",
    "CertifiedSection",
    "CheckResult",
    "CheckStatus",
    "CleanResult",
    "Cost",
    "CurvePoint",
    "DataInfo",
    "Environment",
    "EpsResult",
    "Example",
    "GroupAccuracy",
    "Interval",
    "MinimalPerturbation",
    "PolicyFinding",
    "PolicyVerdict",
    "Reliability",
    "Samples",
    "ScanConfig",
    "ScanResult",
    "TargetInfo",
]

SCHEMA_VERSION = "1.5"
"""Minor versions only add optional fields; readers accept any 1.x."""
CheckStatus = Literal["PASS", "WARN", "FAIL", "SKIP"]
CHECK_IDS = (
    "gradients",
    "determinism",
    "validity",
    "eps-sweep",
    "convergence",
    "single-step",
    "noise",
    "black-box-gap",
)
"""Ids of every sanity check, in report order (policy files name them)."""


class GroupAccuracy(_Model):
    """Accuracy inside one class or one slice of the data."""

    name: str
    accuracy: Accuracy


class Reliability(_Model):
    """Reliability diagram: per confidence bin, mean confidence, accuracy and count."""

    bin_edges: list[float]
    confidence: list[float | None]
    accuracy: list[float | None]
    count: list[int]


class Environment(_Model):
    """Versions and machine the scan ran with, for reproducibility."""

    redline: str
    python: str
    torch: str
    numpy: str
    platform: str
    device: str
    threads: int


class TargetInfo(_Model):
    """What was scanned: the model, its provenance and its input contract."""

    kind: str
    source: str | None = None
    format: str | None = None
    sha256: str | None = None
    bounds: tuple[float, float]
    mean: list[float] | None = None
    std: list[float] | None = None
    eot: int = 1
    num_classes: int
    num_parameters: int | None = None


class DataInfo(_Model):
    """The evaluation data and its fingerprint."""

    source: str
    sha256: str
    n_samples: int
    input_shape: list[int]
    num_classes: int
    class_names: list[str] | None = None
    groups: list[str] | None = None


class AttackConfig(_Model):
    """One attack of the suite with its hyper-parameters at the first eps."""

    name: str
    params: dict[str, Any]


class ScanConfig(_Model):
    """Every setting needed to re-run the scan."""

    norm: Literal["linf", "l2"] | None
    """None for a report with no evasion part (backdoor checks only)."""
    eps: list[float]
    suite: str
    attacks: list[AttackConfig]
    minimal: AttackConfig | None
    seed: int
    batch_size: int
    checks: bool
    check_samples: int


class CleanResult(_Model):
    """Accuracy and calibration without attack."""

    accuracy: Accuracy
    ece: float
    reliability: Reliability
    per_class: list[GroupAccuracy]
    per_slice: list[GroupAccuracy]


class AttackStats(_Model):
    """What one attack of the suite did at one eps: samples attacked, broken, cost."""

    attack: str
    attacked: int
    broken: int
    forward: int
    backward: int
    queries_mean: float | None = None
    seconds: float


class EpsResult(_Model):
    """Robustness at one eps of the threat model."""

    eps: float
    robust: Accuracy
    attack_success_rate: float
    broken_by: dict[str, int]
    ece: float
    reliability: Reliability
    per_class: list[GroupAccuracy]
    per_slice: list[GroupAccuracy]
    attacks: list[AttackStats]


class CurvePoint(_Model):
    """Robust accuracy at one eps, read off the minimal perturbations."""

    eps: float
    accuracy: float


class MinimalPerturbation(_Model):
    """Each sample's smallest adversarial perturbation found (minimum-norm attack)."""

    attack: str
    attacked: int
    found: int
    quantiles: dict[str, float]
    curve: list[CurvePoint]
    histogram_edges: list[float]
    histogram_counts: list[int]
    forward: int
    backward: int
    seconds: float


class CheckResult(_Model):
    """One sanity check of the evaluation itself."""

    id: str
    title: str
    status: CheckStatus
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    fix: str | None = None


class Example(_Model):
    """A clean input beside an adversarial one that fools the model (image data only)."""

    index: int
    eps: float
    attack: str
    label: int
    clean_pred: int
    adv_pred: int
    distance: float
    clean: list[Any]
    adversarial: list[Any]


class Samples(_Model):
    """Per-sample outcome, aligned with the data order."""

    label: list[int]
    clean_pred: list[int]
    min_distance: list[float | None]
    broken_by: list[list[str | None]]


class Cost(_Model):
    """Work done: per-sample forward/backward passes, black-box queries, wall time."""

    forward: int
    backward: int
    queries: int
    seconds: float
    stages: dict[str, float]


class PolicyFinding(_Model):
    """One policy rule applied to the result."""

    rule: str
    passed: bool
    message: str
    actual: float | str | None = None
    threshold: float | str | None = None


class PolicyVerdict(_Model):
    """The policy file's verdict on this scan."""

    source: str | None
    passed: bool
    findings: list[PolicyFinding]


class ScanResult(_Model):
    """Everything a scan found. JSON is the source of truth; HTML/JUnit/SARIF derive from it
    (``redline.reports``)."""

    schema_version: str = SCHEMA_VERSION
    created_at: str
    environment: Environment
    target: TargetInfo
    data: DataInfo
    config: ScanConfig
    clean: CleanResult
    eps: list[EpsResult]
    minimal: MinimalPerturbation | None = None
    checks: list[CheckResult]
    examples: list[Example]
    samples: Samples
    cost: Cost
    policy: PolicyVerdict | None = None
    backdoor: BackdoorSection | None = None
    certified: CertifiedSection | None = None
    """Randomized-smoothing certificates (schema 1.2): a guarantee, kept apart from the
    empirical robust accuracies above."""
    tabular: TabularSection | None = None
    """A tabular model under a feature schema (schema 1.4): the schema, and the examples
    in the features' own units."""
    natural_shift: NaturalShiftSection | None = None
    """Accuracy under common corruptions or natural tabular shifts (schema 1.5), apart
    from the worst-case attacks above."""

    def at(self, eps: float) -> EpsResult:
        """The result at the grid point closest to ``eps``."""
        return min(self.eps, key=lambda r: abs(r.eps - eps))

    def to_json(self, path: str | Path) -> None:
        """Write the result as indented JSON."""
        Path(path).write_text(self.model_dump_json(indent=1), encoding="utf-8")

    @classmethod
    def from_json(cls, path: str | Path) -> ScanResult:
        """Read a result written by :meth:`to_json` (schema version checked)."""
        from redline.results._schema import load_result

        return load_result(Path(path))
