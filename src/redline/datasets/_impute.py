"""Fill missing values for a model that cannot take NaN, and say that it was done.

A missing-value shift measures the model's own handling of NaN (trees and gradient
boosting route them). A model that raises on NaN can only be evaluated behind an imputer,
and then the number measures the imputer as much as the model: :class:`Imputation`
carries that note with the filled data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from redline.datasets._shifts import Table, as_table, check_kinds, reference_table
from redline.errors import InputError

__all__ = ["IMPUTE_STRATEGIES", "Imputation", "ImputeStrategy", "impute"]

ImputeStrategy = Literal["mean", "median", "most_frequent", "constant"]
IMPUTE_STRATEGIES: tuple[str, ...] = get_args(ImputeStrategy)


@dataclass(frozen=True)
class Imputation:
    """Data with its NaN filled: ``fill_values[j]`` went into column ``j``; ``n_filled``
    values were filled out of ``n_values``; ``mode_columns`` are the binary and
    categorical columns that took their most frequent value instead of a mean or median."""

    x: Table
    strategy: str
    fill_values: npt.NDArray[np.float64]
    n_filled: int
    n_values: int
    mode_columns: tuple[int, ...] = ()

    def describe(self) -> str:
        """One line for a report: what was filled, how, and what it means."""
        share = self.n_filled / self.n_values if self.n_values else 0.0
        if self.strategy == "constant":
            how = f"the constant {self.fill_values[0]:g}"
        else:
            how = f"the reference's {self.strategy.replace('_', ' ')} per feature"
        if self.mode_columns:
            how += f" (most frequent value in the {len(self.mode_columns)} binary/categorical)"
        return (
            f"{self.n_filled} missing values ({share:.1%}) filled with {how} because the "
            "model cannot take NaN: the result measures this imputer as much as the model"
        )


def _mode(values: npt.NDArray[np.float64]) -> float:
    """Most frequent value (the smallest of equally frequent ones)."""
    distinct, counts = np.unique(values, return_counts=True)
    return float(distinct[np.argmax(counts)])


def _fill_value(column: npt.NDArray[np.float64], kind: str, strategy: str) -> float:
    values = column[~np.isnan(column)]
    if strategy == "most_frequent" or kind in ("binary", "categorical"):
        return _mode(values)
    value = float(np.mean(values) if strategy == "mean" else np.median(values))
    return float(np.rint(value)) if kind == "integer" else value


def impute(
    x: Any,
    strategy: str = "median",
    *,
    reference: Any = None,
    kinds: Sequence[str] | None = None,
    fill_value: float | None = None,
) -> Imputation:
    """Fill every NaN in ``x`` per column from the reference (NaN in it ignored): its mean
    or median (rounded for integer columns), its most frequent value (always so for binary
    and categorical columns), or ``fill_value`` for ``strategy="constant"`` (no reference
    needed)."""
    out = as_table(x, "data")
    if strategy not in IMPUTE_STRATEGIES:
        raise InputError(
            f"unknown imputation strategy {strategy!r}; known: {', '.join(IMPUTE_STRATEGIES)}"
        )
    if strategy == "constant" and (fill_value is None or not np.isfinite(fill_value)):
        raise InputError("the constant imputation strategy needs a finite fill_value")
    kind = check_kinds(kinds, out.shape[1])
    missing = np.isnan(out)
    by_mode: tuple[int, ...] = ()
    if strategy == "constant":
        fills = np.full(out.shape[1], float(fill_value))  # type: ignore[arg-type]
    elif reference is None:
        raise InputError(f"the {strategy} imputation strategy needs a reference set")
    else:
        ref = reference_table(reference, out.shape[1]).astype(np.float64)
        fills = np.array([_fill_value(ref[:, j], kind[j], strategy) for j in range(ref.shape[1])])
        if strategy != "most_frequent":
            by_mode = tuple(j for j, k in enumerate(kind) if k in ("binary", "categorical"))
    out[missing] = np.broadcast_to(fills, out.shape)[missing]
    return Imputation(out, strategy, fills, int(missing.sum()), int(out.size), by_mode)
