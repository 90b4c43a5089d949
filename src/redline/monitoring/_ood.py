"""Out-of-distribution detectors on a classifier's logits or penultimate features.

Four scores, each "higher = more out-of-distribution":

* :class:`MaxSoftmax` (Hendrycks & Gimpel, ICLR 2017) and :class:`Energy` (Liu et al.,
  NeurIPS 2020) read the logits and learn nothing;
* :class:`Mahalanobis` (Lee et al., NeurIPS 2018) and :class:`KNN` (Sun et al., ICML 2022)
  read the penultimate features (``redline.targets.penultimate``) and learn statistics of
  the clean ones.

Thresholds come from a clean false-positive rate ``fpr``. The detectors that learn
statistics hold out a stratified ``calibration`` share of the fitted rows and set the
threshold on their scores: scores of the rows a detector was fitted on are biased low (a
KNN sample is its own nearest neighbour), scores of held-out rows are distributed as those
of fresh clean data. The threshold is the split-conformal quantile of the ``n`` clean
scores, the ``ceil((n + 1)(1 - fpr))``-th smallest, so the expected false-positive rate on
fresh clean data is at most ``fpr`` and at least ``fpr - 1 / (n + 1)``. ``calibrate(X)``
sets it again from any clean set (a first production window, say). When the fitted rows
are the model's own training data, a model that overfits them is more confident there
than on fresh data, and the rate creeps above ``fpr``: calibrate on clean data the model
never saw (on the MNIST CNN of ``benchmarks/ood.py`` both give 4.5-6.8% at 5%).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Self

import numpy as np
import numpy.typing as npt
import torch

from redline.errors import InputError

__all__ = ["KNN", "Energy", "Mahalanobis", "MaxSoftmax"]

Floats = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]
Rows = npt.NDArray[np.intp]


def _matrix(x: npt.ArrayLike | torch.Tensor, name: str = "X") -> Floats:
    """``x`` as a finite 2-D float64 array (rows = samples), else one clear InputError."""
    raw = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric 2-D array: {exc}") from exc
    if arr.ndim != 2:
        raise InputError(f"{name} must be 2-D (samples, features), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError(f"{name} contains NaN or infinite values")
    return arr


def _labels(y: npt.ArrayLike | torch.Tensor, n: int) -> Labels:
    raw = np.asarray(y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y)
    if raw.ndim != 1 or not np.issubdtype(raw.dtype, np.integer):
        raise InputError(f"y must be a 1-D integer array, got {raw.dtype} of shape {raw.shape}")
    if len(raw) != n:
        raise InputError(f"X has {n} rows but y has {len(raw)} labels")
    return raw.astype(np.int64)


def _conformal_threshold(scores: Floats, fpr: float) -> float:
    """The ``ceil((n + 1)(1 - fpr))``-th smallest clean score (``inf`` when that rank is
    past ``n``: too few clean scores for so small an ``fpr``)."""
    rank = math.ceil((len(scores) + 1) * (1.0 - fpr) - 1e-9)
    return float(np.sort(scores)[rank - 1]) if rank <= len(scores) else math.inf


def _split(n: int, y: Labels | None, share: float, seed: int) -> tuple[Rows, Rows]:
    """Rows to fit on and rows to calibrate on: ``floor(share * n)`` held out at random,
    per class when labels are given (every class keeps at least one row to fit on)."""
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if y is None else [np.flatnonzero(y == c) for c in np.unique(y)]
    fit, cal = [], []
    for rows in groups:
        rows = rng.permutation(rows)
        cut = min(int(share * len(rows)), len(rows) - 1)
        cal.append(rows[:cut])
        fit.append(rows[cut:])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(cal))


class _OODDetector(ABC):
    """Shared contract: validation, thresholds from a clean FPR, ``score`` and ``predict``."""

    fpr: float
    n_features_in_: int
    threshold_: float
    calibration_scores_: Floats

    @abstractmethod
    def _score(self, x: Floats) -> Floats:
        """The OOD score of each row of a validated ``x`` (higher = more OOD)."""

    def _check_params(self) -> None:
        if not 0.0 < self.fpr < 1.0:
            raise InputError(f"fpr must be in (0, 1), got {self.fpr}")

    def _input(self, x: npt.ArrayLike | torch.Tensor) -> Floats:
        if not hasattr(self, "n_features_in_"):
            raise InputError(f"{type(self).__name__} is not fitted: call fit first")
        arr = _matrix(x)
        if arr.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {arr.shape[1]} features but {type(self).__name__} was fitted on "
                f"{self.n_features_in_}"
            )
        return arr

    def score(self, X: npt.ArrayLike | torch.Tensor) -> Floats:
        """OOD score of each row of ``X`` (higher = more out-of-distribution)."""
        arr = self._input(X)
        return self._score(arr) if len(arr) else np.zeros(0)

    def calibrate(self, X_clean: npt.ArrayLike | torch.Tensor) -> Self:
        """Set ``threshold_`` so that a share ``fpr`` of data like ``X_clean`` (clean,
        not fitted on) is flagged; keeps the sorted scores in ``calibration_scores_``."""
        self._check_params()
        scores = self.score(X_clean)
        if not len(scores):
            raise InputError("calibrate needs at least one clean sample")
        self.calibration_scores_ = np.sort(scores)
        self.threshold_ = _conformal_threshold(scores, self.fpr)
        return self

    def predict(self, X: npt.ArrayLike | torch.Tensor) -> npt.NDArray[np.bool_]:
        """True where a row's score is above ``threshold_`` (flagged out-of-distribution)."""
        scores = self.score(X)
        if not hasattr(self, "threshold_"):
            raise InputError(
                f"{type(self).__name__} has no threshold: fit it with calibration > 0 "
                "or call calibrate(X_clean)"
            )
        return scores > self.threshold_


class _LogitDetector(_OODDetector):
    """A fixed function of the logits: ``fit`` only checks them and sets the threshold."""

    def fit(self, X: npt.ArrayLike | torch.Tensor, y: object = None) -> Self:
        """Calibrate the threshold on clean logits ``X`` ``(n, classes)``; ``y`` is ignored."""
        self._check_params()
        arr = _matrix(X)
        if arr.shape[1] < 2:
            raise InputError(f"logits need at least 2 classes, got shape {arr.shape}")
        self.n_features_in_ = arr.shape[1]
        return self.calibrate(arr)


class MaxSoftmax(_LogitDetector):
    """Maximum softmax probability (Hendrycks & Gimpel 2017): confident means familiar.

    The score is ``-log max_c softmax(z)_c = log sum_c exp(z_c - max z)``, a monotone
    function of ``-max softmax``: the same ranking and so the same detector, but computed
    with ``log1p`` in float64 it still orders confidences that round to 1.0 in float32.
    """

    def __init__(self, *, fpr: float = 0.05) -> None:
        self.fpr = fpr

    def _score(self, x: Floats) -> Floats:
        e = np.exp(x - x.max(axis=1, keepdims=True))
        e[np.arange(len(e)), e.argmax(axis=1)] = 0.0  # the top class's own exp(0) = 1
        out: Floats = np.log1p(e.sum(axis=1))
        return out


class Energy(_LogitDetector):
    """Free energy of the logits (Liu et al. 2020): ``-T logsumexp(z / T)``; in-distribution
    inputs get low energy. ``temperature`` is the paper's ``T`` (1 in its experiments)."""

    def __init__(self, *, temperature: float = 1.0, fpr: float = 0.05) -> None:
        self.temperature = temperature
        self.fpr = fpr

    def _check_params(self) -> None:
        super()._check_params()
        if not self.temperature > 0:
            raise InputError(f"temperature must be > 0, got {self.temperature}")

    def _score(self, x: Floats) -> Floats:
        z = x / self.temperature
        top = z.max(axis=1)
        out: Floats = -self.temperature * (top + np.log(np.exp(z - top[:, None]).sum(axis=1)))
        return out


class _FeatureDetector(_OODDetector):
    """Learns statistics of clean features on one part of the fitted rows and calibrates
    the threshold on the held-out ``calibration`` share (0: no threshold until
    :meth:`calibrate`)."""

    calibration: float
    random_state: int

    @abstractmethod
    def _fit_stats(self, x: Floats, y: Labels | None) -> None:
        """Learn the detector's statistics from validated clean features."""

    def _fit_split(
        self, X: npt.ArrayLike | torch.Tensor, y: npt.ArrayLike | torch.Tensor | None
    ) -> Self:
        self._check_params()
        if not 0.0 <= self.calibration < 1.0:
            raise InputError(f"calibration must be in [0, 1), got {self.calibration}")
        arr = _matrix(X)
        labels = None if y is None else _labels(y, len(arr))
        fit, cal = _split(len(arr), labels, self.calibration, self.random_state)
        if self.calibration > 0 and not len(cal):
            raise InputError(
                f"calibration={self.calibration} of {len(arr)} rows holds out no row: "
                "pass more rows or a larger share"
            )
        for name in ("threshold_", "calibration_scores_"):
            if hasattr(self, name):
                delattr(self, name)
        self._fit_stats(arr[fit], None if labels is None else labels[fit])
        self.n_features_in_ = arr.shape[1]
        return self.calibrate(arr[cal]) if len(cal) else self


class Mahalanobis(_FeatureDetector):
    """Smallest Mahalanobis distance to a class mean, with one covariance shared by the
    classes (Lee et al. 2018, on the penultimate features).

    The score is ``min_c (f - mu_c)^T P (f - mu_c)``, with ``S`` the pooled within-class
    covariance and ``P = (S + ridge * lambda_max(S) * I)^-1``. The ridge matters where a
    feature never varies on clean data (a ReLU unit that never fires: 34 of 64 on the
    MNIST CNN of ``benchmarks/ood.py``): an input that moves along it lies off the clean
    data's support and scores high. ``ridge=0`` takes the pseudo-inverse instead, as the
    authors' code (scikit-learn's ``EmpiricalCovariance``), which ignores such directions
    (there: AUROC 0.984 instead of 0.990 on LFW faces). Only the paper's base detector: no
    input preprocessing and no ensemble over layers.
    """

    means_: Floats
    classes_: Labels
    whitening_: Floats

    def __init__(
        self,
        *,
        fpr: float = 0.05,
        calibration: float = 0.2,
        ridge: float = 1e-6,
        random_state: int = 0,
    ) -> None:
        self.fpr = fpr
        self.calibration = calibration
        self.ridge = ridge
        self.random_state = random_state

    def fit(self, X: npt.ArrayLike | torch.Tensor, y: npt.ArrayLike | torch.Tensor) -> Self:
        """Class means and the shared covariance from clean features ``X`` with labels ``y``
        (true labels of the training data), then the threshold."""
        return self._fit_split(X, y)

    def _fit_stats(self, x: Floats, y: Labels | None) -> None:
        y = np.zeros(0, np.int64) if y is None else y
        classes = np.unique(y)
        if len(classes) < 2:
            raise InputError(f"Mahalanobis needs at least 2 classes in y, got {len(classes)}")
        means = np.stack([x[y == c].mean(axis=0) for c in classes])
        centred = x - means[np.searchsorted(classes, y)]
        self.whitening_ = self._whitening(centred.T @ centred / len(x))
        self.classes_ = classes
        self.means_ = means

    def _whitening(self, cov: Floats) -> Floats:
        """``W`` with ``W W^T = P``: the ridged inverse, or the pseudo-inverse at ridge 0
        (eigenvalues below ``d`` float64 epsilons of the largest dropped, as ``pinvh``)."""
        if not self.ridge >= 0:
            raise InputError(f"ridge must be >= 0, got {self.ridge}")
        values, vectors = np.linalg.eigh(cov)
        top = max(float(values.max()), 0.0)
        if top == 0.0:
            raise InputError("features have no variance within classes: nothing to model")
        if self.ridge > 0:
            values = np.maximum(values, 0.0) + self.ridge * top
            keep = np.ones(len(values), bool)
        else:
            keep = values > len(values) * np.finfo(np.float64).eps * top
        out: Floats = vectors[:, keep] / np.sqrt(values[keep])
        return out

    def _score(self, x: Floats) -> Floats:
        z = x @ self.whitening_
        centres = self.means_ @ self.whitening_
        out: Floats = np.min([((z - c) ** 2).sum(axis=1) for c in centres], axis=0)
        return out


class KNN(_FeatureDetector):
    """Distance to the ``k``-th nearest clean neighbour of the L2-normalised features
    (Sun et al. 2022), by exact search in chunks of ``batch_size`` queries.

    The paper uses ``k = 50`` on CIFAR-10's 50,000 training images; ``k`` must be smaller
    than the number of rows fitted on (those not held out for calibration).
    """

    bank_: Floats

    def __init__(
        self,
        *,
        k: int = 50,
        fpr: float = 0.05,
        calibration: float = 0.2,
        batch_size: int = 1024,
        random_state: int = 0,
    ) -> None:
        self.k = k
        self.fpr = fpr
        self.calibration = calibration
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, X: npt.ArrayLike | torch.Tensor, y: object = None) -> Self:
        """Keep the normalised clean features ``X`` as the neighbour bank, then the
        threshold; ``y`` is ignored."""
        if self.batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {self.batch_size}")
        return self._fit_split(X, None)

    def _fit_stats(self, x: Floats, y: Labels | None) -> None:
        if not 1 <= self.k < len(x):
            raise InputError(
                f"k must be in [1, {len(x)}) (the rows fitted on after the calibration "
                f"share), got k={self.k}"
            )
        self.bank_ = _normalised(x)

    def _score(self, x: Floats) -> Floats:
        queries = _normalised(x)
        bank_sq = (self.bank_**2).sum(axis=1)
        out = np.empty(len(queries))
        for start in range(0, len(queries), self.batch_size):
            q = queries[start : start + self.batch_size]
            d2 = (q**2).sum(axis=1)[:, None] - 2.0 * q @ self.bank_.T + bank_sq
            kth = np.partition(d2, self.k - 1, axis=1)[:, self.k - 1]
            out[start : start + len(q)] = np.sqrt(np.maximum(kth, 0.0))
        return out


def _normalised(x: Floats) -> Floats:
    """Rows scaled to unit L2 norm; an all-zero row stays zero (as ``F.normalize``)."""
    out: Floats = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return out
