"""Plain (non-adversarial) training, seeded, for the demo and the tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

__all__ = ["accuracy", "train_classifier"]


def train_classifier(
    module: nn.Module,
    x: np.typing.NDArray[np.float32] | torch.Tensor,
    y: np.typing.NDArray[np.int64] | torch.Tensor,
    *,
    epochs: int = 20,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
    on_batch: Callable[[float], None] | None = None,
) -> nn.Module:
    """Train with Adam and cross-entropy; same seed, same weights (on CPU).

    ``on_epoch(epoch, mean_loss)`` is called after each epoch and ``on_batch(loss)``
    after each batch (progress bars).
    """
    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    device = next(module.parameters()).device
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    module.train()
    for epoch in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for start in range(0, len(xt), batch_size):
            idx = order[start : start + batch_size]
            xb, yb = xt[idx].to(device), yt[idx].to(device)
            loss = nn.functional.cross_entropy(module(xb), yb)
            opt.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            opt.step()
            batch_loss = float(loss.detach())
            total += batch_loss * len(idx)
            if on_batch is not None:
                on_batch(batch_loss)
        if on_epoch is not None:
            on_epoch(epoch, total / max(len(xt), 1))
    module.eval()
    return module


def accuracy(
    module: nn.Module, x: np.typing.NDArray[np.float32] | torch.Tensor, y: object
) -> float:
    """Clean accuracy of ``module`` on ``(x, y)``."""
    device = next(module.parameters()).device
    xt = torch.as_tensor(x, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y, dtype=torch.long, device=device)
    with torch.no_grad():
        return float((module(xt).argmax(dim=1) == yt).float().mean())
