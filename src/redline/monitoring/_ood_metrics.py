"""How well an OOD score separates two sets: AUROC, FPR at 95% TPR and AUPR, with the
out-of-distribution set as the positive class (the convention of the OOD literature and
of pytorch-ood)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from redline.errors import InputError

__all__ = ["OODMetrics", "ood_metrics"]

Floats = npt.NDArray[np.float64]

_TPR = 0.95


@dataclass(frozen=True)
class OODMetrics:
    """Separation of in-distribution (negative) and OOD (positive) scores.

    ``auroc``: probability that an OOD sample scores above an in-distribution one (ties
    count half). ``fpr_at_95_tpr``: share of in-distribution samples at or above the
    highest threshold that still catches 95% of the OOD ones. ``aupr``: average precision
    with OOD positive (AUPR-out, step-wise as scikit-learn's ``average_precision_score``).
    """

    auroc: float
    fpr_at_95_tpr: float
    aupr: float
    n_in: int
    n_out: int


def _scores(values: npt.ArrayLike, name: str) -> Floats:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or not len(arr):
        raise InputError(f"{name} must be a non-empty 1-D array of scores, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError(f"{name} contains NaN or infinite scores")
    return arr


def _curve(scores_in: Floats, scores_out: Floats) -> tuple[Floats, Floats]:
    """True and false positive counts at each distinct threshold, highest first (flag
    ``score >= threshold``), as scikit-learn's ``roc_curve`` builds them."""
    scores = np.concatenate([scores_out, scores_in])
    positive = np.r_[np.ones(len(scores_out)), np.zeros(len(scores_in))]
    order = np.argsort(-scores, kind="stable")
    scores, positive = scores[order], positive[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tps = np.cumsum(positive)[last]
    fps = (last + 1) - tps
    return tps, fps


def ood_metrics(scores_in: npt.ArrayLike, scores_out: npt.ArrayLike) -> OODMetrics:
    """AUROC, FPR at 95% TPR and AUPR of scores where higher means more out-of-distribution."""
    s_in, s_out = _scores(scores_in, "scores_in"), _scores(scores_out, "scores_out")
    tps, fps = _curve(s_in, s_out)
    tpr = np.r_[0.0, tps / len(s_out)]
    fpr = np.r_[0.0, fps / len(s_in)]
    auroc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
    at = int(np.searchsorted(tpr, _TPR, side="left"))
    precision = tps / (tps + fps)
    aupr = float(np.sum(np.diff(tpr) * precision))
    return OODMetrics(auroc, float(fpr[at]), aupr, len(s_in), len(s_out))
