"""What a model made of a window: predicted classes, confidence overall and per
predicted class, and a sample of its penultimate features (all mergeable)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.errors import InputError
from redline.monitoring._columns import CategoricalColumn, NumericColumn
from redline.monitoring._reservoir import Reservoir

__all__ = ["Predictions"]


@dataclass(frozen=True)
class Predictions:
    """Predicted-class counts, max-probability confidence, and optional features."""

    n_classes: int
    predicted: CategoricalColumn
    confidence: NumericColumn
    by_class: dict[str, NumericColumn]
    features: Reservoir | None = None
    labelled: int = 0
    """Rows whose true label was profiled too."""
    correct: int = 0
    """Of those, rows the model got right (the realised accuracy, once labels arrive)."""

    @classmethod
    def of(
        cls,
        probs: npt.ArrayLike,
        rng: np.random.Generator,
        features: npt.ArrayLike | None = None,
        labels: npt.ArrayLike | None = None,
    ) -> Predictions:
        """From class probabilities ``(n, classes)`` (rows summing to 1), optional
        penultimate features ``(n, d)`` and optional true labels (class indices)."""
        p = np.asarray(probs, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] < 2:
            raise InputError(f"probabilities must be (n, classes >= 2), got shape {p.shape}")
        if len(p) and (not np.isfinite(p).all() or np.abs(p.sum(axis=1) - 1).max() > 1e-3):
            raise InputError("probabilities must be finite and each row must sum to 1")
        pred = p.argmax(axis=1)
        conf = p.max(axis=1)
        by_class = {
            str(c): NumericColumn.of(f"confidence[{c}]", conf[pred == c]) for c in range(p.shape[1])
        }
        sample = None
        if features is not None:
            f = np.asarray(features, dtype=np.float64)
            if len(f) != len(p):
                raise InputError(f"{len(f)} feature rows for {len(p)} predictions")
            sample = Reservoir.of(f, rng)
        labelled, correct = _realised(labels, pred)
        return cls(
            p.shape[1],
            CategoricalColumn.of("predicted", pred),
            NumericColumn.of("confidence", conf),
            by_class,
            sample,
            labelled,
            correct,
        )

    def merge(self, other: Predictions) -> Predictions:
        if other.n_classes != self.n_classes:
            raise InputError(f"predictions of {self.n_classes} and {other.n_classes} classes")
        if (self.features is None) != (other.features is None):
            raise InputError("one profile has the model's features and the other has not")
        features = None
        if self.features is not None and other.features is not None:
            features = self.features.merge(other.features)
        return Predictions(
            self.n_classes,
            self.predicted.merge(other.predicted),
            self.confidence.merge(other.confidence),
            {k: v.merge(other.by_class[k]) for k, v in self.by_class.items()},
            features,
            self.labelled + other.labelled,
            self.correct + other.correct,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_classes": self.n_classes,
            "predicted": self.predicted.to_dict(),
            "confidence": self.confidence.to_dict(),
            "by_class": {k: v.to_dict() for k, v in self.by_class.items()},
            "features": None if self.features is None else self.features.to_dict(),
            "labelled": self.labelled,
            "correct": self.correct,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Predictions:
        features = raw.get("features")
        return cls(
            int(raw["n_classes"]),
            CategoricalColumn.from_dict(raw["predicted"]),
            NumericColumn.from_dict(raw["confidence"]),
            {str(k): NumericColumn.from_dict(v) for k, v in raw["by_class"].items()},
            None if features is None else Reservoir.from_dict(features),
            int(raw.get("labelled", 0)),
            int(raw.get("correct", 0)),
        )


def _realised(labels: npt.ArrayLike | None, pred: npt.NDArray[np.int64]) -> tuple[int, int]:
    """``(labelled, correct)``: labels must be class indices (NaN: not labelled yet)."""
    if labels is None:
        return 0, 0
    try:
        y = np.asarray(labels, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise InputError("labels must be class indices (0, 1, ...)") from None
    if len(y) != len(pred):
        raise InputError(f"{len(y)} labels for {len(pred)} predictions")
    known = np.isfinite(y)
    return int(known.sum()), int((y[known] == pred[known]).sum())
