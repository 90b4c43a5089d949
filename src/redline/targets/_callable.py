"""Black-box target: any function that returns class scores."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from redline.errors import InputError
from redline.targets._base import Target

__all__ = ["CallableTarget"]

ScoreFn = Callable[[torch.Tensor], "torch.Tensor | np.ndarray"]


class CallableTarget(Target):
    """Wrap ``fn(x) -> scores`` (logits or probabilities, shape ``(batch, classes)``).

    No gradients: only score-based attacks (Square) and sanity checks run against it.
    Scores may come back as numpy; they are turned into a float tensor on ``device``.
    """

    def __init__(
        self,
        fn: ScoreFn,
        *,
        bounds: tuple[float, float] = (0.0, 1.0),
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(bounds=bounds)
        if not callable(fn):
            raise InputError("CallableTarget needs a callable that returns scores")
        self.fn = fn
        self._device = torch.device(device)

    @property
    def device(self) -> torch.device:
        return self._device

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.as_tensor(self.fn(x), device=self._device).float()
        if out.dim() != 2 or len(out) != len(x):
            raise InputError(
                f"scoring function must return (batch, classes); got {tuple(out.shape)} "
                f"for a batch of {len(x)}"
            )
        return out
