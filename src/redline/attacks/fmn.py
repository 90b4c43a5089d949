"""Fast Minimum-Norm attack (Pintor et al., NeurIPS 2021), Linf and L2."""

from __future__ import annotations

import math
from functools import partial

import torch

from redline.attacks._base import Adversarial, Attack
from redline.attacks._geometry import Norm, clip_to_bounds, lp_norm, normalize_gradient, project
from redline.attacks._losses import margin
from redline.errors import InputError
from redline.targets import LossFn, Target

__all__ = ["FMN"]

_ALPHA0: dict[Norm, float] = {"l2": 1.0, "linf": 10.0}
"""Paper's initial step sizes (Sec. 4: alpha_0 = 1 for L2, 10 for Linf), for inputs in [0, 1]."""
_ALPHA_DECAY = 100.0
"""The step size anneals from alpha_0 to alpha_0 / 100 (paper and reference code)."""
_GAMMA_FINAL = 0.001
"""The eps-update factor anneals from gamma to 0.001 (paper and reference code)."""
_TINY = 1e-12
_NOISE = 1e-4
"""Margin, relative to the largest logit, that float noise between batchings cannot undo."""


def _cosine(start: float, end: float, k: int, steps: int) -> float:
    """Cosine annealing from ``start`` (k = 0) towards ``end`` (k = steps)."""
    return end + (start - end) * (1 + math.cos(math.pi * k / steps)) / 2


def _dual_norm(grad: torch.Tensor, norm: Norm) -> torch.Tensor:
    """Per-sample dual norm of the gradient: L1 for Linf, L2 for L2."""
    flat = grad.reshape(len(grad), -1)
    return flat.abs().sum(dim=1) if norm == "linf" else lp_norm(grad, "l2")


def _clearly_wrong(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Misclassified by more than float noise, so the base's re-check agrees."""
    return margin(logits, y) > _NOISE * logits.abs().amax(dim=1).clamp(min=1.0)


def _pair_margin(logits: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Target logit minus true logit: positive once ``t`` beats ``y``."""
    return logits.gather(1, t[:, None]).squeeze(1) - logits.gather(1, y[:, None]).squeeze(1)


def _feasible(grad: torch.Tensor, x: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    """Zero the gradient components that point out of the box at coordinates on a bound."""
    out = ((x <= bounds[0]) & (grad < 0)) | ((x >= bounds[1]) & (grad > 0))
    return grad.masked_fill(out, 0.0)


class FMN(Attack):
    """Fast Minimum-Norm: normalised gradient steps inside an adaptive eps_k ball.

    Each step ascends the logit difference (best other minus true logit) by
    ``alpha_k * g / ||g||_2``, then projects onto the ball of radius ``eps_k``. The radius
    shrinks by ``(1 - gamma_k)`` (and at most to the best norm found) while the iterate
    is adversarial, grows by ``(1 + gamma_k)`` once an adversarial was seen but the
    iterate is not, and before that jumps to ``||delta|| + |loss| / ||g||_dual``, the
    linearised distance to the boundary. ``gamma_k`` anneals from ``gamma`` to 0.001 and
    ``alpha_k`` from ``alpha`` to ``alpha / 100`` (cosine). ``alpha`` defaults to the
    paper's 1.0 (L2) or 10.0 (Linf) and is in units of the bounds' width. Each sample
    keeps its smallest-norm adversarial iterate; samples never broken come back unchanged.

    Departures from the paper, each needed for honest per-sample norms on small models:
    the gradient drops components pointing out of the box at coordinates on a bound
    (else clipping eats the L2 step and eps_k stalls below the boundary); the boundary
    jump overshoots by ``(1 + gamma_k)`` (else an exact linear estimate parks a ReLU model
    on a tie); an iterate counts as adversarial only with a margin above float noise.
    ``targets`` > 1 adds targeted runs (true logit vs the 2nd, 3rd, ... most likely other
    class at x), which finds the nearest boundary when the untargeted path heads for a
    farther one; ``targets=1`` is the paper's single run.
    """

    name = "fmn"
    minimum_norm = True

    def __init__(
        self,
        *,
        norm: Norm = "linf",
        eps: float | None = None,
        steps: int = 100,
        gamma: float = 0.05,
        alpha: float | None = None,
        targets: int = 3,
        seed: int = 0,
    ) -> None:
        super().__init__(norm=norm, eps=eps, seed=seed)
        if steps < 1 or targets < 1:
            raise InputError(f"steps and targets must be >= 1, got {steps}, {targets}")
        if not 0 < gamma < 1:
            raise InputError(f"gamma must be in (0, 1), got {gamma}")
        if alpha is not None and not alpha > 0:
            raise InputError(f"alpha must be > 0, got {alpha}")
        self.steps = steps
        self.targets = targets
        self.gamma = float(gamma)
        self.alpha = _ALPHA0[norm] if alpha is None else float(alpha)

    def run(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator
    ) -> Adversarial:
        best, best_norm = x.clone(), torch.full((len(x),), math.inf, device=x.device)
        self._descend(target, x, y, partial(margin, y=y), best, best_norm)
        if self.targets > 1:
            logits = target.logits(x)
            ranked = logits.scatter(1, y[:, None], -math.inf).argsort(dim=1, descending=True)
            for t in ranked[:, 1 : min(self.targets, logits.shape[1] - 1)].T:
                self._descend(target, x, y, partial(_pair_margin, y=y, t=t), best, best_norm)
        return Adversarial(best)

    def _descend(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        loss_fn: LossFn,
        best: torch.Tensor,
        best_norm: torch.Tensor,
    ) -> None:
        """One FMN run on ``loss_fn``; improves ``best`` and ``best_norm`` in place."""
        lo, hi = target.bounds
        delta = torch.zeros_like(x)
        worst = lp_norm(torch.maximum(x - lo, hi - x), self.norm)
        radius = torch.full_like(worst, math.inf)
        found = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        for k in range(self.steps):
            alpha = (hi - lo) * _cosine(self.alpha, self.alpha / _ALPHA_DECAY, k, self.steps)
            gamma = _cosine(self.gamma, _GAMMA_FINAL, k, self.steps)
            logits, loss, grad = target.logits_and_grad(x + delta, loss_fn)
            grad = _feasible(grad, x + delta, target.bounds)
            norms = lp_norm(delta, self.norm)
            adversarial = _clearly_wrong(logits, y)
            better = adversarial & (norms < best_norm)
            best_norm.copy_(torch.where(better, norms, best_norm))
            best[better] = (x + delta)[better]
            found |= adversarial
            radius = self._radius(radius, adversarial, found, norms, best_norm, loss, grad, gamma)
            radius = torch.minimum(radius, worst)
            step = delta + alpha * normalize_gradient(grad, "l2")
            delta = clip_to_bounds(x + project(step, self.norm, radius), target.bounds) - x

    def _radius(
        self,
        radius: torch.Tensor,
        adversarial: torch.Tensor,
        found: torch.Tensor,
        norms: torch.Tensor,
        best_norm: torch.Tensor,
        loss: torch.Tensor,
        grad: torch.Tensor,
        gamma: float,
    ) -> torch.Tensor:
        """The eps_k update: shrink when adversarial, else grow (or jump to the boundary)."""
        to_boundary = norms + loss.abs() / _dual_norm(grad, self.norm).clamp(min=_TINY)
        grown = torch.where(found, radius, to_boundary) * (1 + gamma)
        return torch.where(adversarial, torch.minimum(radius * (1 - gamma), best_norm), grown)
