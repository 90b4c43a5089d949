"""The moves of the greedy tree search: one feature into another cell, or every feature
of one root-to-leaf path at once into the cells that reach that leaf.

A single-feature move cannot reach a leaf that needs two features changed together
(both splits of its path); a leaf move can (the "leaf tuple" neighbourhood of Zhang et
al., 2020, one tree at a time). A leaf move keeps a feature where it is when its cell
already satisfies the path, and otherwise takes the allowed cell closest to the clean
value, so moves stay near the sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from redline.attacks.trees._grid import FeatureCells, Grid
from redline.attacks.trees._paths import Paths
from redline.targets import TreeEnsemble

__all__ = ["Candidates", "LeafBoxes", "Space"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

_BIG = np.iinfo(np.int64).max // 2
_CHUNK = 2_000_000
"""Most (sample, leaf, depth) entries built at once for leaf moves (memory bound)."""


@dataclass(frozen=True)
class LeafBoxes:
    """Per leaf, the cell range each feature on its path must lie in (``-1`` padded)."""

    feature: Ints
    lo: Ints
    hi: Ints

    @classmethod
    def of(cls, ensemble: TreeEnsemble, grid: Grid, paths: Paths) -> LeafBoxes:
        """Merge the splits of every path: ``x <= t_k`` is cell <= k, ``x > t_k`` >= k + 1."""
        valid = paths.ancestor >= 0
        node = np.maximum(paths.ancestor, 0)
        feat = np.where(valid, ensemble.feature[node], -1)
        rank = grid.rank[node]
        lo = np.where(valid & (paths.side < 0), rank + 1, 0)
        hi = np.where(valid & (paths.side > 0), rank, _BIG)
        same = (feat[:, :, None] == feat[:, None, :]) & valid[:, :, None] & valid[:, None, :]
        lo = np.where(same, lo[:, None, :], 0).max(axis=2)
        hi = np.where(same, hi[:, None, :], _BIG).min(axis=2)
        return cls(feat, lo, hi)


@dataclass(frozen=True)
class Candidates:
    """Moves to evaluate: sample row, and the features (``-1`` padded) and their cells."""

    rows: Ints
    features: Ints
    cells: Ints


class Space:
    """The cells each sample may use within its radius: entry points and reach."""

    def __init__(self, table: list[FeatureCells], radius: Floats) -> None:
        sizes = np.array([f.cost.shape[1] for f in table])
        self.offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.point = np.concatenate([f.point for f in table], axis=1)
        ok = np.concatenate([f.cost for f in table], axis=1) <= radius[:, None]
        self.here = np.stack([f.here for f in table], axis=1)
        idx = np.arange(ok.shape[1])[None, :]
        self.lo = np.minimum.reduceat(np.where(ok, idx, _BIG), self.offset, axis=1) - self.offset
        self.hi = np.maximum.reduceat(np.where(ok, idx, -1), self.offset, axis=1) - self.offset
        rows, col = np.nonzero(ok)
        feature = np.repeat(np.arange(len(table)), sizes)[col]
        self._single = (rows, feature, col - self.offset[feature])

    def values(self, rows: Ints, features: Ints, cells: Ints) -> Floats:
        """Entry points of the given cells."""
        out: Floats = self.point[rows, self.offset[features] + cells]
        return out

    def singles(self, active: npt.NDArray[np.bool_], cells: Ints) -> Candidates:
        """Every one-feature move of the active samples into another reachable cell."""
        rows, feature, cell = self._single
        keep = active[rows] & (cell != cells[rows, feature])
        return Candidates(rows[keep], feature[keep, None], cell[keep, None])

    def leaf_moves(self, boxes: LeafBoxes, active: Ints, cells: Ints) -> Candidates:
        """Every leaf within reach of the active samples that changes their cells."""
        feat = np.maximum(boxes.feature, 0)[None]
        valid = (boxes.feature >= 0)[None]
        parts = []
        step = max(1, _CHUNK // max(boxes.feature.size, 1))
        for start in range(0, len(active), step):
            a = active[start : start + step, None, None]
            lo = np.maximum(boxes.lo[None], self.lo[a, feat])
            hi = np.minimum(boxes.hi[None], self.hi[a, feat])
            cur, here = cells[a, feat], self.here[a, feat]
            inside = (cur >= boxes.lo[None]) & (cur <= boxes.hi[None])
            new = np.where(inside, cur, np.clip(here, lo, np.maximum(lo, hi)))
            ok = (~valid | (lo <= hi)).all(axis=2) & (valid & (new != cur)).any(axis=2)
            s, leaf = np.nonzero(ok)
            parts.append((a[s, 0, 0], boxes.feature[leaf], new[s, leaf]))
        if not parts:
            return Candidates(np.zeros(0, np.int64), *(np.zeros((0, 1), np.int64),) * 2)
        rows, features, new_cells = (np.concatenate(p) for p in zip(*parts, strict=True))
        return Candidates(rows, features, np.where(features >= 0, new_cells, 0))
