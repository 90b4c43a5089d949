"""The backdoor section of a scan result: data detectors, model detector, STRIP, repair."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from redline.results._common import _Model

__all__ = [
    "BackdoorSection",
    "BlindSpot",
    "DataDetection",
    "DetectorClass",
    "Histogram",
    "ModelDetection",
    "PoisonInfo",
    "RepairSummary",
    "ReversedTrigger",
    "StripSummary",
]


class Histogram(_Model):
    """Score histogram of two groups on shared bin edges (clean vs poisoned, or
    unflagged vs flagged when the ground truth is unknown)."""

    edges: list[float]
    groups: dict[str, list[int]]


class DetectorClass(_Model):
    """One class as a training-data detector sees it."""

    label: int
    name: str
    n: int
    contamination: float
    flagged: int
    suspicious: bool
    statistic: float


class DataDetection(_Model):
    """A training-data detector's result over the whole training set."""

    detector: str
    layer: str | None
    n: int
    flagged: int
    suspicious_classes: list[int]
    classes: list[DetectorClass]
    auroc: float | None = None
    tpr_at_5_fpr: float | None = None
    histogram: Histogram
    top: list[int]
    seconds: float


class ReversedTrigger(_Model):
    """A trigger reverse-engineered for one class: mask (h, w) and pattern (c, h, w)."""

    label: int
    mask: list[Any]
    pattern: list[Any]
    mask_l1: float
    attack_success: float


class ModelDetection(_Model):
    """Neural-Cleanse-style verdict: is the model trojaned, toward which class?"""

    detector: str
    anomaly_index: list[float]
    mask_l1: list[float]
    flagged_classes: list[int]
    threshold: float
    triggers: list[ReversedTrigger]
    details: dict[str, Any]
    seconds: float


class StripSummary(_Model):
    """STRIP input guard calibrated on clean data."""

    threshold: float
    frr: float
    n_overlays: int
    clean_frr_measured: float
    far: float | None = None
    """Share of hijacking triggered inputs (the model gives the attacker's label) let
    through; 0 when the trigger hijacks none (nothing to catch)."""
    auroc: float | None = None
    hijacked: int | None = None
    """Triggered inputs the backdoor hijacked, on which ``far`` and ``auroc`` are measured."""
    histogram: Histogram


class RepairSummary(_Model):
    """What a repair did: attack success and clean accuracy before and after, DER."""

    method: str
    params: dict[str, Any]
    asr_before: float | None
    asr_after: float | None
    accuracy_before: float
    accuracy_after: float
    der: float | None


class PoisonInfo(_Model):
    """Ground truth of a simulated poisoning, when the data came with one."""

    attack: str
    rate: float
    target_class: int | None
    n_poisoned: int
    target_share: float | None
    asr: float | None = None


class BlindSpot(_Model):
    """What one check that ran is known to miss, measured by redline's backdoor family
    benchmark (schema 1.3): so a reader knows what a "clean" verdict covers."""

    check: str
    misses: str


class BackdoorSection(_Model):
    """Everything the backdoor checks found; ``verdict`` summarises it in one word."""

    verdict: Literal["clean", "suspicious", "trojaned"]
    summary: str
    data: list[DataDetection] = Field(default_factory=list)
    model: ModelDetection | None = None
    strip: StripSummary | None = None
    repair: RepairSummary | None = None
    poison: PoisonInfo | None = None
    blind_spots: list[BlindSpot] = Field(default_factory=list)
