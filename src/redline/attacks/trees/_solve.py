"""The exact minimal adversarial example of a tree ensemble, sample by sample."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from redline.attacks.trees._grid import Cells, Grid, Threat, down32, up32
from redline.attacks.trees._milp import Outcome, SampleProblem
from redline.attacks.trees._paths import Paths
from redline.errors import InputError
from redline.targets import TreeEnsemble

__all__ = ["Predict", "TreeSolution", "ensemble_predict", "solve_exact"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Predict = Callable[[Floats], Ints]
"""Labels of a batch of points, as the target decides them (the final word on success)."""

_TAU = 1e-6
"""Class-score tolerance (relative to the scores' range) of the class row: near-ties that
float32 logits may decide either way stay candidates, checked on the target and cut."""
_MAX_CUTS = 50
"""Near-tie leaf tuples cut per sample and class before giving up (status unknown)."""


@dataclass(frozen=True)
class TreeSolution:
    """Per sample: the example found, its distance (inf: none), a proved lower bound on
    the distance of any adversarial example within the threat (inf: none exists), and a
    status.

    ``optimal``: the distance is the minimum (to HiGHS' relative gap of 1e-6);
    ``feasible``: adversarial within the threat, minimality not proved (time limit, or
    eps given without asking for the minimum); ``robust``: proved that no adversarial
    example exists within the threat (eps ball, bounds, immutables); ``unknown``: the time
    limit (or the near-tie cuts) ran out before an answer. Distances and bounds are exact
    on the float32 grid the attacks use: a crossing goes a few ulps past its threshold.
    """

    x_adv: Floats
    distance: Floats
    lower_bound: Floats
    status: npt.NDArray[np.str_]
    eps: float | None

    @property
    def exact(self) -> npt.NDArray[np.bool_]:
        """Whether the threat's question is answered exactly: with eps, "is there an
        adversarial example within eps"; without, "what is the minimal distance"."""
        if self.eps is None:
            out: npt.NDArray[np.bool_] = np.isin(self.status, ("optimal", "robust"))
            return out
        return np.asarray(self.status != "unknown", bool)


def ensemble_predict(ensemble: TreeEnsemble) -> Predict:
    """Labels exactly as :class:`TreeTarget` gives them (argmax of float32 logits)."""

    def predict(points: Floats) -> Ints:
        labels: Ints = np.argmax(ensemble.logits(points).astype(np.float32), axis=1)
        return labels.astype(np.int64)

    return predict


def solve_exact(
    ensemble: TreeEnsemble,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    norm: Literal["linf", "l1"] = "linf",
    eps: float | None = None,
    threat: Threat | None = None,
    time_limit: float = 10.0,
    minimize: bool = True,
    predict: Predict | None = None,
    incumbent: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> TreeSolution:
    """Solve each sample's MILP for every other class; keep the closest verified example.

    ``incumbent``: adversarial examples already known (e.g. from the greedy search) and
    their distances (inf: none); the search then only looks closer than them, which
    prunes most of each program, and falls back on them when nothing closer exists.
    """
    if norm not in ("linf", "l1"):
        raise InputError(f"the exact tree attack supports norms linf and l1, got {norm!r}")
    pts = np.asarray(x, np.float32).astype(np.float64)
    labels = np.asarray(y, np.int64).reshape(-1)
    if pts.ndim != 2 or len(pts) != len(labels):
        raise InputError(f"expected x (n, features) and y (n,), got {pts.shape}, {labels.shape}")
    threat = threat or Threat.of(ensemble.n_features, (-np.inf, np.inf))
    predict = predict or ensemble_predict(ensemble)
    low, high = threat.box(ensemble.inputs(pts), eps)
    known_x, known_d = pts, np.full(len(pts), np.inf)
    if incumbent is not None:
        known_x = np.asarray(incumbent[0], np.float64).reshape(pts.shape)
        known_d = np.asarray(incumbent[1], np.float64).reshape(len(pts))
        reach = np.where(np.isfinite(known_d), known_d, np.inf)[:, None]
        low, high = np.maximum(low, down32(pts - reach)), np.minimum(high, up32(pts + reach))
    solver = _Solver(ensemble, norm, predict, time_limit, minimize)
    table = solver.grid.table(pts, low, high)
    rows = [
        solver.sample(pts[i], int(labels[i]), [f.row(i) for f in table], (known_x[i], known_d[i]))
        for i in range(len(pts))
    ]
    out = pts.copy()
    for i, row in enumerate(rows):
        out[i] = row[0]
    return TreeSolution(
        x_adv=out,
        distance=np.array([r[1] for r in rows]),
        lower_bound=np.array([r[2] for r in rows]),
        status=np.array([r[3] for r in rows]),
        eps=eps,
    )


class _Solver:
    """The per-ensemble parts (grid, paths, class scores), shared by every sample."""

    def __init__(
        self,
        ensemble: TreeEnsemble,
        norm: Literal["linf", "l1"],
        predict: Predict,
        time_limit: float,
        minimize: bool,
    ) -> None:
        self.ensemble, self.norm, self.predict = ensemble, norm, predict
        self.time_limit, self.minimize = float(time_limit), minimize
        self.grid, self.paths = Grid.of(ensemble), Paths.of(ensemble)
        self.values, self.base = ensemble.class_values()
        reach = np.abs(self.values).max(axis=1)
        per_tree = np.zeros(ensemble.n_trees)
        np.maximum.at(per_tree, self.paths.tree, reach[self.paths.leaf])
        self.tau = _TAU * max(1.0, float(np.abs(self.base).max() + per_tree.sum()))

    def sample(
        self, x: Floats, y: int, cells: list[Cells], known: tuple[Floats, float]
    ) -> tuple[Floats, float, float, str]:
        """``(x_adv, distance, lower bound, status)`` of one sample."""
        if self.predict(x[None])[0] != y:
            return x, 0.0, 0.0, "optimal"
        problem = SampleProblem(self.grid, self.paths, self.ensemble.feature, x, cells, self.norm)
        scores = self.base + self.values[self.ensemble.leaves(x[None])[0]].sum(axis=0)
        order = [int(c) for c in np.argsort(-scores, kind="stable") if c != y]
        deadline = time.perf_counter() + self.time_limit
        best_x, best = known if known[1] < np.inf else (x, np.inf)
        lower = np.inf
        for c in order:
            found, bound = self._class(problem, y, c, best, deadline)
            if found is not None and found[1] < best:
                best_x, best = found
            lower = min(lower, bound)
            if best < np.inf and not self.minimize:
                break
        return best_x, best, *_verdict(best, lower, self.minimize)

    def _class(
        self, problem: SampleProblem, y: int, c: int, best: float, deadline: float
    ) -> tuple[tuple[Floats, float] | None, float]:
        """The closest verified example of class ``c`` closer than ``best``, and a lower
        bound on the distance of any example of class ``c`` (``best`` once none is closer)."""
        gain = self.values[:, c] - self.values[:, y]
        const = self.base[c] - self.base[y] + gain[problem.fixed_leaves].sum()
        cuts: list[Ints] = []
        while len(cuts) <= _MAX_CUTS:
            left = deadline - time.perf_counter()
            if left <= 0:
                return None, 0.0
            out: Outcome = problem.solve(
                gain,
                -self.tau - const,
                upper=best,
                cuts=cuts,
                minimize=self.minimize,
                time_limit=left,
            )
            if out.status == "infeasible":
                return None, best
            if out.cell is None or out.leaves is None:
                return None, out.bound
            point, dist = problem.point(out.cell)
            if self.predict(point[None])[0] != y:
                exact = out.status == "optimal" and self.minimize
                return (point, dist), dist if exact else min(out.bound, dist)
            cuts.append(out.leaves)
        return None, 0.0


def _verdict(best: float, lower: float, minimize: bool) -> tuple[float, str]:
    """Lower bound and status from the best distance found and the classes' bounds."""
    if best == np.inf:
        return lower, "robust" if lower == np.inf else "unknown"
    if minimize and lower >= best * (1 - 1e-6) - 1e-12:
        return best, "optimal"
    return min(lower, best), "feasible"
