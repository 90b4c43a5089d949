"""Per-sample attack losses (higher means more adversarial)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["cross_entropy", "dlr", "dlr_targeted", "margin"]


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy per sample."""
    return F.cross_entropy(logits, y, reduction="none")


def _other_max(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    masked = logits.scatter(1, y[:, None], float("-inf"))
    return masked.amax(dim=1)


def margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Best other logit minus the true logit: positive exactly when misclassified."""
    true = logits.gather(1, y[:, None]).squeeze(1)
    return _other_max(logits, y) - true


def dlr(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Difference of Logits Ratio (Croce & Hein 2020): shift and scale invariant."""
    top = logits.sort(dim=1).values
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = _other_max(logits, y)
    return (other - true) / (top[:, -1] - top[:, -3] + 1e-12)


def dlr_targeted(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Targeted DLR: pushes the target logit above the true one."""
    top = logits.sort(dim=1).values
    true = logits.gather(1, y[:, None]).squeeze(1)
    tgt = logits.gather(1, target[:, None]).squeeze(1)
    return (tgt - true) / (top[:, -1] - 0.5 * (top[:, -3] + top[:, -4]) + 1e-12)
