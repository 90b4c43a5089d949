"""The threshold grid of a tree ensemble: the cells a feature can be moved into.

Between two consecutive thresholds of one feature every value gives the same leaves,
so an attack only chooses a cell per feature. Thresholds are snapped to float32 (on a
float32 value ``x <= t`` equals ``x <= down32(t)``) and each cell is entered at one
canonical float32 point: the nearest point to the clean value, a few float32 ulps past
the threshold so that the base class's projection (``x + (x_adv - x)`` in float32)
cannot round it back across. Exact and heuristic attacks share these points, so their
distances compare like for like.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from redline.errors import InputError
from redline.targets import Target, TreeEnsemble

__all__ = ["Cells", "FeatureCells", "Grid", "Limits", "Threat", "down32", "ensemble_of", "up32"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

_ULPS = 4
"""How many float32 ulps (at the larger of threshold and clean value) a crossing goes past."""


def down32(v: npt.ArrayLike) -> Floats:
    """Largest float32 value <= ``v`` (as float64)."""
    a = np.asarray(v, np.float64)
    with np.errstate(over="ignore"):  # beyond float32's range: inf, stepped back below
        f = a.astype(np.float32)
    f = np.where(f.astype(np.float64) > a, np.nextafter(f, np.float32(-np.inf)), f)
    return np.asarray(f, np.float64)


def up32(v: npt.ArrayLike) -> Floats:
    """Smallest float32 value >= ``v`` (as float64)."""
    return -down32(-np.asarray(v, np.float64))


def ensemble_of(target: Target, attack: str) -> TreeEnsemble:
    """The target's tree ensemble, or an InputError naming the attack."""
    ensemble = getattr(target, "ensemble", None)
    if not isinstance(ensemble, TreeEnsemble):
        raise InputError(
            f"{attack} needs a tree-ensemble target (TreeTarget); got {type(target).__name__}"
        )
    return ensemble


@dataclass(frozen=True)
class Grid:
    """Per feature the sorted distinct (float32) thresholds, per node its place in them."""

    thresholds: tuple[Floats, ...]
    rank: Ints
    """For an internal node, the index of its threshold in its feature's thresholds."""

    @classmethod
    def of(cls, ensemble: TreeEnsemble) -> Grid:
        """Collect the thresholds every split of ``ensemble`` uses."""
        inner = ensemble.feature >= 0
        snapped = down32(ensemble.threshold)
        rank = np.full(len(ensemble.feature), -1, np.int64)
        grids = []
        for j in range(ensemble.n_features):
            nodes = np.flatnonzero(inner & (ensemble.feature == j))
            grid = np.unique(snapped[nodes])
            rank[nodes] = np.searchsorted(grid, snapped[nodes])
            grids.append(grid)
        return cls(tuple(grids), rank)

    def table(self, x: Floats, low: Floats, high: Floats) -> list[FeatureCells]:
        """Per feature, every sample's entry point and cost for each cell in ``[low, high]``."""
        return [
            _feature_cells(t, x[:, j], low[:, j], high[:, j]) for j, t in enumerate(self.thresholds)
        ]


@dataclass(frozen=True)
class Cells:
    """Reachable cells of one feature for one sample (contiguous cell indices)."""

    index: Ints
    point: Floats
    cost: Floats
    here: int
    """The clean value's own cell."""


@dataclass(frozen=True)
class FeatureCells:
    """One feature's cells for a batch: cell ``i`` is ``(t[i-1], t[i]]``, ``(n, m + 1)``
    entry points and costs (``inf`` where the cell is out of reach)."""

    point: Floats
    cost: Floats
    here: Ints
    """Each sample's own cell."""

    def take(self, rows: Ints) -> FeatureCells:
        """The same cells for a subset of the samples."""
        return FeatureCells(self.point[rows], self.cost[rows], self.here[rows])

    def row(self, i: int) -> Cells:
        """Sample ``i``'s reachable cells (a contiguous range)."""
        reach = np.flatnonzero(np.isfinite(self.cost[i]))
        return Cells(reach, self.point[i, reach], self.cost[i, reach], int(self.here[i]))


def _feature_cells(t: Floats, x: Floats, low: Floats, high: Floats) -> FeatureCells:
    """Entry points: the clean value in its own cell, else just past the nearest threshold
    (a few ulps, never past the cell's other end or the box)."""
    m = len(t)
    cell = np.arange(m + 1)[None, :]
    here = np.searchsorted(t, x)[:, None]
    lo, hi = np.searchsorted(t, low)[:, None], np.searchsorted(t, high)[:, None]
    below_end = np.concatenate([[-np.inf], t])[None, :]  # t[i - 1]
    above_end = np.concatenate([t, [np.inf]])[None, :]  # t[i]
    xs = x[:, None]
    with np.errstate(invalid="ignore"):
        up = up32(below_end + _ULPS * _ulp(np.maximum(abs(below_end), abs(xs))))
        up = np.minimum(np.minimum(up, above_end), high[:, None])
        down = down32(above_end - _ULPS * _ulp(np.maximum(abs(above_end), abs(xs))))
        floor = up32(np.nextafter(below_end, np.inf))
        down = np.maximum(np.maximum(down, floor), low[:, None])
    point = np.where(cell > here, up, np.where(cell < here, down, xs))
    reach = (cell >= lo) & (cell <= hi)
    cost = np.where(reach, np.abs(point - xs), np.inf)
    return FeatureCells(np.where(reach, point, xs), cost, here[:, 0].astype(np.int64))


def _ulp(v: Floats) -> Floats:
    return np.asarray(np.spacing(np.asarray(v, np.float32)), np.float64)


@dataclass(frozen=True)
class Threat:
    """Per-feature bounds, immutable features and allowed directions (+1: may only
    increase, -1: only decrease, 0: both), on top of the target's bounds."""

    lower: Floats
    upper: Floats
    immutable: npt.NDArray[np.bool_]
    direction: Ints

    @classmethod
    def of(
        cls,
        n_features: int,
        bounds: tuple[float, float],
        limits: Limits | None = None,
    ) -> Threat:
        """Broadcast and check the constraints against ``n_features``."""
        limits = limits or Limits()
        lo = np.full(n_features, bounds[0]) if limits.lower is None else limits.lower
        hi = np.full(n_features, bounds[1]) if limits.upper is None else limits.upper
        fixed = np.zeros(n_features, bool) if limits.immutable is None else limits.immutable
        way = np.zeros(n_features, np.int64) if limits.direction is None else limits.direction
        for name, arr in (("lower", lo), ("upper", hi), ("immutable", fixed), ("direction", way)):
            if arr.shape != (n_features,):
                raise InputError(
                    f"{name} must have one entry per feature ({n_features}), got shape {arr.shape}"
                )
        if not np.isin(way, (-1, 0, 1)).all():
            raise InputError(
                "direction entries must be -1 (only decrease), 0 or +1 (only increase)"
            )
        lo, hi = np.maximum(lo, bounds[0]), np.minimum(hi, bounds[1])
        if np.isnan(lo).any() or np.isnan(hi).any() or (lo > hi).any():
            raise InputError("per-feature bounds must satisfy lower <= upper")
        return cls(lo, hi, fixed, way)

    def box(self, x: Floats, eps: float | None) -> tuple[Floats, Floats]:
        """Per sample the float32 interval each feature may take, ``(low, high)``."""
        lo, hi = np.broadcast_to(self.lower, x.shape), np.broadcast_to(self.upper, x.shape)
        if ((x < lo) | (x > hi)).any():
            raise InputError("a sample lies outside the per-feature bounds it is attacked in")
        if eps is not None:
            lo, hi = np.maximum(lo, x - eps), np.minimum(hi, x + eps)
        low = np.where(self.immutable | (self.direction > 0), x, np.minimum(up32(lo), x))
        high = np.where(self.immutable | (self.direction < 0), x, np.maximum(down32(hi), x))
        return low, high


@dataclass(frozen=True)
class Limits:
    """What a user gives a tree attack: per-feature ``lower`` / ``upper`` bounds, an
    ``immutable`` mask and a ``direction`` per feature; None leaves a feature free."""

    lower: Floats | None = None
    upper: Floats | None = None
    immutable: npt.NDArray[np.bool_] | None = None
    direction: Ints | None = None

    @classmethod
    def of(
        cls,
        lower: npt.ArrayLike | None = None,
        upper: npt.ArrayLike | None = None,
        immutable: npt.ArrayLike | None = None,
        direction: npt.ArrayLike | None = None,
    ) -> Limits:
        """Arrays from array-likes (None stays None)."""
        return cls(
            None if lower is None else np.asarray(lower, np.float64),
            None if upper is None else np.asarray(upper, np.float64),
            None if immutable is None else np.asarray(immutable, bool),
            None if direction is None else np.asarray(direction, np.int64),
        )
