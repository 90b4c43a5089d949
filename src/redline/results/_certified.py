"""The certified section of a scan result: randomized-smoothing certificates of the
scanned model on the scanned samples.

A certificate is a guarantee about the smoothed classifier (with probability ``1 -
alpha`` per sample, no L2 perturbation below the radius changes its answer); the
empirical robust accuracies of the scan are estimates for the base model under attack.
The two are kept in separate sections and never combined into one number."""

from __future__ import annotations

from typing import Literal

from redline.results._common import Accuracy, _Model, wilson

__all__ = ["CertifiedPoint", "CertifiedSection"]


class CertifiedPoint(_Model):
    """Certified accuracy at one L2 radius, with its Wilson 95% interval over the samples
    (the sampling uncertainty of the data; the guarantee itself is per sample)."""

    radius: float
    accuracy: Accuracy


class CertifiedSection(_Model):
    """CERTIFY (Cohen, Rosenfeld & Kolter 2019) on each scanned sample."""

    kind: Literal["certified"] = "certified"
    norm: Literal["l2"] = "l2"
    method: str
    guarantee: str
    sigma: float
    n0: int
    n: int
    alpha: float
    seed: int
    clean: Accuracy
    """Smoothed accuracy at radius 0 (an abstention counts as wrong)."""
    abstention_rate: float
    max_radius: float
    """No radius above this can be certified with these ``n`` and ``alpha``."""
    curve: list[CertifiedPoint]
    radii: list[float]
    """Per sample: its certified radius (0 when it abstained)."""
    correct: list[bool]
    """Per sample: the smoothed classifier answered, and answered the true label."""
    seconds: float
    forward_passes: int

    def at(self, radius: float) -> float:
        """Certified accuracy at any ``radius`` (from the per-sample radii)."""
        return self.accuracy_at(radius).value

    def accuracy_at(self, radius: float) -> Accuracy:
        """Certified accuracy at any ``radius``, with its Wilson 95% interval."""
        pairs = zip(self.correct, self.radii, strict=True)
        hits, n = sum(c and r >= radius for c, r in pairs), len(self.correct)
        return Accuracy(value=hits / n if n else 0.0, n=n, correct=hits, ci=wilson(hits, n))
