"""Exact minimal adversarial examples of tree ensembles by mixed-integer programming."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt
import torch

from redline.attacks._base import Adversarial, Attack
from redline.attacks._geometry import Norm
from redline.attacks.trees._grid import Grid, Limits
from redline.attacks.trees._search import minimal
from redline.attacks.trees._solve import TreeSolution, solve_exact
from redline.attacks.trees._target import TreeAccess
from redline.errors import InputError
from redline.targets import Target

__all__ = ["TreeExact"]


class TreeExact(Attack):
    """Kantchelian et al. (ICML 2016): the closest misclassified point, proved by HiGHS.

    Without ``eps`` it is a minimum-norm attack: each sample gets the minimal L-inf
    perturbation that changes the predicted class (the minimum over all other classes),
    warm-started by :class:`TreeGreedy`'s example so that the program only searches
    closer. With ``eps`` it answers exactly whether an adversarial example exists within
    eps (a feasibility program over the cells in the box). ``lower`` / ``upper``
    (per-feature bounds), ``immutable`` (a boolean mask) and ``direction`` (+1: a feature
    may only increase, -1: only decrease) restrict every candidate.

    ``time_limit`` (seconds per sample) bounds each sample's programs; a sample that hits
    it is not proved. :attr:`solution` holds the last batch's per-sample status, proved
    lower bounds and distances, and :attr:`proved` says whether every answer is exact;
    never read a robust accuracy as exact unless it is. Programs grow with the number of
    thresholds in reach: use it on small ensembles (tens of trees, depth <= 6 or so).
    """

    name = "tree-exact"
    norms: ClassVar[tuple[Norm, ...]] = ("linf",)
    needs_gradients = False
    minimum_norm = True

    def __init__(
        self,
        *,
        norm: Norm = "linf",
        eps: float | None = None,
        lower: npt.ArrayLike | None = None,
        upper: npt.ArrayLike | None = None,
        immutable: npt.ArrayLike | None = None,
        direction: npt.ArrayLike | None = None,
        time_limit: float = 30.0,
        seed: int = 0,
    ) -> None:
        super().__init__(norm=norm, eps=eps, seed=seed)
        if not time_limit > 0:
            raise InputError(f"time_limit must be > 0 seconds, got {time_limit}")
        limits = Limits.of(lower, upper, immutable, direction)
        self.lower, self.upper = limits.lower, limits.upper
        self.immutable, self.direction = limits.immutable, limits.direction
        self.time_limit = float(time_limit)
        self._solution: TreeSolution | None = None

    @property
    def solution(self) -> TreeSolution | None:
        """Per-sample outcome of the last call, for the samples it attacked (those the
        target classified correctly, in order); None before the first call."""
        return self._solution

    @property
    def proved(self) -> bool:
        """Whether every answer of the last call is exact (no sample hit the time limit)."""
        return self._solution is not None and bool(self._solution.exact.all())

    def run(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator
    ) -> Adversarial:
        access = TreeAccess(
            target, self.name, x, Limits(self.lower, self.upper, self.immutable, self.direction)
        )
        rows, labels = access.rows, y.cpu().numpy().astype(np.int64)
        incumbent = None
        if self.eps is None:
            low, high = access.threat.box(rows, None)
            grid = Grid.of(access.ensemble)
            table = grid.table(rows, low, high)
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=rng, device=rng.device))
            found = minimal(
                access.score,
                rows,
                labels,
                table,
                boxes=access.leaf_boxes(grid),
                restarts=1,
                rng=np.random.default_rng(seed),
            )
            incumbent = (found.x, found.distance)
        self._solution = solve_exact(
            access.ensemble,
            rows,
            labels,
            eps=self.eps,
            threat=access.threat,
            time_limit=self.time_limit,
            minimize=self.eps is None,
            predict=access.predict,
            incumbent=incumbent,
        )
        return Adversarial(access.back(self._solution.x_adv))
