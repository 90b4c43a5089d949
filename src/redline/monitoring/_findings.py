"""One finding per column pair: the test, effect size with a bootstrap interval, PSI and
the distributions to draw. Columns that cannot be tested (all missing, constant on both
sides) become findings that say so, never errors."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from redline.monitoring._columns import OTHER, CategoricalColumn, NumericColumn
from redline.monitoring._univariate import (
    GRID,
    TestOutcome,
    chi2_test,
    cvm_test,
    ks_test,
    psi_categorical,
    psi_numeric,
    sorted_quantiles,
    tvd,
    wasserstein_normalised,
)
from redline.results import Distribution, DriftFinding, Effect, Interval

__all__ = ["Context", "categorical_finding", "missing_finding", "numeric_finding"]

BOOTSTRAP_ROWS = 20_000
"""Draws per bootstrap replicate at most (a larger window gets a wider, safe interval)."""
_LEVELS = np.linspace(0.0, 1.0, 21)
_TOP = 12
"""Categories drawn per categorical column (the rest are one bar)."""


@dataclass(frozen=True)
class Context:
    """Settings every finding of a run shares."""

    numeric_test: str
    thresholds: dict[str, float]
    bootstrap: int
    rng: np.random.Generator
    slice: str | None = None
    kind: str | None = None
    """Override of the finding kind (prediction and confidence columns)."""


def _untested(
    name: str, ctx: Context, kind: str, ref_n: int, cur_n: int, note: str
) -> DriftFinding:
    return DriftFinding(
        feature=name, slice=ctx.slice, kind=ctx.kind or kind, test="none",  # type: ignore[arg-type]
        status="not-tested", reference_n=ref_n, current_n=cur_n, note=note,
    )  # fmt: skip


def _percentile(values: list[float]) -> Interval | None:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    low, high = np.percentile(finite, [2.5, 97.5])
    return Interval(low=float(low), high=float(high))


def _wasserstein_ci(ref: NumericColumn, cur: NumericColumn, ctx: Context) -> Interval | None:
    """Percentile interval of the normalised Wasserstein distance over bootstrap
    resamples of both windows (the same quantile-grid estimator as the point value)."""
    if ctx.bootstrap <= 0 or ref.moments.std <= 0:
        return None
    n, m = min(ref.count, BOOTSTRAP_ROWS), min(cur.count, BOOTSTRAP_ROWS)
    per = max(1, 4_000_000 // max(n, m))  # replicates per block: bounded memory
    draws: list[float] = []
    while len(draws) < ctx.bootstrap:
        b = min(per, ctx.bootstrap - len(draws))
        qa = sorted_quantiles(np.sort(ref.sample(b * n, ctx.rng).reshape(b, n), axis=1), GRID)
        qb = sorted_quantiles(np.sort(cur.sample(b * m, ctx.rng).reshape(b, m), axis=1), GRID)
        draws += list(np.abs(qa - qb).mean(axis=1) / ref.moments.std)
    return _percentile(draws)


def numeric_finding(ref: NumericColumn, cur: NumericColumn, ctx: Context) -> DriftFinding:
    """KS (or CvM) with the normalised Wasserstein distance as effect size."""
    name = cur.name
    if ref.count == 0 or cur.count == 0:
        side = "reference" if ref.count == 0 else "current window"
        return _untested(
            name, ctx, "numeric", ref.count, cur.count, f"every value is missing in the {side}"
        )
    m_ref, m_cur = ref.moments, cur.moments
    if m_ref.std == 0 and m_cur.std == 0 and m_ref.mean == m_cur.mean:
        return _untested(
            name, ctx, "numeric", ref.count, cur.count, f"constant ({m_ref.mean:g}) in both windows"
        )
    outcome: TestOutcome = ks_test(ref, cur)
    note = None
    if ctx.numeric_test == "cvm":
        cvm = cvm_test(ref, cur)
        if cvm is None:
            note = "Cramér-von Mises needs exact summaries: KS on the sketches instead"
        else:
            outcome = cvm
    if m_ref.std == 0:
        note = f"constant ({m_ref.mean:g}) in the reference: any spread is a change"
    value = wasserstein_normalised(ref, cur)
    effect = Effect(name="wasserstein", value=value, ci=_wasserstein_ci(ref, cur, ctx),
                    threshold=ctx.thresholds["wasserstein"])  # fmt: skip
    dist = Distribution(
        quantiles=_list(cur.quantiles(_LEVELS)), reference_quantiles=_list(ref.quantiles(_LEVELS))
    )
    return DriftFinding(
        feature=name, slice=ctx.slice, kind=ctx.kind or "numeric", test=outcome.test,  # type: ignore[arg-type]
        statistic=outcome.statistic, p_value=outcome.p_value, effect=effect,
        psi=psi_numeric(ref, cur), status="stable", exact=outcome.exact,
        reference_n=ref.count, current_n=cur.count, note=note, distribution=dist,
    )  # fmt: skip


def _list(values: npt.NDArray[np.float64]) -> list[float]:
    return [float(v) for v in values]


def _tvd_ci(ref: CategoricalColumn, cur: CategoricalColumn, ctx: Context) -> Interval | None:
    if ctx.bootstrap <= 0:
        return None
    keys = sorted(set(ref.counts) | set(cur.counts))
    p = np.array([ref.counts.get(k, 0) for k in keys], float)
    q = np.array([cur.counts.get(k, 0) for k in keys], float)
    a = ctx.rng.multinomial(int(p.sum()), p / p.sum(), size=ctx.bootstrap) / p.sum()
    b = ctx.rng.multinomial(int(q.sum()), q / q.sum(), size=ctx.bootstrap) / q.sum()
    return _percentile(list(0.5 * np.abs(a - b).sum(axis=1)))


def _shares(ref: CategoricalColumn, cur: CategoricalColumn) -> Distribution:
    keys = sorted(
        set(ref.counts) | set(cur.counts),
        key=lambda k: -(ref.counts.get(k, 0) + cur.counts.get(k, 0)),
    )
    shown = keys[:_TOP]

    def share(col: CategoricalColumn, key: str | None) -> float:
        total = max(col.count, 1)
        if key is None:
            return sum(v for k, v in col.counts.items() if k not in shown) / total
        return col.counts.get(key, 0) / total

    rest = len(keys) > _TOP
    labels = [("other" if k == OTHER else k) for k in shown] + (["(the rest)"] if rest else [])
    picks: list[str | None] = [*shown, *([None] if rest else [])]
    return Distribution(categories=labels, shares=[share(cur, k) for k in picks],
                        reference_shares=[share(ref, k) for k in picks])  # fmt: skip


def categorical_finding(
    ref: CategoricalColumn, cur: CategoricalColumn, ctx: Context
) -> DriftFinding:
    """Chi-squared with the total variation distance as effect size; unseen categories."""
    name = cur.name
    if ref.count == 0 or cur.count == 0:
        side = "reference" if ref.count == 0 else "current window"
        return _untested(
            name, ctx, "categorical", ref.count, cur.count, f"every value is missing in the {side}"
        )
    unseen = sorted(k for k in cur.counts if k not in ref.counts and k != OTHER)
    if len(ref.counts) == 1 and ref.counts.keys() == cur.counts.keys():
        return _untested(
            name, ctx, "categorical", ref.count, cur.count, "a single category in both windows"
        )
    outcome = chi2_test(ref, cur)
    effect = Effect(
        name="tvd", value=tvd(ref, cur), ci=_tvd_ci(ref, cur, ctx), threshold=ctx.thresholds["tvd"]
    )
    note = f"{len(unseen)} categories the reference never had" if unseen else None
    return DriftFinding(
        feature=name, slice=ctx.slice, kind=ctx.kind or "categorical", test=outcome.test,  # type: ignore[arg-type]
        statistic=outcome.statistic, p_value=outcome.p_value, effect=effect,
        psi=psi_categorical(ref, cur), status="stable", exact=outcome.exact,
        reference_n=ref.count, current_n=cur.count, unseen=unseen[:20], note=note,
        distribution=_shares(ref, cur),
    )  # fmt: skip


def missing_finding(
    name: str, ref: tuple[int, int], cur: tuple[int, int], ctx: Context
) -> DriftFinding | None:
    """The share of missing values, ``(missing, total)`` per window, tested with a
    two-proportion chi-squared (None when neither window misses a value)."""
    (a, n), (b, m) = ref, cur
    if a == 0 and b == 0:
        return None
    if n == 0 or m == 0:
        return None
    table = np.array([[a, n - a], [b, m - b]], float)
    if (table.sum(axis=0) == 0).any():
        p_value, statistic = 1.0, 0.0
    else:
        found = stats.chi2_contingency(table, correction=False)
        p_value, statistic = float(found.pvalue), float(found.statistic)
    diff = abs(b / m - a / n)
    se = math.sqrt(max(a / n * (1 - a / n) / n + b / m * (1 - b / m) / m, 0.0))
    ci = (
        Interval(low=max(0.0, diff - 1.96 * se), high=diff + 1.96 * se)
        if ctx.bootstrap > 0
        else None
    )
    effect = Effect(
        name="missing-share", value=diff, ci=ci, threshold=ctx.thresholds["missing-share"]
    )
    return DriftFinding(
        feature=f"{name} (missing)", slice=ctx.slice, kind="missing", test="two-proportion",
        statistic=statistic, p_value=p_value, effect=effect, status="stable",
        reference_n=n, current_n=m, note=f"missing {a / n:.1%} in the reference, {b / m:.1%} now",
    )  # fmt: skip
