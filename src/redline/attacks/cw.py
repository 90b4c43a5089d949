"""Carlini & Wagner L2 attack (Carlini & Wagner 2017): minimum-norm via a penalty search."""

from __future__ import annotations

import math
from functools import partial

import torch

from redline.attacks._base import Adversarial, Attack
from redline.attacks._geometry import Norm, clip_to_bounds, lp_norm
from redline.attacks._losses import margin
from redline.errors import InputError
from redline.targets import Target

__all__ = ["CarliniWagner"]

_SQUASH = 0.999999
"""Shrink before atanh so that inputs on the bounds map to finite w (as the reference)."""
_NO_UPPER = 1e10
"""Upper bound on c meaning "no success seen yet" (reference value)."""
_NOISE = 1e-4
"""Margin, relative to the largest logit, that float noise between batchings cannot undo."""
_BETA1, _BETA2, _ADAM_EPS = 0.9, 0.999, 1e-8


def _weighted_margin(
    logits: torch.Tensor, y: torch.Tensor, const: torch.Tensor, kappa: float
) -> torch.Tensor:
    """``-c * f``: the margin capped at ``kappa``, weighted per sample (higher = better)."""
    return const * margin(logits, y).clamp(max=kappa)


class _Adam:
    """Adam on a batch of variables, written out so each sample keeps its own moments."""

    def __init__(self, like: torch.Tensor, lr: float) -> None:
        self.m = torch.zeros_like(like)
        self.v = torch.zeros_like(like)
        self.t = 0
        self.lr = lr

    def step(self, w: torch.Tensor, grad: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Return ``w`` (the rows ``idx`` of the variable) after one step along ``grad``."""
        self.t += 1
        m = _BETA1 * self.m[idx] + (1 - _BETA1) * grad
        v = _BETA2 * self.v[idx] + (1 - _BETA2) * grad * grad
        self.m[idx], self.v[idx] = m, v
        m_hat = m / (1 - _BETA1**self.t)
        v_hat = v / (1 - _BETA2**self.t)
        return w - self.lr * m_hat / (v_hat.sqrt() + _ADAM_EPS)


class CarliniWagner(Attack):
    """CW-L2: minimise ``||x' - x||^2 + c * f(x')`` in tanh space, binary search on ``c``.

    ``f = max(z_y - max_{j != y} z_j, -confidence)``. Each sample runs its own binary
    search over ``c`` (multiplied by 10 until a first success, then bisected) and keeps
    the smallest-L2 example seen with margin above ``confidence``. With ``abort_early``
    a sample stops a binary-search step once its objective has not improved by 0.01%
    over ``steps // 10`` iterations. Samples never broken come back unchanged.
    """

    name = "cw"
    norms = ("l2",)
    minimum_norm = True

    def __init__(
        self,
        *,
        norm: Norm = "l2",
        eps: float | None = None,
        confidence: float = 0.0,
        initial_const: float = 1e-2,
        binary_search_steps: int = 9,
        steps: int = 1000,
        lr: float = 0.01,
        abort_early: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(norm=norm, eps=eps, seed=seed)
        if steps < 1 or binary_search_steps < 1:
            raise InputError(
                f"steps and binary_search_steps must be >= 1, got {steps}, {binary_search_steps}"
            )
        if not confidence >= 0:
            raise InputError(f"confidence must be >= 0, got {confidence}")
        if not initial_const > 0 or not lr > 0:
            raise InputError(f"initial_const and lr must be > 0, got {initial_const}, {lr}")
        self.confidence = float(confidence)
        self.initial_const = float(initial_const)
        self.binary_search_steps = binary_search_steps
        self.steps = steps
        self.lr = float(lr)
        self.abort_early = abort_early

    def run(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator
    ) -> Adversarial:
        lo, hi = target.bounds
        w0 = torch.atanh(((x - (hi + lo) / 2) / ((hi - lo) / 2) * _SQUASH).clamp(-1, 1))
        const = torch.full((len(x),), self.initial_const, device=x.device, dtype=x.dtype)
        lower, upper = torch.zeros_like(const), torch.full_like(const, _NO_UPPER)
        best, best_l2 = x.clone(), torch.full_like(const, math.inf)
        for search in range(self.binary_search_steps):
            if self.binary_search_steps >= 10 and search == self.binary_search_steps - 1:
                const = torch.minimum(upper, torch.full_like(upper, _NO_UPPER))
            found = self._minimize(target, x, y, w0, const, best, best_l2)
            upper = torch.where(found, torch.minimum(upper, const), upper)
            lower = torch.where(found, lower, torch.maximum(lower, const))
            const = torch.where(upper < _NO_UPPER / 10, (lower + upper) / 2, const * 10)
        return Adversarial(best)

    def _minimize(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        w: torch.Tensor,
        const: torch.Tensor,
        best: torch.Tensor,
        best_l2: torch.Tensor,
    ) -> torch.Tensor:
        """One binary-search step: Adam from ``w``; updates ``best`` in place, returns successes."""
        w, adam = w.clone(), _Adam(w, self.lr)
        found = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        prev = torch.full_like(const, math.inf)
        active = torch.arange(len(x), device=x.device)
        check = max(self.steps // 10, 1)
        for it in range(self.steps):
            x_adv, d_dw = self._to_input(w[active], target.bounds)
            diff, c, ya, kappa = x_adv - x[active], const[active], y[active], self.confidence
            logits, gain, grad = target.logits_and_grad(
                x_adv, partial(_weighted_margin, y=ya, const=c, kappa=kappa)
            )
            l2 = lp_norm(diff, "l2")
            hit = margin(logits, ya) > kappa + _NOISE * logits.abs().amax(dim=1).clamp(min=1.0)
            self._record(active, x_adv, l2, hit, best, best_l2)
            found[active[hit]] = True
            w[active] = adam.step(w[active], (2 * diff - grad) * d_dw, active)
            if self.abort_early and it % check == 0:
                objective = l2 * l2 + c * kappa - gain
                keep = ~(objective > prev[active] * 0.9999)
                prev[active] = objective
                active = active[keep]
                if not len(active):
                    break
        return found

    @staticmethod
    def _to_input(
        w: torch.Tensor, bounds: tuple[float, float]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Map tanh-space ``w`` into ``bounds``; also return the derivative ``dx/dw``."""
        lo, hi = bounds
        t = torch.tanh(w)
        x_adv = clip_to_bounds(t * (hi - lo) / 2 + (hi + lo) / 2, bounds)
        return x_adv, (1 - t * t) * (hi - lo) / 2

    @staticmethod
    def _record(
        idx: torch.Tensor,
        x_adv: torch.Tensor,
        l2: torch.Tensor,
        adversarial: torch.Tensor,
        best: torch.Tensor,
        best_l2: torch.Tensor,
    ) -> None:
        """Keep, per sample, the adversarial example with the smallest L2 distance."""
        better = adversarial & (l2 < best_l2[idx])
        best_l2[idx[better]] = l2[better]
        best[idx[better]] = x_adv[better]
