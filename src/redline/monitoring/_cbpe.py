"""Performance without labels: confidence-based performance estimation (CBPE).

For a calibrated classifier, the probability that a prediction is right is its
confidence (the probability of the predicted class), so the expected accuracy of a window
is the mean confidence of its rows (NannyML's CBPE). Confidences are rarely calibrated
out of the box, so :class:`CBPE` first fits, on a labelled reference set, an isotonic
regression of "the prediction was right" on the confidence (top-label calibration: the
accuracy is a function of the predicted class's probability only; NannyML calibrates each
class one-vs-rest and renormalises, which serves its confusion-matrix metrics).

The interval is for the *realised* accuracy of the window. Given calibrated confidences
``c_i`` the number of right predictions is a sum of independent Bernoulli(``c_i``), a
Poisson-binomial variable with exact variance ``sum c_i (1 - c_i)``; the calibrator,
fitted on a finite reference, adds the variance of the window's mean over
``n_bootstraps`` calibrators refitted on bootstrap resamples of the reference. The
interval is the normal one with the sum of the two variances, clipped to [0, 1].

CBPE assumes the labels given the inputs do not change (covariate shift only): under
concept drift, or on inputs where the reference calibration does not hold, the estimate
is wrong and no interval says so. Realised accuracy, when labels arrive, is the check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Self

import numpy as np
import numpy.typing as npt
import torch

from redline.errors import InputError
from redline.results import Accuracy, Interval, wilson

__all__ = ["CBPE", "CBPEResult", "WindowEstimate", "estimate_performance"]

Floats = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]
Knots = tuple[Floats, Floats]
"""An isotonic calibrator: confidence knots and the probability of a right prediction."""

_ROW_SUM_TOL = 1e-3


@dataclass(frozen=True)
class WindowEstimate:
    """One window (or one slice of it): rows ``start .. stop - 1`` of the input (a slice's
    rows are those of ``group`` among them), the estimated accuracy with its interval for
    the realised accuracy and, when labels were given, the realised accuracy (Wilson)."""

    window: int
    start: int
    stop: int
    group: str | None
    n: int
    estimated: float
    interval: Interval
    realised: Accuracy | None = None

    @property
    def error(self) -> float | None:
        """Estimated minus realised accuracy (``None`` without labels)."""
        return None if self.realised is None else self.estimated - self.realised.value

    @property
    def covered(self) -> bool | None:
        """Whether the interval holds the realised accuracy (``None`` without labels)."""
        if self.realised is None:
            return None
        return self.interval.low <= self.realised.value <= self.interval.high


@dataclass(frozen=True)
class CBPEResult:
    """Estimated accuracy per window and slice, at ``confidence`` (e.g. 0.95)."""

    windows: tuple[WindowEstimate, ...]
    confidence: float
    calibrated: bool

    def overall(self) -> tuple[WindowEstimate, ...]:
        """The estimates over all rows of each window (no slice)."""
        return tuple(w for w in self.windows if w.group is None)

    def slice(self, group: str) -> tuple[WindowEstimate, ...]:
        """The estimates of one slice, window by window."""
        return tuple(w for w in self.windows if w.group == group)


def _probabilities(probs: npt.ArrayLike | torch.Tensor, name: str = "probs") -> Floats:
    """``probs`` as ``(n, k)`` class probabilities; a 1-D array is P(class 1) of a binary
    classifier. Rows must lie in [0, 1] and sum to 1: these are not logits."""
    raw = probs.detach().cpu().numpy() if isinstance(probs, torch.Tensor) else probs
    try:
        p = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric array: {exc}") from exc
    if p.ndim == 1:
        p = np.stack([1.0 - p, p], axis=1)
    if p.ndim != 2 or p.shape[1] < 2:
        raise InputError(f"{name} must be (n,) or (n, classes >= 2), got shape {p.shape}")
    if not np.isfinite(p).all():
        raise InputError(f"{name} contains NaN or infinite values")
    if p.size and (p.min() < 0 or p.max() > 1):
        raise InputError(f"{name} must be probabilities in [0, 1] (softmax the logits first)")
    if p.size and np.abs(p.sum(axis=1) - 1).max() > _ROW_SUM_TOL:
        raise InputError(f"the rows of {name} must sum to 1 (softmax the logits first)")
    return p


def _labels(y: npt.ArrayLike | torch.Tensor, n: int, classes: int) -> Labels:
    raw = np.asarray(y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y)
    if raw.ndim != 1 or not (np.issubdtype(raw.dtype, np.integer) or raw.dtype == np.bool_):
        raise InputError(f"y must be a 1-D integer array, got {raw.dtype} of shape {raw.shape}")
    if len(raw) != n:
        raise InputError(f"probs has {n} rows but y has {len(raw)} labels")
    if n and (raw.min() < 0 or raw.max() >= classes):
        raise InputError(f"labels must be in 0..{classes - 1}, got {raw.min()}..{raw.max()}")
    return raw.astype(np.int64)


def _fit_isotonic(confidence: Floats, right: Floats) -> Knots:
    """Isotonic regression of ``right`` (0/1) on ``confidence``, as its knots: tied
    confidences are pooled first (their mean, weighted by count), as scikit-learn's
    ``IsotonicRegression`` does; scipy's pool-adjacent-violators then fits in O(n)."""
    from scipy.optimize import isotonic_regression

    knots, inverse, counts = np.unique(confidence, return_inverse=True, return_counts=True)
    means = np.bincount(inverse, weights=right) / counts
    fitted = isotonic_regression(means, weights=counts.astype(np.float64), increasing=True).x
    return np.asarray(knots, np.float64), np.clip(np.asarray(fitted, np.float64), 0.0, 1.0)


def _apply(knots: Knots, confidence: Floats) -> Floats:
    """The calibrated probability of a right prediction (linear between knots, flat
    outside: scikit-learn's ``predict`` with ``out_of_bounds="clip"``)."""
    return np.asarray(np.interp(confidence, knots[0], knots[1]), np.float64)


def _windows(n: int, chunk: int | None) -> list[tuple[int, int]]:
    if chunk is None:
        return [(0, n)]
    if chunk < 1:
        raise InputError(f"chunk must be >= 1 rows, got {chunk}")
    return [(s, min(s + chunk, n)) for s in range(0, n, chunk)]


def _group_names(groups: Sequence[object] | npt.ArrayLike | None, n: int) -> list[str] | None:
    if groups is None:
        return None
    names = [str(g) for g in np.asarray(groups, dtype=object).ravel()]
    if len(names) != n:
        raise InputError(f"probs has {n} rows but groups has {len(names)} entries")
    return names


class CBPE:
    """Confidence-based performance estimation of a classifier's accuracy.

    ``fit(reference_probs, reference_labels)`` learns the isotonic calibrator (and
    ``n_bootstraps`` bootstrap calibrators for its uncertainty) from labelled reference
    data the model did not train on; ``estimate(probs, ...)`` estimates each window's
    accuracy without labels. With ``calibrate=False`` the confidences are trusted as they
    are and ``fit`` is not needed (only the Poisson-binomial term then enters the
    interval). ``confidence`` is the level of the intervals.
    """

    knots_: Knots
    bootstrap_knots_: list[Knots]
    reference_accuracy_: Accuracy
    n_classes_: int

    def __init__(
        self,
        *,
        calibrate: bool = True,
        confidence: float = 0.95,
        n_bootstraps: int = 100,
        random_state: int = 0,
    ) -> None:
        self.calibrate = calibrate
        self.confidence = confidence
        self.n_bootstraps = n_bootstraps
        self.random_state = random_state

    def fit(
        self, reference_probs: npt.ArrayLike | torch.Tensor, reference_labels: npt.ArrayLike
    ) -> Self:
        """Fit the calibrator on labelled reference predictions (held out from training)."""
        p = _probabilities(reference_probs, "reference_probs")
        if len(p) < 2:
            raise InputError(f"the reference needs at least 2 rows, got {len(p)}")
        y = _labels(reference_labels, len(p), p.shape[1])
        pred, conf = p.argmax(axis=1), p.max(axis=1)
        right = (pred == y).astype(np.float64)
        self.n_classes_ = p.shape[1]
        correct = int(right.sum())
        self.reference_accuracy_ = Accuracy(
            value=correct / len(y), n=len(y), correct=correct, ci=wilson(correct, len(y))
        )
        if self.calibrate:
            self.knots_ = _fit_isotonic(conf, right)
            rng = np.random.default_rng(self.random_state)
            draws = (rng.integers(0, len(y), len(y)) for _ in range(self.n_bootstraps))
            self.bootstrap_knots_ = [_fit_isotonic(conf[i], right[i]) for i in draws]
        return self

    def probability_right(self, probs: npt.ArrayLike | torch.Tensor) -> Floats:
        """Per row, the (calibrated) probability that the predicted class is right."""
        conf = self._check(_probabilities(probs)).max(axis=1)
        return _apply(self.knots_, conf) if self.calibrate else conf

    def _check(self, p: Floats) -> Floats:
        if self.calibrate and not hasattr(self, "knots_"):
            raise InputError("CBPE is not fitted: call fit(reference_probs, reference_labels)")
        classes = getattr(self, "n_classes_", p.shape[1])
        if p.shape[1] != classes:
            raise InputError(f"probs has {p.shape[1]} classes, the reference had {classes}")
        if not 0 < self.confidence < 1:
            raise InputError(f"confidence must be in (0, 1), got {self.confidence}")
        return p

    def estimate(
        self,
        probs: npt.ArrayLike | torch.Tensor,
        *,
        y: npt.ArrayLike | None = None,
        groups: Sequence[object] | npt.ArrayLike | None = None,
        chunk: int | None = None,
    ) -> CBPEResult:
        """Estimated accuracy per window of ``chunk`` consecutive rows (default: one window
        of all rows) and, with ``groups`` (one name per row), per slice of each window;
        with labels ``y``, the realised accuracy beside each estimate."""
        p = self._check(_probabilities(probs))
        if len(p) == 0:
            raise InputError("probs is empty: nothing to estimate")
        conf, pred = p.max(axis=1), p.argmax(axis=1)
        right = None if y is None else (pred == _labels(y, len(p), p.shape[1]))
        names = _group_names(groups, len(p))
        tags = None if names is None else np.asarray(names, dtype=object)
        cal = _apply(self.knots_, conf) if self.calibrate else conf
        boot = [_apply(k, conf) for k in self.bootstrap_knots_] if self.calibrate else []
        z = NormalDist().inv_cdf(0.5 + self.confidence / 2)
        out: list[WindowEstimate] = []
        for index, (start, stop) in enumerate(_windows(len(p), chunk)):
            rows = np.arange(start, stop)
            out.append(_window(index, start, stop, None, rows, cal, boot, right, z))
            if tags is None:
                continue
            for g in sorted(set(tags[start:stop])):
                mine = rows[tags[start:stop] == g]
                out.append(_window(index, start, stop, g, mine, cal, boot, right, z))
        return CBPEResult(tuple(out), self.confidence, self.calibrate)


def _window(
    index: int, start: int, stop: int, group: str | None, rows: npt.NDArray[np.intp],
    cal: Floats, boot: list[Floats], right: npt.NDArray[np.bool_] | None, z: float,
) -> WindowEstimate:  # fmt: skip
    """The estimate of one window or slice: mean calibrated confidence, its interval for
    the realised accuracy (Poisson-binomial + calibrator variance), the realised one."""
    c = cal[rows]
    n = len(rows)
    estimated = float(c.mean())
    var = float((c * (1 - c)).sum()) / n**2
    if len(boot) > 1:
        var += float(np.var([b[rows].mean() for b in boot], ddof=1))
    half = z * math.sqrt(var)
    interval = Interval(low=max(0.0, estimated - half), high=min(1.0, estimated + half))
    realised = None
    if right is not None:
        correct = int(right[rows].sum())
        realised = Accuracy(value=correct / n, n=n, correct=correct, ci=wilson(correct, n))
    return WindowEstimate(index, start, stop, group, n, estimated, interval, realised)


def estimate_performance(
    probs: npt.ArrayLike | torch.Tensor,
    *,
    y: npt.ArrayLike | None = None,
    groups: Sequence[object] | npt.ArrayLike | None = None,
    chunk: int | None = None,
    confidence: float = 0.95,
) -> CBPEResult:
    """CBPE on probabilities trusted as calibrated (``CBPE(calibrate=False)``): use
    :class:`CBPE` with a labelled reference to calibrate them first."""
    estimator = CBPE(calibrate=False, confidence=confidence)
    return estimator.estimate(probs, y=y, groups=groups, chunk=chunk)
