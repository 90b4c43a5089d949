"""Two Gaussian modes on a 1-D score: the per-class contamination estimate.

Instead of assuming how much of a class is poison (spectral signatures' fixed
``1.5 * eps``), a class's 1-D detector scores are modelled as one Gaussian or a mixture of
two; BIC chooses between them and Ashman's D says how far apart the two modes are. The
weight of the poison mode is the estimated contamination. EM is written out (1-D, a few
lines) so that it is deterministic and never warns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["TwoModes", "fit_two_modes"]

Floats = npt.NDArray[np.float64]

_LOG_2PI = math.log(2 * math.pi)


def _log_normal(z: Floats, mean: Floats, std: Floats) -> Floats:
    """``log N(z | mean, std)`` for every sample (rows) and mode (columns)."""
    d = (z[:, None] - mean[None, :]) / std[None, :]
    return np.asarray(-0.5 * (d * d + _LOG_2PI) - np.log(std)[None, :])


def _best_split(z: Floats) -> int:
    """Index splitting sorted ``z`` into two groups with the largest between-group variance
    (Otsu's method in 1-D): the deterministic starting point of EM."""
    s = np.sort(z)
    n = len(s)
    k = np.arange(1, n)
    left = np.cumsum(s)[:-1]
    between = (left / k - (s.sum() - left) / (n - k)) ** 2 * k * (n - k)
    return int(np.argmax(between)) + 1


@dataclass(frozen=True)
class TwoModes:
    """A fitted 1-D two-component Gaussian mixture, in standardised units.

    ``gain`` is BIC(one mode) - BIC(two modes): positive when two modes explain the scores
    better; ``separation`` is Ashman's D (above 2: cleanly separated modes).
    """

    center: float
    scale: float
    weights: Floats
    means: Floats
    stds: Floats
    gain: float
    separation: float

    def _z(self, raw: Floats) -> Floats:
        return (np.asarray(raw, np.float64) - self.center) / self.scale

    def posterior(self, raw: Floats, mode: int) -> Floats:
        """P(``mode`` | score); beyond that mode's mean it stays at its value at the mean,
        so the posterior never falls when a score moves further towards the mode."""
        z = self._z(raw)
        sign = 1.0 if self.means[mode] >= self.means[1 - mode] else -1.0
        z = self.means[mode] + sign * np.minimum(sign * (z - self.means[mode]), 0.0)
        logp = _log_normal(z, self.means, self.stds) + np.log(self.weights)[None, :]
        logp -= logp.max(axis=1, keepdims=True)
        p = np.exp(logp)
        return np.asarray(p[:, mode] / p.sum(axis=1))

    def boundary(self, mode: int) -> float:
        """The raw score between the two means where ``mode`` becomes the likelier one."""
        lo, hi = sorted((float(self.means[0]), float(self.means[1])))
        grid = np.linspace(lo, hi, 513)
        p = self.posterior(grid * self.scale + self.center, mode)
        cross = np.flatnonzero(p >= 0.5)
        upward = self.means[mode] >= self.means[1 - mode]
        if not len(cross):  # a tiny mode under a wide one: flag only beyond its mean
            at = float(self.means[mode])
        else:
            at = grid[cross[0]] if upward else grid[cross[-1]]
        return float(at * self.scale + self.center)


def _em(z: Floats, iterations: int = 200) -> tuple[Floats, Floats, Floats, float]:
    """EM for two 1-D Gaussians from the Otsu split; returns weights, means, stds, loglik."""
    s = np.sort(z)
    cut = _best_split(z)
    floor = max(1e-3 * float(z.std()), 1e-9)
    means = np.array([s[:cut].mean(), s[cut:].mean()])
    stds = np.maximum(np.array([s[:cut].std(), s[cut:].std()]), floor)
    weights = np.array([cut, len(s) - cut], np.float64) / len(s)
    last = -np.inf
    for _ in range(iterations):
        logp = _log_normal(z, means, stds) + np.log(weights)[None, :]
        top = logp.max(axis=1, keepdims=True)
        norm = top[:, 0] + np.log(np.exp(logp - top).sum(axis=1))
        resp = np.exp(logp - norm[:, None])
        counts = np.maximum(resp.sum(axis=0), 1e-9)
        weights = counts / counts.sum()
        means = (resp * z[:, None]).sum(axis=0) / counts
        var = (resp * (z[:, None] - means[None, :]) ** 2).sum(axis=0) / counts
        stds = np.maximum(np.sqrt(var), floor)
        loglik = float(norm.sum())
        if loglik - last < 1e-8 * abs(loglik):
            break
        last = loglik
    return weights, means, stds, loglik


def fit_two_modes(raw: Floats) -> TwoModes:
    """Fit one and two Gaussian modes to ``raw`` (at least 4 values) and compare by BIC."""
    r = np.asarray(raw, np.float64)
    center = float(np.median(r))
    scale = float(r.std())
    n = len(r)
    if scale <= 1e-12 or n < 4:  # constant scores: a single mode, nothing to split
        one = np.array([0.5, 0.5])
        return TwoModes(center, 1.0, one, np.zeros(2), np.ones(2), -math.inf, 0.0)
    z = (r - center) / scale
    weights, means, stds, loglik2 = _em(z)
    loglik1 = float(_log_normal(z, np.array([z.mean()]), np.array([z.std()])).sum())
    gain = (-2 * loglik1 + 2 * math.log(n)) - (-2 * loglik2 + 5 * math.log(n))
    separation = math.sqrt(2) * abs(means[0] - means[1]) / math.hypot(stds[0], stds[1])
    return TwoModes(center, scale, weights, means, stds, float(gain), float(separation))
