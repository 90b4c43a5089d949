"""One sample's mixed-integer program (Kantchelian et al., ICML 2016), solved by HiGHS.

Variables: a binary ``p[j, k] = [x'_j <= t_jk]`` per threshold a feature can still
cross (monotone in ``k``), a leaf indicator per reachable leaf of every tree that is not
already decided (continuous: the binaries force them to 0/1), and the distance (one
``b`` for L-inf, one ``d_j`` per feature for L1). A split whose side is fixed by the
bounds prunes its other subtree before the program is built, so a small eps gives a
small program. The class row asks the target class's score to reach the true one's
minus a tolerance ``tau``; near-ties that float rounding decides otherwise are cut
(the leaf tuple is excluded) by the caller and the program solved again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from redline.attacks.trees._grid import Cells, Grid
from redline.attacks.trees._paths import Paths

__all__ = ["Outcome", "SampleProblem"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Status = Literal["optimal", "feasible", "infeasible", "unknown"]

_GAP = 1e-6
"""Relative optimality gap asked of HiGHS (its default, 1e-4, is too loose for a bound)."""


@dataclass(frozen=True)
class Outcome:
    """What one solve gave: a cell per feature and the leaves used, or only a bound."""

    status: Status
    cell: Ints | None = None
    leaves: Ints | None = None
    bound: float = 0.0


@dataclass
class _Rows:
    """A sparse constraint matrix built row by row."""

    cols: list[Ints] = field(default_factory=list)
    vals: list[Floats] = field(default_factory=list)
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)

    def add(self, cols: npt.ArrayLike, vals: npt.ArrayLike, lo: float, hi: float) -> None:
        self.cols.append(np.asarray(cols, np.int64))
        self.vals.append(np.asarray(vals, np.float64))
        self.lo.append(lo)
        self.hi.append(hi)

    def matrix(self, n_vars: int) -> LinearConstraint:
        rows = np.repeat(np.arange(len(self.cols)), [len(c) for c in self.cols])
        a = csr_array(
            (np.concatenate(self.vals), (rows, np.concatenate(self.cols))),
            shape=(len(self.cols), n_vars),
        )
        return LinearConstraint(a, np.asarray(self.lo), np.asarray(self.hi))


class SampleProblem:
    """Everything about one sample that does not depend on the target class."""

    def __init__(
        self,
        grid: Grid,
        paths: Paths,
        feature: Ints,
        x: Floats,
        cells: list[Cells],
        norm: Literal["linf", "l1"],
    ) -> None:
        self.x, self.norm, self.cells = x, norm, cells
        lo = np.array([c.index[0] for c in self.cells])
        hi = np.array([c.index[-1] for c in self.cells])
        self.offset = np.concatenate([[0], np.cumsum(hi - lo)])
        self.n_p = int(self.offset[-1])
        self._lo = lo
        self._prune(paths, feature, grid.rank, lo, hi)
        self._base_rows()

    def _prune(self, paths: Paths, feature: Ints, rank: Ints, lo: Ints, hi: Ints) -> None:
        """Fix the splits the box decides; keep the leaves still reachable."""
        inner = feature >= 0
        f = np.where(inner, feature, 0)
        status = np.where(rank >= hi[f], 1, np.where(rank < lo[f], -1, 0))
        status = np.where(inner, status, 0)
        var = np.where(inner & (status == 0), self.offset[f] + rank - lo[f], -1)
        st = np.where(paths.ancestor >= 0, status[np.maximum(paths.ancestor, 0)], 0)
        reach = ((st == 0) | (st == paths.side)).all(axis=1)
        counts = np.bincount(paths.tree[reach], minlength=int(paths.tree.max()) + 1)
        live = reach & (counts[paths.tree] > 1)
        self.fixed_leaves = paths.leaf[reach & ~live]
        self.leaf, self.leaf_tree = paths.leaf[live], paths.tree[live]
        self.n_vars = self.n_p + len(self.leaf) + (1 if self.norm == "linf" else len(self.x))
        anc, side = paths.ancestor[live], paths.side[live]
        free = (anc >= 0) & (st[live] == 0)
        rows, cols = np.nonzero(free)
        self._node_var = var[anc[rows, cols]]
        self._node_key = anc[rows, cols] * 2 + (side[rows, cols] > 0)
        self._node_leaf = rows + self.n_p

    def _base_rows(self) -> None:
        """Tree sums, node consistency, monotone thresholds and the distance rows."""
        rows = _Rows()
        for t in np.unique(self.leaf_tree):
            members = self.n_p + np.flatnonzero(self.leaf_tree == t)
            rows.add(members, np.ones(len(members)), 1.0, 1.0)
        keys, first, inverse = np.unique(self._node_key, return_index=True, return_inverse=True)
        for i, key in enumerate(keys):
            members = self._node_leaf[inverse == i]
            p = int(self._node_var[first[i]])
            if key % 2:  # left subtree: sum <= p
                rows.add([*members, p], [*np.ones(len(members)), -1.0], -np.inf, 0.0)
            else:  # right subtree: sum <= 1 - p
                rows.add([*members, p], np.ones(len(members) + 1), -np.inf, 1.0)
        dist0 = self.n_p + len(self.leaf)
        for j, cells in enumerate(self.cells):
            base = int(self.offset[j])
            for k in range(int(self.offset[j + 1] - base)):
                if k:
                    rows.add([base + k - 1, base + k], [1.0, -1.0], -np.inf, 0.0)
                self._distance_row(
                    rows, cells, k, base + k, dist0 + (0 if self.norm == "linf" else j)
                )
        self._rows = rows

    def _distance_row(self, rows: _Rows, cells: Cells, k: int, p: int, dist: int) -> None:
        """Threshold ``k`` of the feature's free ones: crossing it costs the cell's cost."""
        if cells.index[k] >= cells.here:  # now x <= t: p = 0 moves up into cell k + 1
            cost = float(cells.cost[k + 1])
            rows.add([dist, p], [1.0, cost], cost, np.inf)
        else:  # now x > t: p = 1 moves down into cell k
            cost = float(cells.cost[k])
            rows.add([dist, p], [1.0, -cost], 0.0, np.inf)

    def solve(
        self,
        gain: Floats,
        need: float,
        *,
        upper: float,
        cuts: list[Ints],
        minimize: bool,
        time_limit: float,
    ) -> Outcome:
        """Find cells where ``sum(gain[leaf]) >= need`` within distance ``upper``."""
        rows = _Rows(
            list(self._rows.cols), list(self._rows.vals), list(self._rows.lo), list(self._rows.hi)
        )
        if len(self.leaf):
            rows.add(self.n_p + np.arange(len(self.leaf)), gain[self.leaf], need, np.inf)
        elif need > 0:
            return Outcome("infeasible", bound=np.inf)
        for cut in cuts:
            rows.add(cut, np.ones(len(cut)), -np.inf, len(cut) - 1.0)
        dist0 = self.n_p + len(self.leaf)
        if upper < np.inf and self.norm == "l1":
            rows.add(np.arange(dist0, self.n_vars), np.ones(self.n_vars - dist0), -np.inf, upper)
        cost = np.zeros(self.n_vars)
        cost[dist0:] = 1.0 if minimize else 0.0
        ub = np.ones(self.n_vars)
        ub[dist0:] = upper
        integrality = np.zeros(self.n_vars)
        integrality[: self.n_p] = 1
        if not rows.cols:
            return self._outcome(np.zeros(self.n_vars), "optimal", 0.0)
        res = milp(
            cost,
            integrality=integrality,
            bounds=Bounds(np.zeros(self.n_vars), ub),
            constraints=rows.matrix(self.n_vars),
            options={"time_limit": max(time_limit, 1e-3), "mip_rel_gap": _GAP, "disp": False},
        )
        bound = getattr(res, "mip_dual_bound", None)
        bound = 0.0 if bound is None or not np.isfinite(bound) else float(bound)
        if res.status == 2:
            return Outcome("infeasible", bound=np.inf)
        if res.x is None:
            return Outcome("unknown", bound=bound)
        return self._outcome(res.x, "optimal" if res.status == 0 else "feasible", bound)

    def _outcome(self, sol: Floats, status: Status, bound: float) -> Outcome:
        p = np.round(sol[: self.n_p]).astype(np.int64)
        cell = np.array(
            [
                self._lo[j] + int((p[self.offset[j] : self.offset[j + 1]] == 0).sum())
                for j in range(len(self.x))
            ]
        )
        used = sol[self.n_p : self.n_p + len(self.leaf)]
        leaves = np.array(
            [
                self.n_p
                + int(np.flatnonzero(self.leaf_tree == t)[np.argmax(used[self.leaf_tree == t])])
                for t in np.unique(self.leaf_tree)
            ],
            dtype=np.int64,
        )
        return Outcome(status, cell, leaves, bound)

    def point(self, cell: Ints) -> tuple[Floats, float]:
        """The canonical point of the chosen cells and its distance from the clean sample."""
        picks = [int(np.searchsorted(c.index, i)) for c, i in zip(self.cells, cell, strict=True)]
        x = np.array([c.point[k] for c, k in zip(self.cells, picks, strict=True)])
        costs = np.array([c.cost[k] for c, k in zip(self.cells, picks, strict=True)])
        return x, float(costs.max() if self.norm == "linf" else costs.sum())
