"""What both tree attacks need from a target: its ensemble, its threat, its verdicts."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch

from redline.attacks.trees._grid import Grid, Limits, Threat, ensemble_of
from redline.attacks.trees._moves import LeafBoxes
from redline.attacks.trees._paths import Paths
from redline.attacks.trees._search import Score
from redline.attacks.trees._solve import Predict
from redline.errors import InputError
from redline.targets import Target, TreeEnsemble

__all__ = ["TreeAccess"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


class TreeAccess:
    """A tree target seen by an attack: rows as float64, labels from the target itself."""

    def __init__(self, target: Target, attack: str, x: torch.Tensor, limits: Limits) -> None:
        self.target = target
        self.ensemble: TreeEnsemble = ensemble_of(target, attack)
        if x.dim() != 2:
            raise InputError(f"{attack} needs tabular inputs (n, features), got {x.dim()}-D")
        self.dtype = x.dtype
        self.rows: Floats = x.detach().cpu().double().numpy()
        self.threat = Threat.of(self.ensemble.n_features, target.bounds, limits)

    def leaf_boxes(self, grid: Grid) -> LeafBoxes:
        """The path boxes of every leaf, for the greedy search's leaf moves."""
        return LeafBoxes.of(self.ensemble, grid, Paths.of(self.ensemble))

    def _tensor(self, points: Floats) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(points)).to(self.target.device, self.dtype)

    def back(self, points: Floats) -> torch.Tensor:
        """Rows back as a tensor like the attack's input."""
        return self._tensor(points)

    @property
    def predict(self) -> Predict:
        """The target's labels of some points (each call counted in its usage)."""

        def predict(points: Floats) -> Ints:
            out: Ints = self.target.predict(self._tensor(points)).cpu().numpy().astype(np.int64)
            return out

        return predict

    @property
    def score(self) -> Score:
        """Best other logit minus true logit, and whether the point is misclassified."""

        def score(points: Floats, labels: Ints) -> tuple[Floats, npt.NDArray[np.bool_]]:
            logits = self.target.logits(self._tensor(points)).cpu().double().numpy()
            idx = np.arange(len(labels))
            true = logits[idx, labels]
            logits_other = logits.copy()
            logits_other[idx, labels] = -np.inf
            return logits_other.max(axis=1) - true, np.argmax(logits, axis=1) != labels

        return score
