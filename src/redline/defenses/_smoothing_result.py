"""Certifying a dataset with a :class:`SmoothedClassifier`: per-sample certificates and
certified accuracy against the L2 radius.

A certificate is a guarantee (with probability ``1 - alpha`` per sample, over the Monte
Carlo noise): no L2 perturbation smaller than the radius changes the smoothed
classifier's answer. It is never an empirical robust accuracy, and the two must not be
mixed in one table.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch

from redline.defenses._smoothing import SmoothedClassifier, check_sampling
from redline.errors import InputError

if TYPE_CHECKING:
    from redline.results import CertifiedSection

__all__ = ["GUARANTEE", "CertifyResult", "certify_dataset"]

GUARANTEE = "certified (guarantee, 1-alpha per sample)"
"""How certified numbers are labelled wherever they are shown."""
PROMISE = (
    "with probability at least 1-alpha per sample, no L2 perturbation below its radius "
    "changes the smoothed prediction"
)
METHOD = "randomized smoothing, CERTIFY (Cohen, Rosenfeld & Kolter 2019)"


@dataclass(frozen=True)
class CertifyResult:
    """Cohen et al.'s CERTIFY on each sample: the predicted class (-1 = abstain), the
    certified L2 radius (0 on abstain) and ``pA_lower``, with the settings that make the
    guarantee (``sigma``, ``n0``, ``n``, ``alpha``, ``seed``) and the cost."""

    labels: tuple[int, ...]
    predictions: tuple[int, ...]
    radii: tuple[float, ...]
    p_lower: tuple[float, ...]
    sigma: float
    n0: int
    n: int
    alpha: float
    seed: int
    seconds: float
    forward_passes: int

    @property
    def correct(self) -> tuple[bool, ...]:
        """Per sample: the smoothed classifier answered, and answered the true label."""
        return tuple(p == y for p, y in zip(self.predictions, self.labels, strict=True))

    @property
    def abstained(self) -> tuple[bool, ...]:
        """Per sample: CERTIFY abstained (``pA_lower < 1/2``)."""
        return tuple(p < 0 for p in self.predictions)

    @property
    def abstention_rate(self) -> float:
        """Fraction of samples on which CERTIFY abstained."""
        return sum(self.abstained) / len(self.labels)

    @property
    def clean_accuracy(self) -> float:
        """Certified accuracy at radius 0: correct and not abstained."""
        return self.certified_accuracy(0.0)

    @property
    def max_radius(self) -> float:
        """The largest radius ``n`` and ``alpha`` can certify at all (all ``n`` copies on
        one class): ``sigma * Phi^-1(alpha ** (1 / n))``."""
        from scipy.stats import norm

        return float(self.sigma * norm.ppf(self.alpha ** (1.0 / self.n)))

    def certified_accuracy(self, radius: float) -> float:
        """Fraction of samples certified correct at L2 ``radius`` (a guarantee, with
        probability ``1 - alpha`` per sample; not an empirical robust accuracy)."""
        hits = sum(c and r >= radius for c, r in zip(self.correct, self.radii, strict=True))
        return hits / len(self.labels)

    def radius_grid(self, step: float | None = None) -> list[float]:
        """0 to :attr:`max_radius` in steps of ``step`` (default ``sigma / 4``)."""
        step = self.sigma / 4 if step is None else float(step)
        if not step > 0:
            raise InputError(f"radius step must be > 0, got {step}")
        count = math.floor(self.max_radius / step + 1e-9)
        return [round(i * step, 12) for i in range(count + 1)]

    def curve(self, step: float | None = None) -> list[tuple[float, float]]:
        """``(radius, certified accuracy)`` over :meth:`radius_grid`: non-increasing."""
        return [(r, self.certified_accuracy(r)) for r in self.radius_grid(step)]

    def section(self) -> CertifiedSection:
        """These certificates as a scan result's ``certified`` section (Wilson intervals
        over the samples on every point of the curve)."""
        from redline.results import CertifiedPoint, CertifiedSection
        from redline.results.metrics import accuracy

        correct = np.asarray(self.correct, dtype=bool)
        radii = np.asarray(self.radii, dtype=float)
        return CertifiedSection(
            method=METHOD,
            guarantee=f"{GUARANTEE}: {PROMISE}",
            sigma=self.sigma, n0=self.n0, n=self.n, alpha=self.alpha, seed=self.seed,
            clean=accuracy(correct),
            abstention_rate=self.abstention_rate,
            max_radius=self.max_radius,
            curve=[
                CertifiedPoint(radius=r, accuracy=accuracy(correct & (radii >= r)))
                for r in self.radius_grid()
            ],
            radii=list(self.radii), correct=list(self.correct),
            seconds=self.seconds, forward_passes=self.forward_passes,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, labelled as a guarantee (``kind: certified``)."""
        return {
            "kind": "certified",
            "guarantee": f"{GUARANTEE}: {PROMISE}",
            "method": METHOD,
            "settings": {"sigma": self.sigma, "n0": self.n0, "n": self.n, "alpha": self.alpha},
            "seed": self.seed,
            "samples": len(self.labels),
            "clean_accuracy": self.clean_accuracy,
            "abstention_rate": self.abstention_rate,
            "max_radius": self.max_radius,
            "curve": [{"radius": r, "certified_accuracy": a} for r, a in self.curve()],
            "seconds": self.seconds,
            "forward_passes": self.forward_passes,
            "per_sample": {
                "label": list(self.labels),
                "prediction": list(self.predictions),
                "radius": list(self.radii),
                "p_lower": list(self.p_lower),
                "correct": list(self.correct),
                "abstained": list(self.abstained),
            },
        }


def _as_tensors(
    x: torch.Tensor | npt.NDArray[np.float32], y: torch.Tensor | npt.NDArray[np.int64]
) -> tuple[torch.Tensor, list[int]]:
    xt = torch.as_tensor(x, dtype=torch.float32)
    labels = [int(v) for v in torch.as_tensor(y).reshape(-1).tolist()]
    if len(xt) == 0 or len(xt) != len(labels):
        raise InputError(f"need as many labels as samples (>= 1), got {len(labels)} for {len(xt)}")
    return xt, labels


def _certify_slices(
    smoothed: SmoothedClassifier,
    x: torch.Tensor,
    settings: tuple[int, int, float, int],
    callback: Callable[[int, int], None] | None,
) -> tuple[list[int], list[float], list[float]]:
    """CERTIFY slice by slice (as many samples as fit one forward batch)."""
    n0, n, alpha, seed = settings
    per_slice = max(1, smoothed.batch_size // (n0 + n))
    preds: list[int] = []
    radii: list[float] = []
    bounds: list[float] = []
    for start in range(0, len(x), per_slice):
        chunk = x[start : start + per_slice]
        p, r, b = smoothed.certify_with_bound(chunk, n0, n, alpha, seed, first=start)
        preds.extend(p.tolist())
        radii.extend(r.tolist())
        bounds.extend(b.tolist())
        if callback is not None:
            callback(len(preds), len(x))
    return preds, radii, bounds


def certify_dataset(
    smoothed: SmoothedClassifier,
    x: torch.Tensor | npt.NDArray[np.float32],
    y: torch.Tensor | npt.NDArray[np.int64],
    *,
    n0: int = 100,
    n: int = 1000,
    alpha: float = 0.001,
    seed: int = 0,
    callback: Callable[[int, int], None] | None = None,
) -> CertifyResult:
    """Run CERTIFY on every sample of ``(x, y)`` (input space) and collect the
    certificates. ``callback(done, total)`` follows progress; slicing never changes the
    numbers (sample ``i`` always uses noise stream ``(seed, i)``)."""
    check_sampling(n, alpha, n0)
    xt, labels = _as_tensors(x, y)
    t0, passes0 = time.perf_counter(), smoothed.forward_passes
    preds, radii, bounds = _certify_slices(smoothed, xt, (n0, n, alpha, seed), callback)
    return CertifyResult(
        labels=tuple(labels),
        predictions=tuple(preds),
        radii=tuple(radii),
        p_lower=tuple(bounds),
        sigma=smoothed.sigma,
        n0=n0,
        n=n,
        alpha=alpha,
        seed=seed,
        seconds=time.perf_counter() - t0,
        forward_passes=smoothed.forward_passes - passes0,
    )
