"""Auto-PGD (Croce & Hein, ICML 2020): step-size-free PGD with momentum, Linf and L2.

Algorithm 1 of "Reliable evaluation of adversarial robustness with an ensemble of
diverse parameter-free attacks": start at ``eta = 2 eps`` from a random point, take
momentum steps (``alpha = 0.75``), and at checkpoints ``w_j`` halve a sample's step size
(restarting it from its best point) when its loss oscillates or has stalled.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, fields, replace
from functools import partial
from typing import Literal

import torch

from redline.attacks._base import Adversarial, Attack
from redline.attacks._geometry import Norm, enforce, normalize_gradient, random_in_ball
from redline.attacks._losses import cross_entropy, dlr, dlr_targeted, margin
from redline.errors import InputError
from redline.targets import LossFn, Target

__all__ = ["APGD", "APGDT"]

APGDLoss = Literal["ce", "dlr"]

_ALPHA = 0.75
"""Momentum weight of the new gradient step (paper, Sec. 3.2)."""


def _checkpoints(steps: int) -> list[int]:
    """Iterations ``w_j = ceil(p_j * steps)`` where the step size may be halved.

    ``p_0 = 0``, ``p_1 = 0.22``, ``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)``;
    worked in hundredths so that float rounding cannot shift a checkpoint.
    """
    prev, cur, out = 0, 22, list[int]()
    while cur < 100:
        w = -(-cur * steps // 100)
        if w < steps and (not out or w > out[-1]):
            out.append(w)
        prev, cur = cur, cur + max(cur - prev - 3, 6)
    return out


def _target_margin(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Target logit minus true logit: the targeted loss when DLR is undefined."""
    return (logits.gather(1, target[:, None]) - logits.gather(1, y[:, None])).squeeze(1)


@dataclass
class _State:
    """Per-sample state of one APGD run; every tensor is indexed by the active samples."""

    idx: torch.Tensor  # position in the run's batch
    x: torch.Tensor  # clean input
    y: torch.Tensor
    tgt: torch.Tensor  # target class (targeted runs; equals y otherwise)
    cur: torch.Tensor  # x^(k)
    prev: torch.Tensor  # x^(k-1), for the momentum term
    grad: torch.Tensor  # gradient at cur
    loss: torch.Tensor  # loss at cur
    best: torch.Tensor  # x_max
    grad_best: torch.Tensor
    loss_best: torch.Tensor  # f_max
    eta: torch.Tensor  # step size
    ups: torch.Tensor  # loss increases since the last checkpoint (condition 1)
    reduced: torch.Tensor  # step size halved at the last checkpoint (condition 2)
    best_at_check: torch.Tensor  # f_max at the last checkpoint (condition 2)

    def keep(self, mask: torch.Tensor) -> _State:
        """Compact: keep only the samples in ``mask``, every field consistently."""
        return replace(self, **{f.name: getattr(self, f.name)[mask] for f in fields(self)})


def _per_sample(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape a per-sample vector to broadcast against a batch shaped like ``like``."""
    return v.view(-1, *([1] * (like.dim() - 1)))


class _AutoPGD(Attack):
    """The APGD engine shared by :class:`APGD` and :class:`APGDT`.

    Early exit and compaction: a sample leaves the active batch at its first
    misclassified iterate, which becomes its output; survivors return their best-loss
    point. Every iterate is evaluated (the last one without a gradient), so which
    samples broke is known exactly, and each restart or target class attacks only the
    samples still standing.
    """

    name = "apgd"

    def __init__(
        self, *, norm: Norm, eps: float, steps: int, restarts: int, rho: float, seed: int
    ) -> None:
        super().__init__(norm=norm, eps=eps, seed=seed)
        if steps < 1 or restarts < 1:
            raise InputError(f"steps and restarts must be >= 1, got {steps}, {restarts}")
        if not 0 < rho <= 1:
            raise InputError(f"rho must be in (0, 1], got {rho}")
        self.steps = int(steps)
        self.restarts = int(restarts)
        self.rho = float(rho)

    @abstractmethod
    def _loss(self, y: torch.Tensor, tgt: torch.Tensor) -> LossFn:
        """Per-sample loss to maximise for labels ``y`` (and targets ``tgt``)."""

    def _ascend(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        tgt: torch.Tensor,
        rng: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One APGD run; returns the examples and which of them are misclassified."""
        out, hit = x.clone(), torch.zeros(len(x), dtype=torch.bool, device=x.device)
        s = self._retire(*self._start(target, x, y, tgt, rng), out, hit)
        marks, last_mark = set(_checkpoints(self.steps)), 0
        for t in range(1, self.steps + 1):
            if not len(s.idx):
                break
            nxt = target.constrain(s.x, self._step(s, target.bounds, first=t == 1), self.eps)
            logits, loss, grad = self._evaluate(target, nxt, s, need_grad=t < self.steps)
            self._advance(s, nxt, loss, grad)
            s = self._retire(s, logits, out, hit)
            if t in marks:
                self._checkpoint(s, t - last_mark)
                last_mark = t
        out[s.idx] = s.best
        return out, hit

    def _start(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        tgt: torch.Tensor,
        rng: torch.Generator,
    ) -> tuple[_State, torch.Tensor]:
        """State and logits at the random start ``x^(0)``, with step size ``eta = 2 eps``."""
        assert self.eps is not None
        start = target.constrain(
            x,
            enforce(
                x,
                x + random_in_ball(x, self.norm, self.eps, rng),
                self.norm,
                self.eps,
                target.bounds,
            ),
            self.eps,
        )
        logits, loss, grad = target.logits_and_grad(start, self._loss(y, tgt))
        n, dev = len(x), x.device
        state = _State(
            idx=torch.arange(n, device=dev),
            x=x,
            y=y,
            tgt=tgt,
            cur=start,
            prev=start.clone(),
            grad=grad,
            loss=loss,
            best=start.clone(),
            grad_best=grad.clone(),
            loss_best=loss.clone(),
            eta=torch.full((n,), 2 * self.eps, dtype=x.dtype, device=dev),
            ups=torch.zeros(n, dtype=torch.long, device=dev),
            reduced=torch.zeros(n, dtype=torch.bool, device=dev),
            best_at_check=loss.clone(),
        )
        return state, logits

    def _step(self, s: _State, bounds: tuple[float, float], *, first: bool) -> torch.Tensor:
        """``z = P(x + eta d)``, then ``P(x + alpha (z - x) + (1 - alpha)(x - x_prev))``."""
        assert self.eps is not None
        eta = _per_sample(s.eta, s.cur)
        z = enforce(
            s.x, s.cur + eta * normalize_gradient(s.grad, self.norm), self.norm, self.eps, bounds
        )
        if first:
            return z
        moved = s.cur + _ALPHA * (z - s.cur) + (1 - _ALPHA) * (s.cur - s.prev)
        return enforce(s.x, moved, self.norm, self.eps, bounds)

    def _evaluate(
        self, target: Target, nxt: torch.Tensor, s: _State, *, need_grad: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Logits, loss and (unless it is the last iterate) gradient at ``nxt``."""
        fn = self._loss(s.y, s.tgt)
        if need_grad:
            return target.logits_and_grad(nxt, fn)
        logits = target.logits(nxt)
        return logits, fn(logits), None

    @staticmethod
    def _advance(
        s: _State, nxt: torch.Tensor, loss: torch.Tensor, grad: torch.Tensor | None
    ) -> None:
        """Move to the new iterate, count a loss increase, and track the best point."""
        s.ups += (loss > s.loss).long()
        s.prev, s.cur, s.loss = s.cur, nxt, loss
        better = loss > s.loss_best
        s.best[better] = nxt[better]
        s.loss_best = torch.where(better, loss, s.loss_best)
        if grad is not None:
            s.grad = grad
            s.grad_best[better] = grad[better]

    @staticmethod
    def _retire(s: _State, logits: torch.Tensor, out: torch.Tensor, hit: torch.Tensor) -> _State:
        """Samples misclassified at the current iterate keep it and leave the batch."""
        wrong = logits.argmax(dim=1) != s.y
        if not bool(wrong.any()):
            return s
        out[s.idx[wrong]] = s.cur[wrong]
        hit[s.idx[wrong]] = True
        return s.keep(~wrong)

    def _checkpoint(self, s: _State, window: int) -> None:
        """Halve eta and restart from the best point on oscillation or stall (paper, Sec. 3.1).

        Condition 1: the loss rose in fewer than ``rho * window`` of the last ``window``
        steps. Condition 2: eta was not halved at the last checkpoint and ``f_max`` has
        not improved since.
        """
        oscillating = s.ups < self.rho * window
        stalled = ~s.reduced & (s.loss_best <= s.best_at_check)
        halve = oscillating | stalled
        s.eta = torch.where(halve, s.eta / 2, s.eta)
        s.cur[halve] = s.best[halve]
        s.grad[halve] = s.grad_best[halve]
        s.loss = torch.where(halve, s.loss_best, s.loss)
        s.reduced, s.best_at_check = halve, s.loss_best.clone()
        s.ups = torch.zeros_like(s.ups)

    @abstractmethod
    def _targets(self, target: Target, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """Per-sample target classes, one tensor per sweep (untargeted: just ``y``)."""

    def run(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator
    ) -> Adversarial:
        best = x.clone()
        broken = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        for tgt in self._targets(target, x, y):
            for _ in range(self.restarts):
                idx = (~broken).nonzero().squeeze(1)
                if not len(idx):
                    return Adversarial(best)
                x_adv, hit = self._ascend(target, x[idx], y[idx], tgt[idx], rng)
                best[idx] = x_adv
                broken[idx] = hit
        return Adversarial(best)


class APGD(_AutoPGD):
    """Untargeted Auto-PGD with cross-entropy (``apgd-ce``) or DLR (``apgd-dlr``) loss.

    Restarts attack only the samples that earlier restarts left standing. DLR needs at
    least 3 classes; with 2 it falls back to the logit margin (DLR's numerator).
    """

    def __init__(
        self,
        *,
        norm: Norm = "linf",
        eps: float,
        steps: int = 100,
        restarts: int = 1,
        loss: APGDLoss = "ce",
        rho: float = 0.75,
        seed: int = 0,
    ) -> None:
        if loss not in ("ce", "dlr"):
            raise InputError(f"unknown APGD loss {loss!r}; use 'ce' or 'dlr'")
        super().__init__(norm=norm, eps=eps, steps=steps, restarts=restarts, rho=rho, seed=seed)
        self.loss = loss
        self.name = f"apgd-{loss}"

    def _loss(self, y: torch.Tensor, tgt: torch.Tensor) -> LossFn:
        if self.loss == "ce":
            return partial(cross_entropy, y=y)
        return partial(_dlr_or_margin, y=y)

    def _targets(self, target: Target, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        return [y]


class APGDT(_AutoPGD):
    """Targeted Auto-PGD with the targeted DLR loss (``apgd-t``); success is untargeted.

    For target rank k = 2 .. n_target_classes + 1 (k-th highest clean logit, capped at
    num_classes - 1 targets) it runs ``restarts`` APGD runs on the samples still standing.
    Targeted DLR needs at least 4 classes; with fewer it falls back to the targeted
    margin (target logit minus true logit).
    """

    name = "apgd-t"

    def __init__(
        self,
        *,
        norm: Norm = "linf",
        eps: float,
        steps: int = 100,
        restarts: int = 1,
        n_target_classes: int = 9,
        rho: float = 0.75,
        seed: int = 0,
    ) -> None:
        if n_target_classes < 1:
            raise InputError(f"n_target_classes must be >= 1, got {n_target_classes}")
        super().__init__(norm=norm, eps=eps, steps=steps, restarts=restarts, rho=rho, seed=seed)
        self.n_target_classes = int(n_target_classes)

    def _loss(self, y: torch.Tensor, tgt: torch.Tensor) -> LossFn:
        return partial(_targeted_dlr_or_margin, y=y, target=tgt)

    def _targets(self, target: Target, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """The 2nd, 3rd, ... highest clean logits, one column per target rank."""
        ranked = target.logits(x).argsort(dim=1, descending=True)
        n_targets = min(self.n_target_classes, ranked.shape[1] - 1)
        return [ranked[:, k - 1] for k in range(2, n_targets + 2)]


def _dlr_or_margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """DLR, or the margin when there are fewer than 3 classes."""
    return dlr(logits, y) if logits.shape[1] >= 3 else margin(logits, y)


def _targeted_dlr_or_margin(
    logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Targeted DLR, or the targeted margin when there are fewer than 4 classes."""
    if logits.shape[1] >= 4:
        return dlr_targeted(logits, y, target)
    return _target_margin(logits, y, target)
