"""Activation clustering (Chen et al., SafeAI@AAAI 2019)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.cluster import KMeans

from redline.poisoning.detection._base import TrainingDataDetector
from redline.poisoning.detection._projections import LinearProjection, principal_basis

__all__ = ["ActivationClustering"]


class ActivationClustering(TrainingDataDetector):
    """Split each class's activations into two clusters; a backdoor makes one of them.

    As in Chen et al., activations are reduced (to ``n_components`` principal axes here
    instead of ICA: deterministic, no convergence warnings) and split by 2-means. Each
    sample's statistic is its signed position along the axis joining the two centroids.
    Chen et al. call the smaller cluster poison when it holds under 35% of the class;
    here its share is estimated by the two-mode model, and the poison cluster is the one
    whose samples disagree with their neighbours' labels, not the smaller one, so a class
    that is half poison is still read correctly (see :class:`TrainingDataDetector`).
    """

    def __init__(self, *, n_components: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_components = n_components

    def _fit_class(self, signal: npt.NDArray[np.float32]) -> LinearProjection:
        feats = signal.astype(np.float64)
        mean = feats.mean(axis=0)
        basis = principal_basis(feats - mean, self.n_components)
        reduced = (feats - mean) @ basis.T
        if len(np.unique(reduced.round(12), axis=0)) < 2:
            return LinearProjection(mean, basis[0])
        km = KMeans(n_clusters=2, n_init=10, random_state=self.random_state).fit(reduced)
        axis = km.cluster_centers_[1] - km.cluster_centers_[0]
        norm = float(np.linalg.norm(axis))
        direction = basis.T @ (axis / norm) if norm > 0 else basis[0]
        return LinearProjection(mean, direction)
