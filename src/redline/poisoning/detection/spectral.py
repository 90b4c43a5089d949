"""Spectral signatures (Tran, Li and Madry, NeurIPS 2018)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from redline.poisoning.detection._base import TrainingDataDetector
from redline.poisoning.detection._projections import LinearProjection, principal_basis

__all__ = ["SpectralSignatures"]


class SpectralSignatures(TrainingDataDetector):
    """Poison leaves a trace along the top singular vector of a class's centred features.

    Tran et al. score each sample by its squared projection on that vector and remove the
    top ``1.5 * eps`` of every class, ``eps`` assumed. Here the *signed* projection is kept
    (the square folds the two sides together) and modelled as one or two Gaussian modes, so
    the poison share is estimated per class, and label evidence tells which side is poison
    (see :class:`TrainingDataDetector`): it works when poison is half of a class.
    """

    def _fit_class(self, signal: npt.NDArray[np.float32]) -> LinearProjection:
        feats = signal.astype(np.float64)
        mean = feats.mean(axis=0)
        return LinearProjection(mean, principal_basis(feats - mean, 1)[0])
