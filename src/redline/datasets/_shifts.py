"""Natural shifts of tabular data: feature noise, missing values, quantile shifts.

Each takes a 2-D array ``(n_samples, n_features)`` and returns a shifted copy (float, same
dtype when it is a float one); ``reference`` is the data the scales come from (the
training set, or the clean evaluation set). ``kinds`` names each column's type so that no
shift writes a value the column cannot hold: ``continuous`` columns move freely,
``integer`` ones are rounded after a move, ``binary`` and ``categorical`` ones are never
noised (a quantile shift refuses categorical codes, which have no order).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

import numpy as np
import numpy.typing as npt

from redline.datasets._schema_model import ColumnKind
from redline.errors import InputError

__all__ = [
    "FEATURE_KINDS",
    "Table",
    "as_table",
    "check_kinds",
    "gaussian_feature_noise",
    "missing_values",
    "quantile_shift",
    "reference_table",
]

FEATURE_KINDS: tuple[str, ...] = get_args(ColumnKind)
"""The column kinds of the feature schema: continuous, integer, binary, categorical."""
Table = npt.NDArray[np.floating[Any]]


def as_table(x: Any, name: str) -> Table:
    """``x`` as a float 2-D array (a copy; float dtypes kept, others become float64)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise InputError(f"{name} must be 2-D (samples, features), got shape {arr.shape}")
    out: Table = arr.astype(arr.dtype if arr.dtype.kind == "f" else np.float64, copy=True)
    if np.isinf(out).any():
        raise InputError(f"{name} has infinite values")
    return out


def reference_table(reference: Any, n_features: int) -> Table:
    ref = as_table(reference, "reference")
    if ref.shape[1] != n_features:
        raise InputError(f"reference has {ref.shape[1]} features but the data has {n_features}")
    empty = np.flatnonzero(np.isnan(ref).all(axis=0))
    if len(ref) == 0 or len(empty):
        raise InputError(f"reference has no values in feature(s) {empty.tolist()}")
    return ref


def check_kinds(kinds: Sequence[str] | None, n_features: int) -> tuple[str, ...]:
    """One known kind per column (``None``: all continuous), else :class:`InputError`."""
    if kinds is None:
        return ("continuous",) * n_features
    out = tuple(kinds)
    if len(out) != n_features:
        raise InputError(f"kinds names {len(out)} columns but the data has {n_features}")
    unknown = sorted({k for k in out if k not in FEATURE_KINDS})
    if unknown:
        raise InputError(f"unknown feature kind(s) {unknown}; known: {', '.join(FEATURE_KINDS)}")
    return out


def _features(features: int | Sequence[int] | None, n_features: int) -> list[int]:
    """Column indices (``None``: all), each checked to exist."""
    chosen = list(range(n_features)) if features is None else np.atleast_1d(features).tolist()
    for j in chosen:
        if isinstance(j, bool) or not isinstance(j, int) or not -n_features <= j < n_features:
            raise InputError(f"feature {j!r} does not exist (the data has {n_features})")
    return sorted({j % n_features for j in chosen})


def gaussian_feature_noise(
    x: Any,
    scale: float,
    *,
    reference: Any,
    kinds: Sequence[str] | None = None,
    features: int | Sequence[int] | None = None,
    seed: int = 0,
    clip: bool = False,
) -> Table:
    """Add ``N(0, (scale * sigma_j)^2)`` to each value of feature ``j``, where ``sigma_j``
    is the reference's standard deviation (``ddof=0``, NaN ignored), so ``scale`` is in
    standard deviations. Integer columns are rounded after, binary and categorical ones
    left alone; ``clip`` keeps each column inside the reference's [min, max]. NaN stays."""
    out = as_table(x, "data")
    ref = reference_table(reference, out.shape[1])
    if not np.isfinite(scale) or scale < 0:
        raise InputError(f"noise scale must be >= 0 standard deviations, got {scale}")
    kind = check_kinds(kinds, out.shape[1])
    rng = np.random.default_rng(seed)
    for j in _features(features, out.shape[1]):
        if kind[j] not in ("continuous", "integer"):
            continue
        col = out[:, j] + scale * float(np.nanstd(ref[:, j])) * rng.standard_normal(len(out))
        if clip:
            col = np.clip(col, np.nanmin(ref[:, j]), np.nanmax(ref[:, j]))
        out[:, j] = np.rint(col) if kind[j] == "integer" else col
    return out


def missing_values(
    x: Any, rate: float, *, features: int | Sequence[int] | None = None, seed: int = 0
) -> Table:
    """Set ``round(rate * n)`` values of each chosen feature (``None``: all) to NaN, the
    rows drawn per feature: the input of a model's own missing-value handling."""
    out = as_table(x, "data")
    if not 0.0 <= rate <= 1.0:
        raise InputError(f"missing-value rate must be in [0, 1], got {rate}")
    rng = np.random.default_rng(seed)
    count = round(rate * len(out))
    for j in _features(features, out.shape[1]):
        out[rng.choice(len(out), size=count, replace=False), j] = np.nan
    return out


def _levels(values: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], ...]:
    """Distinct sorted reference values and their quantile levels (tied values share the
    mean level of their positions), the inverse of numpy's linear quantile."""
    ordered = np.sort(values)
    positions = np.linspace(0.0, 1.0, len(ordered)) if len(ordered) > 1 else np.array([0.5])
    distinct, first, counts = np.unique(ordered, return_index=True, return_counts=True)
    cumulative = np.concatenate([[0.0], np.cumsum(positions)])
    mean_level = (cumulative[first + counts] - cumulative[first]) / counts
    return distinct, mean_level, ordered


def quantile_shift(
    x: Any,
    feature: int,
    delta: float,
    *,
    reference: Any,
    kinds: Sequence[str] | None = None,
) -> Table:
    """Move each value of one feature from its quantile level ``q`` in the reference to
    the reference's ``q + delta`` quantile (clipped to [0, 1]; ``delta`` in [-1, 1]).

    Levels follow numpy's linear quantile (values outside the reference's range count as
    level 0 or 1); integer and binary columns are rounded after, categorical ones refused.
    """
    out = as_table(x, "data")
    ref = reference_table(reference, out.shape[1])
    (j,) = _features(feature, out.shape[1])
    kind = check_kinds(kinds, out.shape[1])[j]
    if kind == "categorical":
        raise InputError(f"feature {j} is categorical: its codes have no order to shift along")
    if not -1.0 <= delta <= 1.0:
        raise InputError(f"quantile shift delta must be in [-1, 1], got {delta}")
    col = ref[:, j].astype(np.float64)
    distinct, level, ordered = _levels(col[~np.isnan(col)])
    values = out[:, j].astype(np.float64)
    known = ~np.isnan(values)
    target = np.clip(np.interp(values[known], distinct, level) + delta, 0.0, 1.0)
    moved = np.quantile(ordered, target)
    values[known] = moved if kind == "continuous" else np.rint(moved)
    out[:, j] = values
    return out
