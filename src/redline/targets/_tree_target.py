"""A tree ensemble as a target: scores from the parsed arrays, splits open to attacks."""

from __future__ import annotations

import torch

from redline.errors import InputError
from redline.targets._base import Target
from redline.targets._trees import TreeEnsemble

__all__ = ["TreeTarget"]

INF_BOUNDS = (-float("inf"), float("inf"))
"""Tabular features have no common range: per-feature bounds come from the schema."""


class TreeTarget(Target):
    """Logits of a :class:`TreeEnsemble` (``[0, m]`` for one binary margin, the margins
    for softmax, log-probabilities for forests), computed from its arrays in numpy.

    No gradients (trees are piecewise constant), but :attr:`ensemble` gives white-box
    tree attacks the splits themselves. Inputs are ``(n, features)`` in the model's units.
    """

    def __init__(self, ensemble: TreeEnsemble, *, bounds: tuple[float, float] = INF_BOUNDS) -> None:
        super().__init__(bounds=bounds)
        if not isinstance(ensemble, TreeEnsemble):
            raise InputError(f"TreeTarget needs a TreeEnsemble, got {type(ensemble).__name__}")
        self.ensemble = ensemble

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.detach().cpu().double().reshape(len(x), -1).numpy()
        return torch.from_numpy(self.ensemble.logits(rows)).float()
