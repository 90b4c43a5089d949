"""Greedy cell search: take the move (one feature into another cell, or one tree's path
into another leaf) that hurts the true class most, from the clean point and from random
starts, batched over samples.

Within an L-inf ball every combination of reachable cells is allowed, so a move never
leaves the threat; each step evaluates every move of every sample still standing (one
batched query) and takes the best. The minimum-norm search bisects, per
sample, over the distinct cell costs (the only distances a minimal example can have).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from redline.attacks.trees._grid import FeatureCells
from redline.attacks.trees._moves import Candidates, LeafBoxes, Space

__all__ = ["Found", "Score", "greedy", "minimal"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Score = Callable[[Floats, Ints], tuple[Floats, npt.NDArray[np.bool_]]]
"""``(points, labels) -> (loss, adversarial)``: loss is best other logit minus true logit."""


@dataclass(frozen=True)
class Found:
    """Points reached, whether each is adversarial, and its L-inf distance."""

    x: Floats
    success: npt.NDArray[np.bool_]
    distance: Floats


def greedy(
    score: Score,
    x: Floats,
    y: Ints,
    table: list[FeatureCells],
    radius: Floats,
    *,
    boxes: LeafBoxes | None,
    restarts: int,
    rng: np.random.Generator,
) -> Found:
    """Best-move ascent from ``x`` and ``restarts`` random starts inside ``radius``."""
    best = x.copy()
    success = np.zeros(len(x), bool)
    for r in range(restarts + 1):
        todo = np.flatnonzero(~success)
        if not len(todo):
            break
        space = Space([f.take(todo) for f in table], radius[todo])
        z, cells = _start(x[todo], space, rng if r else None)
        z, hit = _ascend(score, z, cells, y[todo], space, boxes)
        best[todo[hit]] = z[hit]
        success[todo[hit]] = True
    return Found(best, success, np.abs(best - x).max(axis=1, initial=0.0))


def _start(x: Floats, space: Space, rng: np.random.Generator | None) -> tuple[Floats, Ints]:
    """The clean points (``rng`` None), or each feature moved with probability 1/2 to a
    random cell within reach."""
    z, cells = x.copy(), space.here.copy()
    if rng is None:
        return z, cells
    move = rng.random(cells.shape) < 0.5
    pick = space.lo + np.floor(rng.random(cells.shape) * (space.hi - space.lo + 1)).astype(int)
    rows, feats = np.nonzero(move & (pick != cells))
    cells[rows, feats] = pick[rows, feats]
    z[rows, feats] = space.values(rows, feats, pick[rows, feats])
    return z, cells


def _candidates(
    space: Space, boxes: LeafBoxes | None, active: npt.NDArray[np.bool_], cells: Ints
) -> Candidates:
    """Single-feature moves and leaf moves together, padded to one width."""
    parts = [space.singles(active, cells)]
    if boxes is not None:
        parts.append(space.leaf_moves(boxes, np.flatnonzero(active), cells))
    width = max(p.features.shape[1] for p in parts)

    def pad(a: Ints, fill: int) -> Ints:
        return np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=fill)

    return Candidates(
        np.concatenate([p.rows for p in parts]),
        np.concatenate([pad(p.features, -1) for p in parts]),
        np.concatenate([pad(p.cells, 0) for p in parts]),
    )


def _apply(z: Floats, space: Space, cand: Candidates) -> Floats:
    """The points the candidates lead to."""
    pts = z[cand.rows].copy()
    for k in range(cand.features.shape[1]):
        idx = np.flatnonzero(cand.features[:, k] >= 0)
        feats = cand.features[idx, k]
        pts[idx, feats] = space.values(cand.rows[idx], feats, cand.cells[idx, k])
    return pts


def _ascend(
    score: Score,
    z: Floats,
    cells: Ints,
    y: Ints,
    space: Space,
    boxes: LeafBoxes | None,
) -> tuple[Floats, npt.NDArray[np.bool_]]:
    """Take the best move while it raises the loss; stop at an adversarial point."""
    loss, hit = score(z, y)
    active = ~hit
    while active.any():
        cand = _candidates(space, boxes, active, cells)
        if not len(cand.rows):
            break
        pts = _apply(z, space, cand)
        new_loss, new_hit = score(pts, y[cand.rows])
        key = np.where(new_hit, np.inf, new_loss)
        order = np.lexsort((-key, cand.rows))
        first = order[np.r_[True, cand.rows[order][1:] != cand.rows[order][:-1]]]
        better = first[key[first] > loss[cand.rows[first]]]
        r = cand.rows[better]
        z[r] = pts[better]
        for k in range(cand.features.shape[1]):
            f = cand.features[better, k]
            cells[r[f >= 0], f[f >= 0]] = cand.cells[better, k][f >= 0]
        loss[r], hit[r] = new_loss[better], new_hit[better]
        active[:] = False
        active[r] = ~hit[r]
    return z, hit


def minimal(
    score: Score,
    x: Floats,
    y: Ints,
    table: list[FeatureCells],
    *,
    boxes: LeafBoxes | None,
    restarts: int,
    rng: np.random.Generator,
) -> Found:
    """Smallest radius (among the cell costs) at which :func:`greedy` succeeds, per sample."""
    costs = np.concatenate([f.cost for f in table], axis=1)
    radii = [np.unique(c[np.isfinite(c) & (c > 0)]) for c in costs]
    top = np.array([r[-1] if len(r) else 0.0 for r in radii])
    found = greedy(score, x, y, table, top, boxes=boxes, restarts=restarts, rng=rng)
    best, dist = found.x.copy(), np.where(found.success, found.distance, np.inf)
    lo = np.full(len(x), -1)
    hi = np.array([np.searchsorted(r, d) for r, d in zip(radii, dist, strict=True)])
    while True:
        todo = np.flatnonzero(found.success & (hi - lo > 1))
        if not len(todo):
            break
        mid = (lo[todo] + hi[todo]) // 2
        radius = np.array([radii[i][m] for i, m in zip(todo, mid, strict=True)])
        sub = [f.take(todo) for f in table]
        step = greedy(score, x[todo], y[todo], sub, radius, boxes=boxes, restarts=restarts, rng=rng)
        won = todo[step.success]
        best[won], dist[won] = step.x[step.success], step.distance[step.success]
        hi[won] = [np.searchsorted(radii[i], dist[i]) for i in won]
        lo[todo[~step.success]] = mid[~step.success]
    return Found(best, found.success, np.where(found.success, dist, np.inf))
