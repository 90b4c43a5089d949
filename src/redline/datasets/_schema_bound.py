"""A feature schema fixed to a data set's columns: check data, count violations, project.

``project(x0, x)`` is how every tabular attack stays realistic: it maps any candidate to
one that satisfies the whole schema (kinds, bounds, immutables, directions, budgets,
one-hot groups, relations). Where the straight projection breaks a relation's derived
column, it walks the change back towards ``x0`` until it holds; ``x0`` itself is valid
(the data was checked), so the result always is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from redline.datasets._schema_model import Column, FeatureSchema
from redline.errors import InputError

__all__ = ["BoundSchema", "bind_schema"]

Floats = npt.NDArray[np.float64]
_KIND_CODES = {"continuous": 0, "integer": 1, "binary": 2, "categorical": 3}
_BACKTRACK = 12
"""Halvings of the change tried before a sample falls back to its clean point."""
REL_TOL = 1e-5
"""Relative tolerance of a relation (float32 sums of float64 data)."""


@dataclass(frozen=True)
class BoundSchema:
    """Per-feature arrays in the data's column order (see :func:`bind_schema`)."""

    names: tuple[str, ...]
    kind: npt.NDArray[np.int64]
    low: Floats
    high: Floats
    mutable: npt.NDArray[np.bool_]
    direction: npt.NDArray[np.int64]  # -1 decrease only, 0 any, +1 increase only
    budget: Floats  # inf: no budget beyond the bounds
    codes: tuple[Floats | None, ...]
    groups: tuple[tuple[npt.NDArray[np.int64], bool], ...]  # member indices, immutable
    relations: tuple[tuple[int, npt.NDArray[np.int64], Floats, float], ...]
    source: str

    @property
    def n_features(self) -> int:
        return len(self.names)

    def scale(self) -> Floats:
        """Per-feature unit of the attack space: the budget where finite, else the range,
        else 1 (so that an L-inf ball of radius 1 there is the schema's budget box)."""
        out = np.ones(self.n_features)
        finite_budget = np.isfinite(self.budget) & (self.budget > 0)
        out[finite_budget] = self.budget[finite_budget]
        span = self.high - self.low
        use_span = ~finite_budget & np.isfinite(span)
        out[use_span] = span[use_span]
        return out

    # --- checks --------------------------------------------------------------------

    def check_data(self, x: npt.ArrayLike) -> None:
        """Raise a one-line InputError on the first row that breaks the schema."""
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != self.n_features:
            raise InputError(
                f"{self.source}: the data has shape {arr.shape}, "
                f"the schema {self.n_features} columns"
            )
        for j in range(self.n_features):
            bad = self._column_breaks(arr[:, j], j)
            if bad is not None:
                i, why = bad
                raise InputError(
                    f"{self.source}: row {i}, column {self.names[j]!r}: value {arr[i, j]:g} {why}"
                )
        for members, _ in self.groups:
            wrong = np.flatnonzero(np.abs(arr[:, members].sum(axis=1) - 1) > 1e-9)
            if len(wrong):
                cols = [self.names[m] for m in members]
                raise InputError(
                    f"{self.source}: row {wrong[0]}: one-hot columns {cols} do not sum to 1"
                )
        for t, terms, w, c in self.relations:
            wrong = np.flatnonzero(~_holds(arr, t, terms, w, c))
            if len(wrong):
                raise InputError(
                    f"{self.source}: row {wrong[0]}: relation for {self.names[t]!r} does not hold"
                )

    def _column_breaks(self, col: Floats, j: int) -> tuple[int, str] | None:
        if not np.isfinite(col).all():
            return int(np.flatnonzero(~np.isfinite(col))[0]), "is not finite"
        out = np.flatnonzero((col < self.low[j]) | (col > self.high[j]))
        if len(out):
            return int(out[0]), f"is outside [{self.low[j]:g}, {self.high[j]:g}]"
        if self.kind[j] in (1, 2):
            frac = np.flatnonzero(col != np.round(col))
            if len(frac):
                return int(frac[0]), "is not a whole number"
        codes = self.codes[j]
        if codes is not None:
            off = np.flatnonzero(~np.isin(col, codes))
            if len(off):
                return int(off[0]), f"is not one of the declared values {list(codes)}"
        return None

    def violations(
        self, x0: npt.ArrayLike, x: npt.ArrayLike, *, scale: float = 1.0
    ) -> npt.NDArray[np.int64]:
        """Per sample, how many schema rules ``x`` breaks as a change of ``x0`` (0 = valid),
        with every budget multiplied by ``scale`` (a threat's fraction of the budgets).

        Float32 data is judged with a float32 tolerance on budgets and relations."""
        a0, a = np.asarray(x0, np.float64), np.asarray(x, np.float64)
        tol = 1e-6 * np.maximum(1.0, np.maximum(np.abs(a0), np.abs(a)))  # float32 rounding
        d = a - a0
        bad = (a < self.low - tol) | (a > self.high + tol) | ~np.isfinite(a)
        bad |= ~self.mutable & (np.abs(d) > tol)
        bad |= (self.direction > 0) & (d < -tol)
        bad |= (self.direction < 0) & (d > tol)
        bad |= np.abs(d) > self.budget * scale + tol
        bad |= np.isin(self.kind, (1, 2)) & (np.abs(a - np.round(a)) > tol)
        for j, codes in enumerate(self.codes):
            if codes is not None:
                bad[:, j] |= np.min(np.abs(a[:, j, None] - codes), axis=1) > tol[:, j]
        count: npt.NDArray[np.int64] = bad.sum(axis=1).astype(np.int64)
        for members, _ in self.groups:
            part = a[:, members]
            count += (np.abs(part.sum(axis=1) - 1) > 1e-6) | (
                np.abs(part - np.round(part)) > 1e-6
            ).any(axis=1)
        for t, terms, w, c in self.relations:
            count += ~_holds(a, t, terms, w, c)
        return count

    # --- projection ----------------------------------------------------------------

    def project(self, x0: torch.Tensor, x: torch.Tensor, *, scale: float = 1.0) -> torch.Tensor:
        """A valid point for each candidate (see the module doc); budgets times ``scale``."""
        shape = x.shape
        if not len(x):
            return x
        a0 = x0.detach().reshape(len(x0), -1).double().cpu().numpy()
        a = x.detach().reshape(len(x), -1).double().cpu().numpy()
        budget = self.budget * scale
        out = self._straight(a0, a, budget)
        todo = np.flatnonzero(self.violations(a0, out, scale=scale) > 0)
        t = 1.0
        for _ in range(_BACKTRACK):
            if not len(todo):
                break
            t /= 2
            out[todo] = self._straight(a0[todo], a0[todo] + t * (a[todo] - a0[todo]), budget)
            todo = todo[self.violations(a0[todo], out[todo], scale=scale) > 0]
        out[todo] = a0[todo]
        return torch.as_tensor(out, dtype=x.dtype, device=x.device).reshape(shape)

    def _straight(self, a0: Floats, a: Floats, budget: Floats) -> Floats:
        d = np.where(self.mutable, a - a0, 0.0)
        d = np.where(self.direction > 0, np.maximum(d, 0), d)
        d = np.where(self.direction < 0, np.minimum(d, 0), d)
        d = np.clip(d, -budget, budget)
        lo = np.maximum(self.low, a0 - budget)
        hi = np.minimum(self.high, a0 + budget)
        out = np.clip(a0 + d, lo, hi)
        whole = np.isin(self.kind, (1, 2))
        rounded = np.clip(np.round(out), np.ceil(lo - 1e-9), np.floor(hi + 1e-9))
        out = np.where(whole, rounded, out)
        for j, codes in enumerate(self.codes):
            if codes is not None and self.mutable[j]:
                out[:, j] = codes[np.argmin(np.abs(out[:, j, None] - codes), axis=1)]
        for members, immutable in self.groups:
            part = a0[:, members] if immutable else out[:, members]
            hot = np.zeros_like(part)
            hot[np.arange(len(part)), np.argmax(part, axis=1)] = 1.0
            out[:, members] = hot
        for t, terms, w, c in self.relations:
            out[:, t] = c + out[:, terms] @ w
        return out


def _holds(
    a: Floats, t: int, terms: npt.NDArray[np.int64], w: Floats, c: float
) -> npt.NDArray[np.bool_]:
    rhs = c + a[:, terms] @ w
    return np.abs(a[:, t] - rhs) <= REL_TOL * np.maximum(1.0, np.abs(rhs))


def bind_schema(schema: FeatureSchema, names: Sequence[str], x_ref: npt.ArrayLike) -> BoundSchema:
    """Fix ``schema`` to columns ``names`` (every column declared exactly once) and turn
    standard-deviation budgets into units with the reference data ``x_ref``."""
    index = {n: i for i, n in enumerate(names)}
    declared = [c.name for c in schema.columns] + [m for g in schema.groups for m in g.columns]
    missing = [n for n in names if n not in declared]
    extra = [n for n in declared if n not in index]
    if missing or extra:
        parts = [f"not in the schema: {missing[:5]}"] * bool(missing)
        parts += [f"not in the data: {extra[:5]}"] * bool(extra)
        raise InputError(f"{schema.source}: does not match the data's columns ({'; '.join(parts)})")
    ref = np.asarray(x_ref, dtype=np.float64)
    n = len(names)
    kind, low, high = np.zeros(n, np.int64), np.full(n, -math.inf), np.full(n, math.inf)
    mutable, direction, budget = np.ones(n, bool), np.zeros(n, np.int64), np.full(n, math.inf)
    codes: list[Floats | None] = [None] * n
    for col in schema.columns:
        j = index[col.name]
        kind[j], low[j], high[j] = _KIND_CODES[col.kind], col.low, col.high
        mutable[j] = not col.immutable
        direction[j] = {"any": 0, "increase": 1, "decrease": -1}[col.direction]
        budget[j] = _units(col, ref[:, j] if len(ref) else np.zeros(0))
        codes[j] = None if col.values is None else np.asarray(col.values)
    groups = []
    for g in schema.groups:
        members = np.array([index[m] for m in g.columns], np.int64)
        kind[members], low[members], high[members] = 2, 0.0, 1.0
        mutable[members] = not g.immutable
        groups.append((members, g.immutable))
    relations = []
    for r in schema.relations:
        t = index[r.target]
        terms = np.array([index[c] for c, _ in r.terms], np.int64)
        if not mutable[t]:  # a derived column that may not move freezes its terms
            mutable[terms] = False
        relations.append((t, terms, np.array([w for _, w in r.terms]), r.constant))
    bound = BoundSchema(
        tuple(names), kind, low, high, mutable, direction, budget, tuple(codes),
        tuple(groups), tuple(relations), schema.source,
    )  # fmt: skip
    bound.check_data(ref)
    return bound


def _units(col: Column, ref: Floats) -> float:
    if col.budget is not None:
        return col.budget
    if col.budget_std is not None:
        return col.budget_std * float(ref.std()) if len(ref) else 0.0
    return math.inf
