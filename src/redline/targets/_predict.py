"""Predicted labels of a whole array, in batches, for a target or a bare module."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from redline.errors import InputError
from redline.targets._base import Target
from redline.targets._torch import TorchTarget

__all__ = ["predict_labels"]


def predict_labels(
    model: Target | nn.Module, x: Any, *, batch_size: int = 512
) -> npt.NDArray[np.int64]:
    """``argmax`` labels of ``x`` (numpy, in the model's input space), batch by batch, in
    eval mode; a module's own mode is restored afterwards (see ``TorchTarget.session``)."""
    target = TorchTarget(model) if isinstance(model, nn.Module) else model
    if not isinstance(target, Target):
        raise InputError(f"expected a Target or torch.nn.Module, got {type(model).__name__}")
    parts: list[npt.NDArray[np.int64]] = []
    with target.session():
        for start in range(0, len(x), batch_size):
            xb = torch.as_tensor(x[start : start + batch_size], dtype=torch.float32)
            parts.append(target.predict(xb.to(target.device)).cpu().numpy().astype(np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)
