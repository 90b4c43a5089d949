"""Black-box target around a fitted scikit-learn classifier (or anything with its API)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from redline.errors import InputError
from redline.targets._base import Target
from redline.targets._scores import (
    Scores,
    labels_to_logits,
    margins_to_logits,
    probabilities_to_logits,
)

__all__ = ["SklearnTarget"]

INF_BOUNDS = (-float("inf"), float("inf"))
"""Tabular features have no common range: per-feature bounds come from the schema."""


class SklearnTarget(Target):
    """A fitted classifier: ``predict_proba`` (log-probabilities as logits), else
    ``decision_function`` (margins), else ``predict`` (label-only, one-hot logits).

    Columns follow ``estimator.classes_``; :meth:`class_index` maps the data's labels to
    them. Inputs are ``(n, features)`` in the model's own feature units, passed to the
    estimator as float64. ``scores`` forces one kind (e.g. ``"labels"`` to test what a
    label-only deployment exposes).
    """

    def __init__(
        self,
        estimator: Any,
        *,
        bounds: tuple[float, float] = INF_BOUNDS,
        scores: Scores | None = None,
    ) -> None:
        super().__init__(bounds=bounds)
        classes = getattr(estimator, "classes_", None)
        if classes is None or not hasattr(estimator, "predict"):
            raise InputError(
                f"{type(estimator).__name__} is not a fitted classifier (no classes_ / predict)"
            )
        self.estimator = estimator
        self.classes = np.asarray(classes)
        if len(self.classes) < 2:
            raise InputError("the classifier knows fewer than 2 classes")
        self.n_features = int(getattr(estimator, "n_features_in_", 0)) or None
        self.scores: Scores = scores or _best_scores(estimator)
        if self.scores == "probabilities" and not hasattr(estimator, "predict_proba"):
            raise InputError(f"{type(estimator).__name__} has no predict_proba")
        if self.scores == "logits" and not hasattr(estimator, "decision_function"):
            raise InputError(f"{type(estimator).__name__} has no decision_function")

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def label_only(self) -> bool:
        return self.scores == "labels"

    def class_index(self, labels: Any) -> np.ndarray:
        """Column index of each label in ``classes_``; unknown labels are an InputError."""
        return class_index(self.classes, labels)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.detach().cpu().double().reshape(len(x), -1).numpy()
        if self.n_features is not None and rows.shape[1] != self.n_features:
            raise InputError(
                f"the model expects {self.n_features} features, the data has {rows.shape[1]}"
            )
        source = type(self.estimator).__name__
        with warnings.catch_warnings():  # fitted on a DataFrame, fed an array: same columns
            warnings.filterwarnings("ignore", "X does not have valid feature names")
            if self.scores == "probabilities":
                return probabilities_to_logits(self.estimator.predict_proba(rows), source)
            if self.scores == "logits":
                return margins_to_logits(self.estimator.decision_function(rows), source)
            idx = self.class_index(self.estimator.predict(rows))
        return labels_to_logits(idx, len(self.classes), source)


def _best_scores(estimator: Any) -> Scores:
    if hasattr(estimator, "predict_proba"):
        return "probabilities"
    if hasattr(estimator, "decision_function"):
        return "logits"
    return "labels"


def class_index(classes: np.ndarray, labels: Any) -> np.ndarray:
    """Positions of ``labels`` in ``classes`` (as the model orders its outputs)."""
    lab = np.asarray(labels).reshape(-1)
    lookup = {c.item() if hasattr(c, "item") else c: i for i, c in enumerate(classes)}
    out = np.empty(len(lab), np.int64)
    for i, v in enumerate(lab):
        key = v.item() if hasattr(v, "item") else v
        if key not in lookup:
            known = ", ".join(map(str, classes[:10]))
            raise InputError(f"label {key!r} is not one of the model's classes ({known})")
        out[i] = lookup[key]
    return out
