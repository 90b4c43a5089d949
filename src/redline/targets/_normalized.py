"""A target's module with its input normalisation in front: trainable in input space."""

from __future__ import annotations

import torch
from torch import nn

from redline.targets._torch import TorchTarget

__all__ = ["InputSpace", "in_input_space"]


class InputSpace(nn.Module):
    """``inner((x - mean) / std)``: what a :class:`TorchTarget` computes, as one module, so
    training or repairing it sees inputs in the target's bounds. ``inner`` is the model."""

    def __init__(self, inner: nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.inner = inner
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        mean, std = self.get_buffer("mean").view(shape), self.get_buffer("std").view(shape)
        out: torch.Tensor = self.inner((x - mean) / std)
        return out


def in_input_space(target: TorchTarget, module: nn.Module | None = None) -> nn.Module:
    """``module`` (default the target's) behind the target's normalisation; the module
    itself when the target has none."""
    inner = target.module if module is None else module
    if target.mean is None and target.std is None:
        return inner
    channels = len(target.mean or target.std or [0.0])
    mean, std = target.mean or [0.0] * channels, target.std or [1.0] * channels
    return InputSpace(inner, list(mean), list(std)).to(target.device)
