"""The attack contract: the base class owns the invariants, a subclass writes ``run``."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch

from redline.attacks._geometry import NORMS, Norm, clip_to_bounds, enforce, lp_norm
from redline.errors import InputError
from redline.targets import Target

__all__ = ["Adversarial", "Attack", "AttackResult"]


class Adversarial(NamedTuple):
    """What ``run`` returns: candidate examples and, optionally, per-sample query counts."""

    x_adv: torch.Tensor
    queries: torch.Tensor | None = None


@dataclass(frozen=True)
class AttackResult:
    """Outcome of one attack on one batch. ``success`` means misclassified at ``x_adv``."""

    attack: str
    norm: Norm
    eps: float | None
    x_adv: torch.Tensor
    success: torch.Tensor
    logits: torch.Tensor
    distances: torch.Tensor
    queries: torch.Tensor | None
    forward: int
    backward: int
    seconds: float

    @property
    def robust_accuracy(self) -> float:
        """Fraction of the batch still correctly classified."""
        return 1.0 - float(self.success.float().mean()) if len(self.success) else 0.0


class Attack(ABC):
    """Base of all evasion attacks.

    ``__call__`` moves data to the target's device, puts the model in eval mode, skips
    samples that are already misclassified, seeds a private generator, and after
    ``run`` projects every output into the eps ball and the bounds and re-checks
    success with one forward pass. Subclasses only implement :meth:`run`.
    """

    name: str
    """Short id used in reports (class default; an instance may refine it, e.g. by loss)."""
    norms: ClassVar[tuple[Norm, ...]] = NORMS
    needs_gradients: ClassVar[bool] = True
    needs_scores: ClassVar[bool] = True
    """False for decision-based attacks, which run on label-only targets."""
    minimum_norm: ClassVar[bool] = False

    def __init__(self, *, norm: Norm = "linf", eps: float | None = None, seed: int = 0) -> None:
        if norm not in self.norms:
            raise InputError(f"{self.name} supports norms {list(self.norms)}, got {norm!r}")
        if eps is None and not self.minimum_norm:
            raise InputError(f"{self.name} needs an eps")
        if eps is not None and not eps > 0:
            raise InputError(f"eps must be > 0, got {eps}")
        self.norm: Norm = norm
        self.eps = None if eps is None else float(eps)
        self.seed = int(seed)

    def params(self) -> dict[str, Any]:
        """Hyper-parameters, for reports and reproducibility."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def with_params(self, **changes: Any) -> Attack:
        """A copy with some hyper-parameters changed (e.g. more steps for a convergence check)."""
        params = {k: v for k, v in self.params().items() if k != "name"}
        return type(self)(**{**params, **changes})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    @abstractmethod
    def run(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator
    ) -> Adversarial:
        """Search adversarial examples for correctly classified ``x`` (labels ``y``)."""

    def __call__(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, *, assume_correct: bool = False
    ) -> AttackResult:
        """Attack a batch. ``assume_correct`` skips the clean check (the caller did it)."""
        x, y = self._prepare(target, x, y)
        with target.session():
            start, t0 = target.usage.snapshot(), time.perf_counter()
            x_adv, queries = x.clone(), torch.zeros(len(x), dtype=torch.long, device=x.device)
            todo = self._standing(target, x, y, assume_correct)
            if len(todo):
                rng = torch.Generator(device=x.device).manual_seed(self.seed)
                found = self.run(target, x[todo], y[todo], rng)
                x_adv[todo] = found.x_adv.detach().to(x.dtype)
                if found.queries is not None:
                    queries[todo] = found.queries.to(queries.device)
            x_adv = self._enforce(target, x, x_adv)
            logits = target.logits(x_adv)
            used = target.usage.since(start)
        return AttackResult(
            attack=self.name,
            norm=self.norm,
            eps=self.eps,
            x_adv=x_adv,
            success=logits.argmax(dim=1) != y,
            logits=logits,
            distances=lp_norm(x_adv - x, self.norm),
            queries=queries if not self.needs_gradients else None,
            forward=used.forward,
            backward=used.backward,
            seconds=time.perf_counter() - t0,
        )

    def perturb(self, target: Target, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Only the adversarial examples, for training loops: every sample is attacked
        (no clean check) and no final forward pass or bookkeeping is done, but the inputs
        are checked and the result is projected onto the eps ball and the bounds as in
        :meth:`__call__`."""
        x, y = self._prepare(target, x, y)
        with target.session():
            rng = torch.Generator(device=x.device).manual_seed(self.seed)
            found = self.run(target, x, y, rng) if len(x) else None
            x_adv = x.clone() if found is None else found.x_adv.detach().to(x.dtype)
            return self._enforce(target, x, x_adv)

    def _prepare(
        self, target: Target, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.needs_gradients and not target.differentiable:
            raise InputError(f"{self.name} needs gradients; {type(target).__name__} has none")
        if self.needs_scores and target.label_only:
            raise InputError(
                f"{self.name} needs scores; the target answers labels only "
                "(use a decision-based attack: hop-skip-jump)"
            )
        if x.dim() < 2 or y.dim() != 1 or len(x) != len(y):
            raise InputError(
                f"expected x of shape (n, ...) and y of shape (n,), got "
                f"{tuple(x.shape)} and {tuple(y.shape)}"
            )
        x = x.to(target.device, torch.float32 if not x.is_floating_point() else x.dtype)
        lo, hi = target.bounds
        if len(x) and (x.min() < lo or x.max() > hi or not torch.isfinite(x).all()):
            raise InputError(f"inputs must be finite and inside the bounds [{lo}, {hi}]")
        return x.detach(), y.to(target.device, torch.long)

    @staticmethod
    def _standing(
        target: Target, x: torch.Tensor, y: torch.Tensor, assume_correct: bool
    ) -> torch.Tensor:
        if assume_correct:
            return torch.arange(len(x), device=x.device)
        return (target.predict(x) == y).nonzero().squeeze(1)

    def _enforce(self, target: Target, x: torch.Tensor, x_adv: torch.Tensor) -> torch.Tensor:
        x_adv = torch.where(torch.isfinite(x_adv), x_adv, x)
        if self.eps is None:
            return target.constrain(x, clip_to_bounds(x_adv, target.bounds), self.eps)
        return target.constrain(x, enforce(x, x_adv, self.norm, self.eps, target.bounds), self.eps)
