"""The natural-shift stage for tabular models: Gaussian noise in standard deviations,
missing values through the model's own missing-value path, and quantile shifts, over
every feature at five severities and of each feature alone, ranked by harm.

Shifted rows stay rows the schema allows where nature would keep them so: values are
clipped to each column's bounds, binary, categorical and one-hot columns are never
noised, and a derived column is recomputed from its parts (a pipeline computes a total).
Immutable columns do shift: age is fixed for an attacker, not for a population."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.datasets import BoundSchema, gaussian_feature_noise, impute, missing_values
from redline.datasets._shifts import quantile_shift
from redline.errors import InputError
from redline.evaluation._shift_common import Cell, build_section
from redline.results import Accuracy, FeatureHarm, NaturalShiftSection
from redline.results.metrics import accuracy
from redline.targets import Target, predict_labels

__all__ = ["NOISE_LEVELS", "TabularColumns", "shift_queries", "tabular_shift"]

NOISE_LEVELS = (0.1, 0.25, 0.5, 1.0, 2.0)
"""Severities 1-5 of ``gaussian_noise``: standard deviations of every noised feature."""
MISSING_LEVELS = (0.05, 0.1, 0.2, 0.3, 0.5)
"""Severities 1-5 of ``missing_values``: the share of each feature's values removed."""
QUANTILE_LEVELS = (0.05, 0.1, 0.2, 0.3, 0.5)
"""Severities 1-5 of ``quantile_shift``: quantile levels the most harmful feature moves."""
SINGLE_DELTA = 0.25
"""Quantile shift of each feature alone in the ranking (a quarter of the distribution)."""
_KINDS = ("continuous", "integer", "binary", "categorical")
Floats = npt.NDArray[np.floating[Any]]


def _listed(values: Sequence[float], fmt: str) -> str:
    return ", ".join(format(v, fmt) for v in values)


_DESCRIPTION = (
    f"Gaussian noise of {_listed(NOISE_LEVELS, 'g')} standard deviations on every "
    f"continuous and integer feature; {_listed(MISSING_LEVELS, '.0%')} of every feature's "
    f"values missing; the most harmful feature moved by {_listed(QUANTILE_LEVELS, 'g')} "
    f"quantile levels; each feature alone: noise of 1σ, a ±{SINGLE_DELTA:g} quantile shift "
    "and all values missing. Scales from the reference set's standard deviations and "
    "quantiles; values clipped to the schema's bounds, derived columns recomputed."
)


@dataclass(frozen=True)
class TabularColumns:
    """What the shifts need to know of the columns (from a bound schema, or all
    continuous and unbounded without one)."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    low: Floats
    high: Floats
    relations: tuple[tuple[int, npt.NDArray[np.int64], Floats, float], ...] = ()
    groups: tuple[tuple[int, ...], ...] = ()
    """One-hot groups' member columns."""

    @classmethod
    def of(
        cls, schema: BoundSchema | None, n_features: int, names: Sequence[str] | None = None
    ) -> TabularColumns:
        """From ``schema``, or ``n_features`` continuous unbounded columns named ``names``."""
        if schema is None:
            labels = tuple(names) if names else tuple(f"x{j}" for j in range(n_features))
            inf = np.full(n_features, np.inf)
            return cls(labels, ("continuous",) * n_features, -inf, inf)
        groups = tuple(tuple(int(j) for j in members) for members, _ in schema.groups)
        kinds = tuple(_KINDS[int(k)] for k in schema.kind)
        return cls(schema.names, kinds, schema.low, schema.high, schema.relations, groups)

    def derived(self) -> frozenset[int]:
        """Columns computed from others by a relation."""
        return frozenset(int(t) for t, _, _, _ in self.relations)

    def finish(self, a: Floats, *, recompute: bool = True) -> Floats:
        """Clip to the bounds (NaN kept) and recompute derived columns from their parts."""
        out = np.clip(a, self.low, self.high)
        if recompute:
            for t, terms, w, c in self.relations:
                out[:, t] = c + out[:, terms] @ w
        return out

    def singles(self) -> list[tuple[int, str]]:
        """``(feature, shift)`` pairs of the single-feature ranking."""
        skip = {j for members in self.groups for j in members} | self.derived()
        out = []
        for j, kind in enumerate(self.kinds):
            if j in skip:
                continue
            if kind in ("continuous", "integer"):
                out.append((j, "noise 1σ"))
            if kind != "categorical":
                out += [(j, f"quantile +{SINGLE_DELTA:g}"), (j, f"quantile −{SINGLE_DELTA:g}")]
            out.append((j, "missing"))
        return out


def shift_queries(n: int, columns: TabularColumns) -> int:
    """Rows the stage sends to the model for ``n`` samples (an endpoint's budget check)."""
    rows = len(NOISE_LEVELS) + len(MISSING_LEVELS) + len(QUANTILE_LEVELS)
    return n * (1 + rows + len(columns.singles()))


class _Runner:
    """Runs shifted copies of one table through the model, with its missing-value path."""

    def __init__(self, target: Target, data: tuple[Floats, npt.NDArray[np.int64]],
                 ref: Floats, columns: TabularColumns, batch_size: int) -> None:  # fmt: skip
        self.target, (self.x, self.y), self.ref = target, data, ref
        self.columns, self.batch_size = columns, batch_size
        self.nan_note: str | None = None
        self._nan_native: bool | None = None

    def correct(self, shifted: Floats) -> npt.NDArray[np.bool_]:
        if np.isnan(shifted).any() and not self._native(shifted):
            kinds = self.columns.kinds
            whole = _fill_groups(shifted, self.ref, self.columns.groups)
            filled = impute(whole, "median", reference=self.ref, kinds=kinds).x
            shifted = self.columns.finish(filled)  # a derived column follows its filled parts
        found: npt.NDArray[np.bool_] = (
            predict_labels(self.target, shifted, batch_size=self.batch_size) == self.y
        )
        return found

    def _native(self, shifted: Floats) -> bool:
        """Whether the model takes NaN itself (probed once): if it raises or answers
        non-finite scores, missing values go through a median imputer, said in a note."""
        if self._nan_native is None:
            reason = _nan_refusal(self.target, shifted[: min(len(shifted), 64)])
            self._nan_native = reason is None
            if reason is not None:
                self.nan_note = (
                    f"the model cannot take missing values ({reason}): they were filled with "
                    "the reference's median per feature (most frequent value for binary and "
                    "categorical columns, derived columns recomputed), so these cells "
                    "measure that imputer as much as the model"
                )
        return self._nan_native


def _fill_groups(a: Floats, ref: Floats, groups: tuple[tuple[int, ...], ...]) -> Floats:
    """A one-hot group with any member missing takes the reference's most frequent
    category whole (filling members one by one would leave no 1, or two)."""
    out = a.copy()
    for members in groups:
        cols = list(members)
        hit = np.isnan(out[:, cols]).any(axis=1)
        if hit.any():
            patterns, counts = np.unique(ref[:, cols], axis=0, return_counts=True)
            out[np.ix_(np.flatnonzero(hit), np.asarray(cols))] = patterns[np.argmax(counts)]
    return out


def _nan_refusal(target: Target, probe: Floats) -> str | None:
    """Why ``target`` cannot take NaN rows, or None if it answers finite scores."""
    import torch

    from redline.targets import HttpTarget

    if isinstance(target, HttpTarget):
        return "an endpoint takes JSON, which has no NaN"
    chunk = torch.as_tensor(probe, dtype=torch.float32, device=target.device)
    try:
        logits = target.logits(chunk)
    except Exception as exc:  # any refusal of NaN by the model's own code
        text = str(exc).strip().splitlines()
        return f"{type(exc).__name__}: {text[0][:120] if text else 'no message'}"
    if not bool(torch.isfinite(logits).all()):
        return "its scores come out NaN"
    return None


def _single(runner: _Runner, j: int, name: str, seed: int) -> Floats:
    x, ref, cols = runner.x, runner.ref, runner.columns
    if name == "missing":
        return cols.finish(missing_values(x, 1.0, features=j), recompute=False)
    if name.startswith("noise"):
        noised = gaussian_feature_noise(
            x, 1.0, reference=ref, kinds=cols.kinds, features=j, seed=seed, clip=True
        )
        return cols.finish(noised)
    delta = SINGLE_DELTA if "+" in name else -SINGLE_DELTA
    return cols.finish(quantile_shift(x, j, delta, reference=ref, kinds=cols.kinds))


def _ranking(
    runner: _Runner, clean: Accuracy, seed: int
) -> tuple[list[FeatureHarm], dict[tuple[int, str], float]]:
    found: dict[tuple[int, str], Accuracy] = {}
    for k, (j, name) in enumerate(runner.columns.singles()):
        found[(j, name)] = accuracy(runner.correct(_single(runner, j, name, seed + 1000 + k)))
    harms = []
    for j in dict.fromkeys(j for j, _ in found):
        mine = {name: acc for (i, name), acc in found.items() if i == j}
        worst = min(mine, key=lambda name: mine[name].value)
        harms.append(
            FeatureHarm(
                feature=runner.columns.names[j],
                worst=worst,
                accuracy=mine[worst],
                drop=clean.value - mine[worst].value,
                shifts={name: acc.value for name, acc in mine.items()},
            )
        )
    harms.sort(key=lambda h: (-h.drop, h.feature))
    return harms, {key: acc.value for key, acc in found.items()}


def _quantile_cells(runner: _Runner, found: dict[tuple[int, str], float]) -> list[Cell]:
    """The feature whose quarter-quantile shift hurt most, moved the worse way, at the
    five severities (no cell when no feature has an order)."""
    moves = {key: acc for key, acc in found.items() if key[1].startswith("quantile")}
    if not moves:
        return []
    (j, name) = min(moves, key=lambda key: (moves[key], key[0]))
    sign = 1.0 if "+" in name else -1.0
    cols, label = runner.columns, runner.columns.names[j]
    cells = []
    for s, delta in enumerate(QUANTILE_LEVELS, start=1):
        moved = quantile_shift(runner.x, j, sign * delta, reference=runner.ref, kinds=cols.kinds)
        level = f"{label} {'+' if sign > 0 else '−'}{delta:g}"
        cells.append(Cell("quantile_shift", s, level, runner.correct(cols.finish(moved))))
    return cells


def tabular_shift(
    target: Target,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    schema: BoundSchema | None = None,
    names: Sequence[str] | None = None,
    reference: npt.ArrayLike | None = None,
    groups: npt.NDArray[Any] | None = None,
    seed: int = 0,
    batch_size: int = 1024,
) -> NaturalShiftSection:
    """Accuracy of ``target`` on rows ``x`` (the model's own units) under natural shifts;
    scales come from ``reference`` (the training set; the evaluation rows by default)."""
    table = np.asarray(x, dtype=np.float64)
    if table.ndim != 2:
        raise InputError(f"tabular shifts take rows (n, features), got shape {table.shape}")
    ref = table if reference is None else np.asarray(reference, dtype=np.float64)
    columns = TabularColumns.of(schema, table.shape[1], names)
    labels = np.asarray(y, dtype=np.int64)
    runner = _Runner(target, (table, labels), ref, columns, batch_size)
    clean = runner.correct(table)
    cells = []
    for s, sigma in enumerate(NOISE_LEVELS, start=1):
        noised = gaussian_feature_noise(
            table, sigma, reference=ref, kinds=columns.kinds, seed=seed + s, clip=True
        )
        correct = runner.correct(columns.finish(noised))
        cells.append(Cell("gaussian_noise", s, f"σ {sigma:g}", correct))
    for s, rate in enumerate(MISSING_LEVELS, start=1):
        holes = columns.finish(missing_values(table, rate, seed=seed + 10 + s), recompute=False)
        cells.append(Cell("missing_values", s, f"{rate:.0%}", runner.correct(holes)))
    features, found = _ranking(runner, accuracy(clean), seed)
    cells += _quantile_cells(runner, found)
    notes = {"missing_values": runner.nan_note} if runner.nan_note else {}
    return build_section(
        "tabular",
        clean,
        cells,
        groups=groups,
        seed=seed,
        description=_DESCRIPTION,
        notes=notes,
        features=features,
    )
