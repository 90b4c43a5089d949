"""Statistics for results: accuracy with its Wilson interval, calibration (ECE, reliability),
per-group accuracy. Needs numpy; the schema types in ``redline.results`` do not."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from redline.results._common import Accuracy, wilson
from redline.results._scan import GroupAccuracy, Reliability

__all__ = ["accuracy", "ece", "group_accuracies", "reliability", "wilson"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.floating]


def accuracy(correct: BoolArray) -> Accuracy:
    """Accuracy of a boolean mask, with its Wilson interval."""
    n, k = int(correct.size), int(correct.sum())
    return Accuracy(value=k / n if n else 0.0, n=n, correct=k, ci=wilson(k, n))


def _bins(confidence: FloatArray, n_bins: int) -> npt.NDArray[np.intp]:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)


def ece(confidence: FloatArray, correct: BoolArray, n_bins: int = 15) -> float:
    """Expected calibration error: weighted mean |accuracy - confidence| over equal-width bins."""
    if confidence.size == 0:
        return 0.0
    which = _bins(confidence, n_bins)
    total = 0.0
    for b in range(n_bins):
        sel = which == b
        if sel.any():
            total += sel.sum() * abs(float(correct[sel].mean()) - float(confidence[sel].mean()))
    return total / confidence.size


def reliability(confidence: FloatArray, correct: BoolArray, n_bins: int = 10) -> Reliability:
    """Per-bin mean confidence, accuracy and count, for a reliability diagram."""
    which = _bins(confidence, n_bins)
    conf: list[float | None] = []
    acc: list[float | None] = []
    count: list[int] = []
    for b in range(n_bins):
        sel = which == b
        count.append(int(sel.sum()))
        conf.append(float(confidence[sel].mean()) if sel.any() else None)
        acc.append(float(correct[sel].mean()) if sel.any() else None)
    edges = [float(e) for e in np.linspace(0.0, 1.0, n_bins + 1)]
    return Reliability(bin_edges=edges, confidence=conf, accuracy=acc, count=count)


def group_accuracies(
    correct: BoolArray, keys: npt.NDArray[np.generic], names: dict[str, str] | None = None
) -> list[GroupAccuracy]:
    """Accuracy per distinct key (a class or a slice), in sorted key order."""
    out = []
    for key in np.unique(keys):
        sel = keys == key
        label = str(key) if names is None else names.get(str(key), str(key))
        out.append(GroupAccuracy(name=label, accuracy=accuracy(correct[sel])))
    return out
