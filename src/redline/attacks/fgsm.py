"""Fast Gradient Sign Method (Goodfellow et al. 2015); FGM for L2."""

from __future__ import annotations

import torch

from redline.attacks._base import Adversarial, Attack
from redline.attacks._geometry import Norm, enforce, normalize_gradient
from redline.attacks._losses import cross_entropy
from redline.targets import Target

__all__ = ["FGSM"]


class FGSM(Attack):
    """One step of size eps along the normalised gradient of the cross-entropy."""

    name = "fgsm"

    def __init__(self, *, norm: Norm = "linf", eps: float, seed: int = 0) -> None:
        super().__init__(norm=norm, eps=eps, seed=seed)

    def run(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator
    ) -> Adversarial:
        assert self.eps is not None
        _, _, grad = target.logits_and_grad(x, lambda z: cross_entropy(z, y))
        x_adv = x + self.eps * normalize_gradient(grad, self.norm)
        return Adversarial(
            target.constrain(x, enforce(x, x_adv, self.norm, self.eps, target.bounds), self.eps)
        )
