"""Drift alarms a team can trust: none without drift, none for a shift that is
significant but negligible, every real shift found and nothing else, joint changes
caught by the multivariate tests, and untestable columns reported, never crashing."""

from __future__ import annotations

import numpy as np
import pytest

from redline.errors import InputError
from redline.monitoring import DriftDetector, Profile, benjamini_hochberg
from redline.monitoring._columns import NumericColumn
from redline.monitoring._univariate import ks_test


def _window(rng: np.random.Generator, n: int, shift: dict[int, float] | None = None,
            cat: list[float] | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    data = {f"n{j}": rng.normal(size=n) + (shift or {}).get(j, 0.0) for j in range(10)}
    for j in range(3):
        p = cat if (cat is not None and j == 0) else [0.4, 0.3, 0.2, 0.1]
        data[f"c{j}"] = rng.choice(list("abcd"), size=n, p=p)
    return data


def _detector(**kw: object) -> DriftDetector:
    return DriftDetector(bootstrap=0, multivariate=False, **kw)  # type: ignore[arg-type]


def test_no_alarm_without_drift_and_fdr_holds() -> None:
    rng = np.random.default_rng(0)
    alarms = significant = 0
    for trial in range(20):
        ref = Profile.from_arrays(_window(rng, 2000), seed=trial)
        cur = Profile.from_arrays(_window(rng, 2000), seed=trial + 100)
        result = _detector().fit(ref).score(cur)
        alarms += result.drifted
        significant += any(f.status == "significant" for f in result.findings)
    assert alarms == 0
    assert significant <= 3  # BH at 5% under the null: about 1 trial in 20


def test_a_significant_but_negligible_shift_does_not_alarm() -> None:
    rng = np.random.default_rng(1)
    n = 30_000
    ref = Profile.from_arrays({"v": rng.normal(size=n)})
    cur = Profile.from_arrays({"v": rng.normal(size=n) + 0.05})
    finding = _detector().fit(ref).score(cur).findings[0]
    assert finding.p_value is not None and finding.p_value < 1e-4  # significant ...
    assert finding.effect is not None and finding.effect.value < 0.1  # ... and small
    assert finding.status == "significant" and not finding.alarm


def test_every_shifted_column_is_found_and_no_other() -> None:
    rng = np.random.default_rng(2)
    ref = Profile.from_arrays(_window(rng, 5000))
    cur = Profile.from_arrays(
        _window(rng, 5000, shift={3: 0.25, 7: 0.3}, cat=[0.3, 0.35, 0.25, 0.1])
    )
    result = DriftDetector(bootstrap=50, multivariate=False).fit(ref).score(cur)
    assert sorted(f.feature for f in result.alarms) == ["c0", "n3", "n7"]
    n3 = next(f for f in result.alarms if f.feature == "n3")
    assert n3.effect is not None and n3.effect.ci is not None
    assert n3.effect.ci.low <= n3.effect.value <= n3.effect.ci.high  # bootstrap interval
    assert 0.15 < n3.effect.value < 0.35 and n3.effect.threshold == 0.1


def test_a_change_of_correlation_only_is_caught_by_the_multivariate_tests() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    z = rng.normal(size=(n, 2))
    ref = Profile.from_arrays(z, names=["u", "v"])
    u = rng.normal(size=n)
    cur = Profile.from_arrays(
        np.c_[u, 0.9 * u + np.sqrt(1 - 0.81) * rng.normal(size=n)], names=["u", "v"]
    )
    result = DriftDetector(bootstrap=0).fit(ref).score(cur)
    univariate = [f for f in result.findings if f.kind == "numeric"]
    assert not any(f.alarm for f in univariate)  # same marginals
    multi = {f.test: f for f in result.findings if f.kind == "multivariate"}
    assert multi["c2st"].alarm and multi["mmd"].p_value is not None and multi["mmd"].p_value < 0.01


def test_slices_are_tested_in_the_same_fdr_family() -> None:
    rng = np.random.default_rng(4)
    n = 4000
    region = rng.choice(["north", "south"], n)
    ref = Profile.from_arrays({"v": rng.normal(size=n)}, groups=region)
    v = rng.normal(size=n)
    region2 = rng.choice(["north", "south", "east"], n, p=[0.45, 0.45, 0.1])
    v[region2 == "south"] += 0.5  # only the south drifts
    cur = Profile.from_arrays({"v": v}, groups=region2)
    result = _detector().fit(ref).score(cur)
    assert {(f.feature, f.slice) for f in result.alarms} >= {("v", "south")}
    assert ("v", "north") not in {(f.feature, f.slice) for f in result.alarms}
    assert any(f.slice == "east" and f.status == "not-tested" for f in result.findings)
    tested = [f for f in result.findings if f.p_value is not None]
    q = benjamini_hochberg([f.p_value for f in tested])  # type: ignore[misc]
    assert [f.q_value for f in tested] == pytest.approx(list(q))


def test_untestable_columns_become_findings_not_errors() -> None:
    rng = np.random.default_rng(5)
    n = 500
    ref = {"empty": np.full(n, np.nan), "flat": np.ones(n), "cat": rng.choice(["a", "b"], n)}
    cur = {"empty": np.full(n, np.nan), "flat": np.ones(n), "cat": rng.choice(["a", "b", "new"], n)}
    result = _detector().fit(Profile.from_arrays(ref)).score(Profile.from_arrays(cur))
    by = {f.feature: f for f in result.findings}
    assert by["empty"].status == "not-tested" and "missing" in (by["empty"].note or "")
    assert by["flat"].status == "not-tested" and "constant" in (by["flat"].note or "")
    assert by["cat"].unseen == ["new"] and by["cat"].alarm


def test_mismatched_windows_are_refused() -> None:
    a = Profile.from_arrays({"x": np.zeros(5), "y": np.zeros(5)})
    b = Profile.from_arrays({"x": np.zeros(5)})
    c = Profile.from_arrays({"x": np.zeros(5), "y": np.array(["t"] * 5)})
    with pytest.raises(InputError, match="columns differ"):
        _detector().fit(a).score(b)
    with pytest.raises(InputError, match="numeric in the reference"):
        _detector().fit(a).score(c)
    with pytest.raises(InputError, match="unknown effect threshold"):
        DriftDetector(thresholds={"psi": 0.2}).fit(a)


def test_a_sketch_never_makes_a_column_more_significant() -> None:
    rng = np.random.default_rng(6)
    for shift in (0.0, 0.02, 0.05):
        a, b = rng.normal(size=30_000), rng.normal(size=30_000) + shift
        sketched = ks_test(NumericColumn.of("a", a), NumericColumn.of("b", b))
        exact = ks_test(NumericColumn.of("a", a[:9000]), NumericColumn.of("b", b[:9000]))
        assert not sketched.exact and exact.exact
        from scipy.stats import ks_2samp

        full = ks_2samp(a, b).pvalue
        assert sketched.p_value >= full * 0.999  # the rank-error penalty only costs power
        assert abs(sketched.statistic - ks_2samp(a, b).statistic) <= 2 * 0.0028 + 1e-9
