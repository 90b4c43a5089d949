"""Training with Gaussian noise augmentation (Cohen et al. 2019): the base classifier of
a smoothed model sees ``x + N(0, sigma^2 I)`` in input space, unclipped, so that it is
right under the same noise it will be certified with."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from redline.defenses._adversarial import Batches, Loader, _batches
from redline.defenses._smoothing import check_sigma, mix_seed
from redline.errors import InputError
from redline.targets import TorchTarget

__all__ = ["NoiseEpochLog", "gaussian_augment_train"]


@dataclass(frozen=True)
class NoiseEpochLog:
    """One epoch of noise training: mean loss and accuracy on the noisy training batches,
    and wall time."""

    epoch: int
    loss: float
    noisy_accuracy: float
    seconds: float


def _noise_epoch(
    target: TorchTarget,
    optimizer: torch.optim.Optimizer,
    loader: Batches,
    sigma: float,
    key: tuple[int, int],
) -> tuple[float, float]:
    """One pass over the batches; batch ``b`` draws its noise from seed ``(seed, epoch, b)``."""
    total = hits = count = 0.0
    target.module.train()
    for b, batch in enumerate(loader):
        x, y = (t.to(target.device) for t in batch)
        y = y.long()
        gen = torch.Generator(device=x.device).manual_seed(mix_seed(*key, b))
        noisy = x.float() + sigma * torch.randn(x.shape, generator=gen, device=x.device)
        logits = target.forward(noisy)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        optimizer.step()
        total += float(loss.detach()) * len(y)
        hits += int((logits.detach().argmax(dim=1) == y).sum())
        count += len(y)
    if count == 0:
        raise InputError("the training data yielded no batches")
    return total / count, hits / count


def gaussian_augment_train(
    module: nn.Module,
    loader: Loader,
    *,
    sigma: float,
    epochs: int,
    lr: float = 1e-3,
    seed: int = 0,
    bounds: tuple[float, float] = (0.0, 1.0),
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    callback: Callable[[NoiseEpochLog], bool | None] | None = None,
) -> list[NoiseEpochLog]:
    """Train ``module`` in place (Adam, cross-entropy) on ``x + N(0, sigma^2)``, the base
    classifier of a :class:`SmoothedClassifier` at the same ``sigma``. ``loader`` yields
    ``(x, y)`` batches in input space, or is ``epoch -> batches``; ``mean``/``std`` are
    applied inside, after the noise. Same seed and batch order, same weights (on the CPU).
    ``callback(log)`` runs after each epoch; returning False stops training."""
    sigma = check_sigma(sigma)
    if epochs < 1 or not lr > 0:
        raise InputError(f"epochs must be >= 1 and lr > 0, got {epochs}, {lr}")
    target = TorchTarget(module, bounds=bounds, mean=mean, std=std)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    history: list[NoiseEpochLog] = []
    try:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            loss, acc = _noise_epoch(
                target, optimizer, _batches(loader, epoch), sigma, (seed, epoch)
            )
            history.append(NoiseEpochLog(epoch, loss, acc, time.perf_counter() - t0))
            if callback is not None and callback(history[-1]) is False:
                break
    finally:
        module.eval()
    return history
