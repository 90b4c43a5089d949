"""Fitted 1-D statistics of one class's features, shared by the detectors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["LinearProjection", "principal_basis"]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LinearProjection:
    """``(features - mean) @ direction``: a signed position along one direction."""

    mean: Floats
    direction: Floats

    def __call__(self, signal: npt.NDArray[np.float32]) -> Floats:
        return np.asarray((signal.astype(np.float64) - self.mean) @ self.direction)


def principal_basis(centered: Floats, k: int) -> Floats:
    """The top ``k`` right singular vectors of centred features, as rows ``(k', d)``,
    ``k'`` capped by the rank; signs fixed so each row's largest entry is positive."""
    _, s, vt = np.linalg.svd(centered, full_matrices=False)
    keep = int(min(k, np.sum(s > s[0] * 1e-6))) if len(s) and s[0] > 0 else 0
    basis = vt[: max(keep, 1)]
    signs = np.sign(basis[np.arange(len(basis)), np.abs(basis).argmax(axis=1)])
    return np.asarray(basis * np.where(signs == 0, 1.0, signs)[:, None])
