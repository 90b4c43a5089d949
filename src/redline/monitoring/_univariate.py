"""Two-sample tests and effect sizes on column summaries: Kolmogorov-Smirnov and
Cramér-von Mises for numeric columns, chi-squared for categorical ones, PSI, a
normalised Wasserstein distance and total variation as effect sizes.

Exact summaries get scipy's tests. A KLL-sketched summary gets the KS statistic read off
both CDFs, **minus** both sketches' rank errors before the p-value, so sketch error can
never create significance (it can only cost power, at sizes where power is not lacking)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from redline.monitoring._columns import OTHER, CategoricalColumn, NumericColumn

__all__ = [
    "GRID",
    "TestOutcome",
    "chi2_test",
    "cvm_test",
    "ks_test",
    "psi_categorical",
    "psi_numeric",
    "tvd",
    "wasserstein_normalised",
]

Floats = npt.NDArray[np.float64]
GRID = np.linspace(0.0005, 0.9995, 1000)
"""Quantile levels for Wasserstein distances read off summaries."""
_PSI_FLOOR = 1e-4
"""Smallest share in a PSI bin (an empty bin would make the index infinite)."""


@dataclass(frozen=True)
class TestOutcome:
    """A test's statistic and p-value; ``exact`` is False when read off a sketch."""

    test: str
    statistic: float
    p_value: float
    exact: bool


def ks_test(ref: NumericColumn, cur: NumericColumn) -> TestOutcome:
    """Two-sample Kolmogorov-Smirnov (exact summaries: scipy's; sketches: conservative)."""
    if ref.exact and cur.exact:
        found = stats.ks_2samp(ref._sorted(), cur._sorted())
        return TestOutcome("ks", float(found.statistic), float(found.pvalue), True)
    points = np.union1d(ref.support(), cur.support())
    d = float(np.max(np.abs(ref.cdf(points) - cur.cdf(points))))
    adjusted = max(0.0, d - ref.rank_error - cur.rank_error)
    en = ref.count * cur.count / (ref.count + cur.count)
    p = float(stats.kstwobign.sf(adjusted * math.sqrt(en))) if adjusted > 0 else 1.0
    return TestOutcome("ks", d, min(1.0, p), False)


def cvm_test(ref: NumericColumn, cur: NumericColumn) -> TestOutcome | None:
    """Two-sample Cramér-von Mises on exact summaries (None on sketches)."""
    if not (ref.exact and cur.exact):
        return None
    found = stats.cramervonmises_2samp(ref._sorted(), cur._sorted())
    return TestOutcome("cvm", float(found.statistic), float(found.pvalue), True)


def _pooled_table(ref: CategoricalColumn, cur: CategoricalColumn) -> tuple[list[str], Floats]:
    """The 2 x k table of counts, categories with an expected count below 5 pooled."""
    keys = sorted(set(ref.counts) | set(cur.counts))
    table = np.array(
        [[ref.counts.get(k, 0) for k in keys], [cur.counts.get(k, 0) for k in keys]], float
    )
    total = table.sum()
    expected = table.sum(axis=0) * min(table.sum(axis=1)) / max(total, 1.0)
    small = expected < 5
    if small.any() and (~small).any():
        pooled = table[:, small].sum(axis=1, keepdims=True)
        table = np.hstack([table[:, ~small], pooled])
        keys = [k for k, s in zip(keys, small, strict=True) if not s] + [OTHER]
    return keys, table


def chi2_test(ref: CategoricalColumn, cur: CategoricalColumn) -> TestOutcome:
    """Chi-squared test of homogeneity of the category frequencies (rare ones pooled)."""
    _, table = _pooled_table(ref, cur)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return TestOutcome("chi2", 0.0, 1.0, True)
    found = stats.chi2_contingency(table, correction=False)
    return TestOutcome(
        "chi2", float(found.statistic), float(found.pvalue), not (ref.pooled or cur.pooled)
    )


def _shares(column: CategoricalColumn, keys: list[str]) -> Floats:
    counts = np.array([column.counts.get(k, 0) for k in keys], dtype=np.float64)
    shares: Floats = counts / max(float(counts.sum()), 1.0)
    return shares


def tvd(ref: CategoricalColumn, cur: CategoricalColumn) -> float:
    """Total variation distance between the category frequencies (half the L1 distance)."""
    keys = sorted(set(ref.counts) | set(cur.counts))
    return 0.5 * float(np.abs(_shares(ref, keys) - _shares(cur, keys)).sum())


def _psi(a: Floats, b: Floats) -> float:
    a = np.maximum(a, _PSI_FLOOR)
    b = np.maximum(b, _PSI_FLOOR)
    return float(((b - a) * np.log(b / a)).sum())


def psi_categorical(ref: CategoricalColumn, cur: CategoricalColumn) -> float:
    """Population stability index over the categories."""
    keys = sorted(set(ref.counts) | set(cur.counts))
    return _psi(_shares(ref, keys), _shares(cur, keys))


def psi_numeric(ref: NumericColumn, cur: NumericColumn, bins: int = 10) -> float:
    """Population stability index over the reference's deciles."""
    edges = np.unique(ref.quantiles(np.linspace(0.0, 1.0, bins + 1))[1:-1])
    a = np.diff(np.concatenate([[0.0], ref.cdf(edges), [1.0]]))
    b = np.diff(np.concatenate([[0.0], cur.cdf(edges), [1.0]]))
    return _psi(a, b)


def sorted_quantiles(ordered: Floats, levels: Floats) -> Floats:
    """numpy's linear quantiles of rows already sorted along the last axis (fast for
    many levels: no partition per level)."""
    n = ordered.shape[-1]
    pos = levels * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    out: Floats = ordered[..., lo] * (1 - frac) + ordered[..., hi] * frac
    return out


def wasserstein_normalised(ref: NumericColumn, cur: NumericColumn) -> float:
    """Wasserstein-1 distance between the two distributions over the reference's
    standard deviation: 0.25 for a quarter-sigma shift of the mean, whatever the units."""
    scale = ref.moments.std
    if scale <= 0:
        return 0.0 if cur.moments.std == 0 and cur.moments.mean == ref.moments.mean else math.inf
    return float(np.mean(np.abs(ref.quantiles(GRID) - cur.quantiles(GRID)))) / scale
