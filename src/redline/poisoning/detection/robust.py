"""Robust covariance and QUantum Entropy scores (SPECTRE, Hayase et al., ICML 2021)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.linalg import expm

from redline.poisoning.detection._base import TrainingDataDetector
from redline.poisoning.detection._projections import principal_basis

__all__ = ["RobustCovariance"]

Floats = npt.NDArray[np.float64]


def _robust_moments(z: Floats, support: float, steps: int = 30) -> tuple[Floats, Floats]:
    """Mean and covariance of the most concentrated ``support`` share of ``z``, by the
    concentration steps of MCD (Rousseeuw and Van Driessen) started from all samples."""
    n, d = z.shape
    h = max(d + 1, int(np.ceil(support * n)))
    keep = np.arange(n)
    for _ in range(steps):
        mean = z[keep].mean(axis=0)
        cov = np.cov(z[keep], rowvar=False).reshape(d, d)
        cov += np.eye(d) * 1e-3 * max(float(np.trace(cov)) / d, 1e-12)
        diff = z - mean
        dist = np.einsum("ij,ij->i", diff @ np.linalg.inv(cov), diff)
        new = np.sort(np.argsort(dist, kind="stable")[:h])
        if np.array_equal(new, keep):
            break
        keep = new
    return mean, cov


@dataclass(frozen=True)
class QueProjection:
    """Whitened by the robust moments, then scored by QUantum Entropy: log of
    ``w' Q w / tr(Q)`` with ``Q = exp(alpha (C - I) / max(|C| - 1, 1))``, ``C`` the
    whitened covariance (the floor keeps ``Q`` finite when no direction stands out).
    ``alpha = 0`` is the Mahalanobis distance; a large ``alpha`` the projection on the
    top direction of ``C``."""

    mean: Floats
    basis: Floats
    whitening: Floats
    robust_mean: Floats
    q: Floats

    def whiten(self, signal: npt.NDArray[np.float32]) -> Floats:
        z = (signal.astype(np.float64) - self.mean) @ self.basis.T
        return np.asarray((z - self.robust_mean) @ self.whitening.T)

    def __call__(self, signal: npt.NDArray[np.float32]) -> Floats:
        w = self.whiten(signal)
        tau = np.einsum("ij,ij->i", w @ self.q, w)
        return np.asarray(np.log(np.maximum(tau, 1e-12)))


class RobustCovariance(TrainingDataDetector):
    """SPECTRE: robust mean and covariance, whitening, QUE outlier scores.

    Per class, the activations are reduced to ``n_components`` principal axes; the mean
    and covariance of their most concentrated ``support`` share are estimated (so up to
    ``1 - support`` of poison cannot drag them) and every sample is whitened with them.
    Whitening blows up the directions where the estimate underrates the spread, i.e. the
    poison's; QUE scores weight them by ``alpha``. The log-score is modelled as one or two
    modes and oriented by label evidence (see :class:`TrainingDataDetector`): when poison
    is half of a class the robust estimate may lock onto it, and the clean samples become
    the outliers; the label evidence then still names the poison mode.
    """

    def __init__(
        self, *, n_components: int = 16, support: float = 0.5, alpha: float = 4.0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.n_components = n_components
        self.support = support
        self.alpha = alpha

    def _fit_class(self, signal: npt.NDArray[np.float32]) -> QueProjection:
        feats = signal.astype(np.float64)
        mean = feats.mean(axis=0)
        k = max(1, min(self.n_components, len(feats) // 4))
        basis = principal_basis(feats - mean, k)
        z = (feats - mean) @ basis.T
        robust_mean, cov = _robust_moments(z, self.support)
        vals, vecs = np.linalg.eigh(cov)
        whitening = (vecs / np.sqrt(np.maximum(vals, 1e-12))).T
        w = (z - robust_mean) @ whitening.T
        c = np.cov(w, rowvar=False).reshape(len(basis), len(basis))
        top = float(np.linalg.eigvalsh(c)[-1])
        q = expm(self.alpha * (c - np.eye(len(c))) / max(top - 1.0, 1.0))
        q /= np.trace(q)
        return QueProjection(mean, basis, whitening, robust_mean, q)
