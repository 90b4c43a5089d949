"""The inner maximisations of adversarial training, as redline attacks: PGD-AT and
FGSM-RS are PGD (many steps / one step of 1.25 eps from a random start), TRADES is PGD
on the KL divergence from the clean prediction."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from redline.attacks import PGD
from redline.attacks._geometry import Norm

__all__ = ["METHODS", "KLFromClean", "Method", "inner_attack", "trades_loss"]

Method = Literal["pgd-at", "trades", "fgsm-rs"]
METHODS: tuple[Method, ...] = ("pgd-at", "trades", "fgsm-rs")


class KLFromClean:
    """Per-sample KL(p_clean || p_adv): TRADES' inner loss. Needs the whole batch in its
    original order, so the PGD that uses it runs without early stop."""

    def __init__(self, clean_logits: torch.Tensor) -> None:
        self.log_clean = F.log_softmax(clean_logits.detach(), dim=1)

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if len(logits) != len(self.log_clean):
            raise RuntimeError("the TRADES loss lost track of the batch (early stop is on?)")
        log_adv = F.log_softmax(logits, dim=1)
        return F.kl_div(log_adv, self.log_clean, reduction="none", log_target=True).sum(dim=1)


def inner_attack(
    method: Method, norm: Norm, eps: float, steps: int, seed: int, clean: torch.Tensor | None
) -> PGD:
    """The attack that makes one batch's training examples (full budget, no early stop:
    a training example should be as strong as the budget allows)."""
    if method == "fgsm-rs":  # Wong et al. 2020: uniform start, one step of 1.25 eps
        return PGD(norm=norm, eps=eps, steps=1, step_size=1.25 * eps, early_stop=False, seed=seed)
    if method == "trades":
        assert clean is not None
        return PGD(
            norm=norm, eps=eps, steps=steps, loss=KLFromClean(clean), early_stop=False, seed=seed
        )
    return PGD(norm=norm, eps=eps, steps=steps, early_stop=False, seed=seed)


def trades_loss(
    clean_logits: torch.Tensor, adv_logits: torch.Tensor, y: torch.Tensor, beta: float
) -> torch.Tensor:
    """Zhang et al. 2019: cross-entropy on clean inputs plus beta x KL(clean || adv)."""
    natural = F.cross_entropy(clean_logits, y)
    robust = F.kl_div(
        F.log_softmax(adv_logits, dim=1),
        F.log_softmax(clean_logits, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    return natural + beta * robust
