"""Greedy cell search on tree ensembles: a fast attack for ensembles too large for MILP."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt
import torch

from redline.attacks._base import Adversarial, Attack
from redline.attacks._geometry import Norm
from redline.attacks.trees._grid import Grid, Limits
from redline.attacks.trees._search import greedy, minimal
from redline.attacks.trees._target import TreeAccess
from redline.errors import InputError
from redline.targets import Target

__all__ = ["TreeGreedy"]


class TreeGreedy(Attack):
    """Coordinate search over the ensemble's threshold cells (L-inf), white-box on splits.

    Each step tries every reachable cell of every mutable feature (one feature at a
    time, entered just past its threshold) and keeps the move that raises the best other
    class's logit over the true one most; it stops at a misclassified point or a local
    optimum, then restarts ``restarts`` times from random cells. With ``eps`` it searches
    the eps box; without, it bisects per sample over the cell costs for the smallest
    radius at which the search succeeds (an upper bound on the minimal distance, which
    :class:`TreeExact` proves). ``lower`` / ``upper`` (per-feature bounds) and
    ``immutable`` (a boolean mask) and ``direction`` (+1: a feature may only increase,
    -1: only decrease) are respected by every candidate. Cost: one query per
    candidate move, linear in trees and thresholds; no solver.
    """

    name = "tree-greedy"
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
        restarts: int = 5,
        leaf_moves: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(norm=norm, eps=eps, seed=seed)
        if restarts < 0:
            raise InputError(f"restarts must be >= 0, got {restarts}")
        limits = Limits.of(lower, upper, immutable, direction)
        self.lower, self.upper = limits.lower, limits.upper
        self.immutable, self.direction = limits.immutable, limits.direction
        self.restarts = int(restarts)
        self.leaf_moves = bool(leaf_moves)

    def run(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator
    ) -> Adversarial:
        access = TreeAccess(
            target, self.name, x, Limits(self.lower, self.upper, self.immutable, self.direction)
        )
        rows, labels = access.rows, y.cpu().numpy().astype(np.int64)
        low, high = access.threat.box(rows, self.eps)
        grid = Grid.of(access.ensemble)
        table = grid.table(rows, low, high)
        boxes = access.leaf_boxes(grid) if self.leaf_moves else None
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=rng, device=rng.device))
        gen = np.random.default_rng(seed)
        if self.eps is None:
            found = minimal(
                access.score, rows, labels, table, boxes=boxes, restarts=self.restarts, rng=gen
            )
        else:
            reach = np.full(len(rows), np.inf)
            found = greedy(
                access.score,
                rows,
                labels,
                table,
                reach,
                boxes=boxes,
                restarts=self.restarts,
                rng=gen,
            )
        return Adversarial(access.back(found.x))
