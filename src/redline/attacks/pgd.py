"""Projected Gradient Descent (Madry et al. 2018), Linf and L2, with restarts."""

from __future__ import annotations

from functools import partial
from typing import Literal, Protocol

import torch

from redline.attacks._base import Adversarial, Attack
from redline.attacks._geometry import Norm, enforce, normalize_gradient, random_in_ball
from redline.attacks._losses import cross_entropy, dlr
from redline.errors import InputError
from redline.targets import Target

__all__ = ["PGD"]

PGDLoss = Literal["ce", "dlr"]


class CustomLoss(Protocol):
    """``(logits, y) -> per-sample loss`` to maximise (e.g. TRADES' KL from the clean
    output)."""

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...


class PGD(Attack):
    """Fixed-step PGD.

    ``step_size`` defaults to ``2.5 * eps / steps``. With ``early_stop`` (the default) a
    sample leaves the batch at the first iterate that is misclassified, which keeps
    that iterate and saves its remaining passes; a restart attacks only the samples
    that earlier restarts left standing.
    """

    name = "pgd"

    def __init__(
        self,
        *,
        norm: Norm = "linf",
        eps: float,
        steps: int = 20,
        step_size: float | None = None,
        random_start: bool = True,
        restarts: int = 1,
        loss: PGDLoss | CustomLoss = "ce",
        early_stop: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(norm=norm, eps=eps, seed=seed)
        if steps < 1 or restarts < 1:
            raise InputError(f"steps and restarts must be >= 1, got {steps}, {restarts}")
        if not callable(loss) and loss not in ("ce", "dlr"):
            raise InputError(f"unknown PGD loss {loss!r}; use 'ce', 'dlr' or a callable")
        if step_size is not None and not step_size > 0:
            raise InputError(f"step_size must be > 0, got {step_size}")
        self.steps = steps
        self.step_size = 2.5 * eps / steps if step_size is None else float(step_size)
        self.random_start = random_start
        self.restarts = restarts
        self.loss = loss
        self.early_stop = early_stop

    def run(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator
    ) -> Adversarial:
        best = x.clone()
        broken = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        for restart in range(self.restarts):
            idx = (~broken).nonzero().squeeze(1)
            if not len(idx):
                break
            x_adv, hit = self._descend(
                target, x[idx], y[idx], rng, last=restart == self.restarts - 1
            )
            best[idx] = x_adv
            broken[idx] = hit
        return Adversarial(best)

    def _descend(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator, last: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One PGD run; returns the examples and which are known to be misclassified.

        The active samples are kept compacted (``idx``, ``x0``, ``xa``, ``ya``) and only
        re-gathered when one of them breaks, so a step costs no indexing otherwise.
        """
        assert self.eps is not None
        loss = self.loss if callable(self.loss) else dlr if self.loss == "dlr" else cross_entropy
        out, hit = x.clone(), torch.zeros(len(x), dtype=torch.bool, device=x.device)
        xa = x
        if self.random_start:
            noise = random_in_ball(x, self.norm, self.eps, rng)
            xa = enforce(x, x + noise, self.norm, self.eps, target.bounds)
            xa = target.constrain(x, xa, self.eps)
        idx, x0, ya = torch.arange(len(x), device=x.device), x, y
        for _ in range(self.steps):
            logits, _, grad = target.logits_and_grad(xa, partial(loss, y=ya))
            if self.early_stop:
                wrong = logits.argmax(dim=1) != ya
                if bool(wrong.any()):
                    out[idx[wrong]], hit[idx[wrong]] = xa[wrong], True
                    keep = ~wrong
                    idx, x0, xa, ya, grad = idx[keep], x0[keep], xa[keep], ya[keep], grad[keep]
                    if not len(idx):
                        break
            step = xa + self.step_size * normalize_gradient(grad, self.norm)
            xa = enforce(x0, step, self.norm, self.eps, target.bounds)
            xa = target.constrain(x0, xa, self.eps)
        if len(idx):
            out[idx] = xa
            if not last:
                hit[idx] |= target.predict(xa) != ya
        return out, hit
