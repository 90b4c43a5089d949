"""Randomized smoothing (Cohen, Rosenfeld & Kolter 2019): the smoothed classifier
``g(x) = argmax_c P(f(x + e) = c)``, ``e ~ N(0, sigma^2 I)`` in input space, its Monte
Carlo PREDICT and its CERTIFY, which gives an L2 radius that holds with probability
``1 - alpha`` per sample: a guarantee, not an empirical estimate.

Noise is drawn in fixed blocks, each from a generator seeded by (seed, sample, phase,
block), so the numbers depend on the seed only, never on ``batch_size``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from redline.errors import InputError
from redline.targets import TorchTarget

__all__ = [
    "MAX_SIGMA",
    "SmoothedClassifier",
    "check_sampling",
    "check_sigma",
    "lower_confidence_bound",
    "mix_seed",
]

MAX_SIGMA = 10.0
"""Largest noise level accepted: beyond it the input is drowned whatever its range."""

_BLOCK = 64  # noise copies per generator: fixed, so batch_size cannot change the draws
_SELECT, _ESTIMATE, _PREDICT = 0, 1, 2  # independent noise streams of CERTIFY and PREDICT
_MASK = (1 << 64) - 1


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from integers (SplitMix64 finaliser): independent streams per key."""
    h = 0x9E3779B97F4A7C15
    for part in parts:
        h = (h ^ (int(part) & _MASK)) * 0xBF58476D1CE4E5B9 & _MASK
        h = (h ^ (h >> 27)) * 0x94D049BB133111EB & _MASK
        h ^= h >> 31
    return h >> 1


def check_sigma(sigma: float) -> float:
    """``sigma`` as a float in (0, MAX_SIGMA] (one-line input error otherwise)."""
    if not 0 < float(sigma) <= MAX_SIGMA:
        raise InputError(f"sigma must be in (0, {MAX_SIGMA:g}], got {sigma}")
    return float(sigma)


def check_sampling(n: int, alpha: float, n0: int | None = None) -> None:
    """Sample counts >= 1 and ``alpha`` in (0, 0.5), as one-line input errors."""
    if n < 1 or (n0 is not None and n0 < 1):
        raise InputError(f"n and n0 must be >= 1, got n={n}, n0={n0}")
    if not 0 < alpha < 0.5:
        raise InputError(f"alpha must be in (0, 0.5), got {alpha}")


def lower_confidence_bound(successes: int, n: int, alpha: float) -> float:
    """One-sided ``1 - alpha`` Clopper-Pearson lower bound on a binomial proportion from
    ``successes`` out of ``n`` (``alpha ** (1 / n)`` when all succeed)."""
    return float(_lower_bounds(np.asarray([successes]), n, alpha)[0])


def _lower_bounds(k: npt.NDArray[np.int64], n: int, alpha: float) -> npt.NDArray[np.float64]:
    from scipy.stats import beta

    safe = np.maximum(k, 1)
    bound = np.asarray(beta.ppf(alpha, safe, n - safe + 1), dtype=np.float64)
    return np.where(k > 0, bound, 0.0)


def _two_sided_pvalues(n_a: Sequence[int], n_b: Sequence[int]) -> list[float]:
    from scipy.stats import binomtest

    return [float(binomtest(a, a + b, 0.5).pvalue) for a, b in zip(n_a, n_b, strict=True)]


def _noise(
    shape: torch.Size, start: int, stop: int, key: int, device: torch.device
) -> torch.Tensor:
    """Standard normal noise for copies ``start:stop`` of one sample's stream ``key``."""
    parts = []
    for block in range(start // _BLOCK, (stop - 1) // _BLOCK + 1):
        gen = torch.Generator(device=device).manual_seed(mix_seed(key, block))
        full = torch.randn((_BLOCK, *shape), generator=gen, device=device)
        lo, hi = max(start - block * _BLOCK, 0), min(stop - block * _BLOCK, _BLOCK)
        parts.append(full[lo:hi])
    return torch.cat(parts)


def _pack(pieces: list[tuple[int, int, int]], size: int) -> list[list[tuple[int, int, int]]]:
    """Group ``(sample, start, stop)`` pieces into forward batches of at most ``size`` rows
    (small ``n``: several samples share one pass)."""
    groups: list[list[tuple[int, int, int]]] = []
    rows = size
    for piece in pieces:
        if rows + piece[2] - piece[1] > size:
            groups.append([])
            rows = 0
        groups[-1].append(piece)
        rows += piece[2] - piece[1]
    return groups


class SmoothedClassifier:
    """Gaussian smoothing of ``module`` at noise level ``sigma`` (input space, before the
    ``mean``/``std`` normalisation, no clipping to ``bounds`` as in Cohen et al.).

    ``batch_size`` noisy copies go through the model per forward pass; it changes speed,
    never results. Sample ``i`` of a call uses noise stream ``(seed, first + i)``, so a
    dataset certified in slices gives the same numbers as in one call.
    """

    def __init__(
        self,
        module: nn.Module,
        sigma: float,
        *,
        bounds: tuple[float, float] = (0.0, 1.0),
        mean: float | Sequence[float] | None = None,
        std: float | Sequence[float] | None = None,
        batch_size: int = 1000,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        self.sigma = check_sigma(sigma)
        self.target = TorchTarget(module, bounds=bounds, mean=mean, std=std)
        self.batch_size = int(batch_size)

    @classmethod
    def of(cls, target: TorchTarget, sigma: float, *, batch_size: int = 1000) -> SmoothedClassifier:
        """Smoothing of a target's module under the target's input contract (bounds,
        mean, std)."""
        return cls(
            target.module,
            sigma,
            bounds=target.bounds,
            mean=target.mean,
            std=target.std,
            batch_size=batch_size,
        )

    @property
    def forward_passes(self) -> int:
        """Forward passes of the base model so far (one per noisy copy)."""
        return self.target.usage.forward

    def counts(
        self, x: torch.Tensor, num: int, *, seed: int = 0, first: int = 0, phase: int = _PREDICT
    ) -> torch.Tensor:
        """``(len(x), classes)`` counts of the base model's label over ``num`` noisy copies
        of each sample, from stream ``(seed, first + i, phase)``; ``phase`` keeps CERTIFY's
        selection (0) and estimation (1) and PREDICT (2) draws independent."""
        x = torch.as_tensor(x, dtype=torch.float32).to(self.target.device)
        step = self.batch_size
        pieces = [(i, a, min(a + step, num)) for i in range(len(x)) for a in range(0, num, step)]
        counts: torch.Tensor | None = None
        with torch.no_grad(), self.target.session():
            for group in _pack(pieces, step):
                noisy, owner = self._noisy(x, group, (seed, first, phase))
                logits = self.target.logits(noisy)
                labels = logits.argmax(dim=1)
                if counts is None:
                    counts = torch.zeros(len(x), logits.shape[1], dtype=torch.long, device=x.device)
                counts.index_put_((owner, labels), torch.ones_like(labels), accumulate=True)
        if counts is None:
            raise InputError("nothing to smooth: give at least one sample and num >= 1")
        return counts

    def _noisy(
        self, x: torch.Tensor, group: list[tuple[int, int, int]], key: tuple[int, int, int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        seed, first, phase = key
        batch, owner = [], []
        for i, start, stop in group:
            stream = mix_seed(seed, first + i, phase)
            noise = _noise(x.shape[1:], start, stop, stream, x.device)
            batch.append(x[i] + self.sigma * noise)
            owner.append(torch.full((stop - start,), i, dtype=torch.long, device=x.device))
        return torch.cat(batch), torch.cat(owner)

    def predict(
        self, x: torch.Tensor, n: int, alpha: float, seed: int = 0, *, first: int = 0
    ) -> torch.Tensor:
        """Cohen's PREDICT: the top class of ``n`` noisy copies, or -1 (abstain) unless the
        two-sided binomial test of top vs runner-up rejects a tie at level ``alpha``."""
        check_sampling(n, alpha)
        counts = self.counts(x, n, seed=seed, first=first, phase=_PREDICT)
        if counts.shape[1] < 2:
            return torch.zeros(len(counts), dtype=torch.long, device=counts.device)
        top = counts.topk(2, dim=1)
        n_a, n_b = top.values[:, 0].tolist(), top.values[:, 1].tolist()
        pvalues = torch.tensor(_two_sided_pvalues(n_a, n_b), device=counts.device)
        return torch.where(pvalues <= alpha, top.indices[:, 0], torch.full_like(pvalues, -1).long())

    def certify(
        self, x: torch.Tensor, n0: int, n: int, alpha: float, seed: int = 0, *, first: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Cohen's CERTIFY per sample: ``(class or -1, L2 radius)``. The class is guessed on
        ``n0`` copies; ``n`` fresh copies give the one-sided Clopper-Pearson bound
        ``pA_lower``; abstain (-1, radius 0) when it is below 1/2, else the radius is
        ``sigma * Phi^-1(pA_lower)`` - guaranteed with probability ``1 - alpha``."""
        labels, radii, _ = self.certify_with_bound(x, n0, n, alpha, seed, first=first)
        return labels, radii

    def certify_with_bound(
        self, x: torch.Tensor, n0: int, n: int, alpha: float, seed: int = 0, *, first: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`certify` plus each sample's ``pA_lower`` (float64, on the CPU)."""
        from scipy.stats import norm

        check_sampling(n, alpha, n0)
        guess = self.counts(x, n0, seed=seed, first=first, phase=_SELECT).argmax(dim=1)
        counts = self.counts(x, n, seed=seed, first=first, phase=_ESTIMATE)
        n_a = counts.gather(1, guess[:, None]).squeeze(1).cpu().numpy()
        p_lower = _lower_bounds(n_a, n, alpha)
        certified = p_lower >= 0.5
        radius = np.where(certified, self.sigma * norm.ppf(np.where(certified, p_lower, 0.5)), 0.0)
        labels = torch.where(torch.as_tensor(certified), guess.cpu(), torch.tensor(-1))
        return labels, torch.as_tensor(radius, dtype=torch.float64), torch.as_tensor(p_lower)
