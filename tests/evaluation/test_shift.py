"""The natural-shift stage: image corruptions on the digits CNN, tabular shifts against
models whose answer is known exactly (a rule on one feature), the missing-value path,
and shifted rows that stay rows the schema allows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

from redline import CallableTarget
from redline.datasets import CREDIT_COLUMNS, bind_schema, credit_schema, make_credit
from redline.evaluation import image_shift, tabular_shift
from redline.evaluation._shift_tabular import TabularColumns, shift_queries
from redline.results import Accuracy, Interval, slice_gap
from redline.results._slices import newcombe

if TYPE_CHECKING:
    from tests.conftest import Trained

INCOME = CREDIT_COLUMNS.index("income")


def test_corruptions_hurt_the_digits_cnn_in_order_of_severity(digits_cnn: Trained) -> None:
    x, y = digits_cnn.test.x[:200], digits_cnn.test.y[:200]
    section = image_shift(digits_cnn.target, x, y, corruptions=["contrast", "gaussian_noise"])
    clean = (digits_cnn.target.predict(torch.as_tensor(x)).numpy() == y).mean()
    assert section.kind == "image" and section.clean.value == pytest.approx(clean)
    assert [r.name for r in section.rows] == ["contrast", "gaussian_noise"]
    contrast = section.row("contrast")
    assert contrast is not None and [lv.severity for lv in contrast.levels] == [1, 2, 3, 4, 5]
    assert all(lv.accuracy.n == 200 for lv in contrast.levels)
    # worst over 5 seeds x 3 kernels: contrast 5 leaves 0.125-0.225 of a 0.97-0.98 model
    assert contrast.levels[-1].accuracy.value < section.clean.value - 0.5
    assert contrast.levels[-1].accuracy.value <= contrast.levels[0].accuracy.value
    cells = [lv.accuracy.value for row in section.rows for lv in row.levels]
    assert section.mean_accuracy.value == pytest.approx(np.mean(cells))
    assert section.drop == pytest.approx(section.clean.value - np.mean(cells))
    again = image_shift(digits_cnn.target, x, y, corruptions=["contrast", "gaussian_noise"])
    assert again == section  # same seed, same noise, same section


def test_a_constant_model_scores_the_share_of_its_class_in_every_cell() -> None:
    """Exact: a model that always answers class 1 is right on exactly the 1s, whatever the
    corruption does to the pixels."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (30, 1, 8, 8)).astype(np.float32)
    y = np.array([1] * 12 + [0] * 18)
    always_one = CallableTarget(lambda b: torch.tensor([[0.0, 1.0]]).repeat(len(b), 1))
    groups = np.array(["a"] * 15 + ["b"] * 15)
    section = image_shift(always_one, x, y, groups=groups, severities=[1, 5])
    assert all(lv.accuracy.correct == 12 for row in section.rows for lv in row.levels)
    assert len(section.rows) == 10 and section.mean_accuracy.value == pytest.approx(0.4)
    assert [(s.name, s.shifted.value) for s in section.per_slice] == [("a", 0.8), ("b", 0.0)]
    gap = section.slice_gap
    assert gap is not None and (gap.best, gap.worst, gap.gap) == ("a", "b", pytest.approx(0.8))
    assert gap.ci.low < 0.8 < gap.ci.high


def _income_rule(seen: list[np.ndarray] | None = None) -> CallableTarget:
    """Class 1 iff income is below 40,000: only income can matter; NaN is refused."""

    def fn(batch: torch.Tensor) -> torch.Tensor:
        rows = batch.numpy().astype(np.float64)
        if np.isnan(rows).any():
            raise ValueError("Input X contains NaN.")
        if seen is not None:
            seen.append(rows)
        low = torch.as_tensor(rows[:, INCOME] < 40_000)
        return torch.stack([(~low).float(), low.float()], dim=1)

    return CallableTarget(fn, bounds=(-np.inf, np.inf))


def test_only_the_feature_the_model_reads_is_ranked_harmful() -> None:
    x, _ = make_credit(300, seed=0)
    y = (x[:, INCOME] < 40_000).astype(np.int64)  # the rule is always right on clean rows
    bound = bind_schema(credit_schema(), list(CREDIT_COLUMNS), x)
    section = tabular_shift(_income_rule(), x, y, schema=bound)
    assert section.kind == "tabular" and section.clean.value == 1.0
    assert section.features[0].feature == "income" and section.features[0].drop > 0.1
    assert all(f.drop == 0.0 for f in section.features[1:])  # exact: nothing else is read
    quantile = section.row("quantile_shift")
    assert quantile is not None and all("income" in lv.level for lv in quantile.levels)
    noise = section.row("gaussian_noise")
    assert noise is not None and noise.levels[-1].accuracy.value < noise.levels[0].accuracy.value
    missing = section.row("missing_values")
    assert missing is not None and missing.note is not None and "ValueError" in missing.note
    assert "median" in missing.note


def test_shifted_rows_keep_bounds_kinds_one_hot_groups_and_relations() -> None:
    x, _ = make_credit(200, seed=1)
    y = (x[:, INCOME] < 40_000).astype(np.int64)
    bound = bind_schema(credit_schema(), list(CREDIT_COLUMNS), x)
    seen: list[np.ndarray] = []
    tabular_shift(_income_rule(seen), x, y, schema=bound)
    rows = np.concatenate(seen)
    assert len(rows) == shift_queries(len(x), TabularColumns.of(bound, 0))  # every row counted
    col = {name: j for j, name in enumerate(CREDIT_COLUMNS)}
    parts = rows[:, col["card_debt"]] + rows[:, col["loan_debt"]]
    assert np.allclose(rows[:, col["total_debt"]], parts, rtol=1e-5)
    assert (rows >= bound.low - 1e-9).all() and (rows <= bound.high + 1e-9).all()
    onehot = rows[:, [col["emp_salaried"], col["emp_self"], col["emp_none"]]]
    assert ((onehot == 0) | (onehot == 1)).all() and (onehot.sum(axis=1) == 1).all()
    for name in ("age", "n_accounts"):  # integer columns stay integers
        assert np.array_equal(rows[:, col[name]], np.rint(rows[:, col[name]]))
    assert set(np.unique(rows[:, col["region"]])) <= set(np.unique(x[:, col["region"]]))


def test_a_model_that_takes_nan_gets_it_without_an_imputer() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from redline.targets import SklearnTarget

    x, y = make_credit(600, seed=2)
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(x[:400], y[:400])
    section = tabular_shift(SklearnTarget(model), x[400:], y[400:], reference=x[:400])
    missing = section.row("missing_values")
    assert missing is not None and missing.note is None  # its own NaN routing was measured
    # no schema: every column is continuous and gets all four single-feature shifts
    assert sorted(f.feature for f in section.features) == sorted(f"x{j}" for j in range(12))
    assert all(len(f.shifts) == 4 for f in section.features)
    drops = [f.drop for f in section.features]
    assert drops == sorted(drops, reverse=True)


def test_newcombe_interval_matches_the_paper() -> None:
    """Newcombe (1998), table II, example (a): 56/70 vs 48/80, method 10: 0.0524 to 0.3339."""

    def acc(k: int, n: int) -> Accuracy:
        from redline.results import wilson

        return Accuracy(value=k / n if n else 0.0, n=n, correct=k, ci=wilson(k, n))

    ci = newcombe(acc(56, 70), acc(48, 80))
    assert (ci.low, ci.high) == (pytest.approx(0.0524, abs=1e-4), pytest.approx(0.3339, abs=1e-4))
    gap = slice_gap([("x", acc(48, 80)), ("y", acc(56, 70)), ("empty", acc(0, 0))])
    assert gap is not None and (gap.best, gap.worst) == ("y", "x")
    assert gap.ci == Interval(low=ci.low, high=ci.high)
    assert slice_gap([("only", acc(3, 4))]) is None


def test_a_saved_1_4_result_still_loads(digits_scan: object) -> None:
    import json

    from redline.results import ScanResult, result_from_dict

    assert isinstance(digits_scan, ScanResult)
    old = json.loads(digits_scan.model_dump_json())
    old["schema_version"] = "1.4"
    del old["natural_shift"]
    back = result_from_dict(old, "old scan.json")
    assert back.natural_shift is None and back.clean == digits_scan.clean
