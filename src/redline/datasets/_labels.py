"""Label issues by confident learning (Northcutt, Jiang & Chuang, JAIR 2021).

Written from the paper (no cleanlab code, which is AGPL): out-of-sample predicted
probabilities, a per-class confidence threshold (the mean self-confidence of the class),
the confident joint of given and likely-true labels, calibrated to the class counts, and
per class the samples with the lowest margin pruned by the estimated noise count.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from redline.datasets._validate import validate_arrays
from redline.errors import InputError

__all__ = ["LabelIssueReport", "find_label_issues", "out_of_sample_probs"]

Probs = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]
Rank = Literal["margin", "self_confidence"]


@dataclass(frozen=True)
class LabelIssueReport:
    """Samples whose given label is likely wrong, most likely first.

    ``suggested[k]`` is the likely true label of ``indices[k]``; ``per_class`` counts the
    flagged samples per given label; ``noise_rate`` is the estimated share of wrong labels
    in the whole set (off-diagonal mass of the calibrated confident joint), which may
    exceed the flagged share; ``confident_joint[i, j]`` counts samples labelled ``i``
    confidently predicted as ``j``.
    """

    n_samples: int
    indices: npt.NDArray[np.intp]
    suggested: Labels
    self_confidence: Probs
    per_class: dict[int, int]
    noise_rate: float
    thresholds: Probs
    confident_joint: Labels

    @property
    def mask(self) -> npt.NDArray[np.bool_]:
        """Boolean mask over the samples: True for flagged ones."""
        out = np.zeros(self.n_samples, dtype=bool)
        out[self.indices] = True
        return out


def out_of_sample_probs(x: Any, y: Any, *, folds: int = 5, seed: int = 0) -> Probs:
    """Predicted probabilities of every sample from a model that never saw it: K-fold
    cross-validation of a logistic regression on the flattened inputs (which should share
    a scale, e.g. [0, 1]: redline's loaders and bundled sets do)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    xa, ya = validate_arrays(x, y, source="label check data")
    k = int(ya.max()) + 1
    counts = np.bincount(ya, minlength=k)
    present = counts[counts > 0]
    if folds < 2 or int(present.min()) < folds:
        raise InputError(
            f"{folds}-fold cross-validation needs folds >= 2 and at least {folds} samples "
            f"per class (smallest class has {int(present.min())})"
        )
    flat = xa.reshape(len(xa), -1)
    probs = np.zeros((len(ya), k))
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(flat, ya)
    for fit_idx, out_idx in splits:
        model = LogisticRegression(max_iter=1000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(flat[fit_idx], ya[fit_idx])
        probs[np.ix_(out_idx, model.classes_)] = model.predict_proba(flat[out_idx])
    return probs


def _check_probs(probs: Any, y: Labels) -> Probs:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) != len(y) or p.shape[1] <= int(y.max()):
        raise InputError(
            f"probs must have shape (n_samples={len(y)}, n_classes > {int(y.max())}), got {p.shape}"
        )
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise InputError("probs must be finite probabilities in [0, 1]")
    if not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise InputError("each row of probs must sum to 1 (pass softmax outputs, not logits)")
    return p


def _confident_joint(probs: Probs, y: Labels) -> tuple[Labels, Probs, Labels]:
    """Confident joint counts, per-class thresholds, and each sample's confident label
    (-1 where no class reaches its threshold)."""
    k = probs.shape[1]
    counts = np.bincount(y, minlength=k)
    sums = np.bincount(y, weights=probs[np.arange(len(y)), y], minlength=k)
    thresholds = np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)
    above = probs >= thresholds - 1e-12
    confident = np.where(above.any(axis=1), np.where(above, probs, -1.0).argmax(axis=1), -1)
    joint = np.zeros((k, k), dtype=np.int64)
    has = confident >= 0
    np.add.at(joint, (y[has], confident[has]), 1)
    return joint, thresholds, confident.astype(np.int64)


def _calibrated(joint: Labels, y: Labels) -> Probs:
    """The confident joint rescaled so each row sums to its class's sample count."""
    counts = np.bincount(y, minlength=joint.shape[0]).astype(np.float64)
    rows = joint.sum(axis=1, keepdims=True).astype(np.float64)
    scaled = np.where(rows > 0, joint / np.maximum(rows, 1.0), 0.0) * counts[:, None]
    empty = rows[:, 0] == 0
    scaled[empty, empty] = counts[empty]  # no confident sample: assume the label is right
    return scaled


def _margins(probs: Probs, y: Labels) -> Probs:
    """Normalized margin: the given label's probability minus the best other one."""
    rows = np.arange(len(y))
    others = probs.copy()
    others[rows, y] = -np.inf
    margins: Probs = probs[rows, y] - others.max(axis=1)
    return margins


def _prune(calibrated: Probs, y: Labels, margins: Probs) -> list[int]:
    """Per class, the estimated number of wrong labels (off-diagonal row mass of the
    calibrated joint) with the lowest margins, skipping any the model predicts as given."""
    flagged: list[int] = []
    for label in range(calibrated.shape[0]):
        members = np.flatnonzero(y == label)
        n_wrong = round(float(calibrated[label].sum() - calibrated[label, label]))
        if n_wrong <= 0 or len(members) == 0:
            continue
        lowest = members[np.argsort(margins[members], kind="stable")[:n_wrong]]
        flagged.extend(int(i) for i in lowest[margins[lowest] < 0])
    return flagged


def _labels_and_probs(x: Any, y: Any, probs: Any, folds: int, seed: int) -> tuple[Labels, Probs]:
    if probs is None:
        _, labels = validate_arrays(x, y, source="label check data")
        return labels, out_of_sample_probs(x, labels, folds=folds, seed=seed)
    n = len(np.asarray(y))
    if x is not None and len(np.asarray(x)) != n:
        raise InputError(f"x has {len(np.asarray(x))} samples but y has {n} labels")
    _, labels = validate_arrays(np.zeros((n, 1)), y, source="labels")
    return labels, _check_probs(probs, labels)


def find_label_issues(
    x: Any,
    y: Any,
    *,
    probs: Any = None,
    folds: int = 5,
    seed: int = 0,
    rank_by: Rank = "margin",
) -> LabelIssueReport:
    """Flag samples whose given label the data contradict (confident learning).

    ``probs`` are out-of-sample class probabilities (e.g. from cross-validating your own
    model; ``x`` may then be None); without them :func:`out_of_sample_probs` computes
    some. Flagged samples are ranked by normalized margin or by self-confidence (the
    given label's probability), lowest first.
    """
    if rank_by not in ("margin", "self_confidence"):
        raise InputError(f"rank_by must be 'margin' or 'self_confidence', got {rank_by!r}")
    labels, p = _labels_and_probs(x, y, probs, folds, seed)
    rows = np.arange(len(labels))
    joint, thresholds, confident = _confident_joint(p, labels)
    calibrated = _calibrated(joint, labels)
    margins = _margins(p, labels)
    self_conf = p[rows, labels]
    flagged = np.array(_prune(calibrated, labels, margins), dtype=np.intp)
    key = margins if rank_by == "margin" else self_conf
    order = flagged[np.argsort(key[flagged], kind="stable")]
    others = p.copy()
    others[rows, labels] = -1.0
    suggested = np.where(confident[order] >= 0, confident[order], others[order].argmax(axis=1))
    per_class = np.bincount(labels[order], minlength=p.shape[1])
    return LabelIssueReport(
        n_samples=len(labels),
        indices=order,
        suggested=suggested.astype(np.int64),
        self_confidence=self_conf[order],
        per_class={c: int(n) for c, n in enumerate(per_class.tolist())},
        noise_rate=float(1.0 - np.trace(calibrated) / calibrated.sum()),
        thresholds=thresholds,
        confident_joint=joint,
    )
