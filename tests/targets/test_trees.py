"""Tree ensembles parsed from scikit-learn, XGBoost and LightGBM: margins and
probabilities equal the native library's on random data, on points exactly on every
threshold and one float step past it, and with missing values; unsupported models are
refused with one clear error."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
import torch
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from tests.conftest import seeded

from redline.errors import InputError
from redline.targets import TreeEnsemble, TreeTarget

TOL = 1e-5
"""Margins agree to this (XGBoost sums its leaves in float32: ~4e-7 seen)."""


def _data(multiclass: bool) -> tuple[np.ndarray, np.ndarray]:
    x, y = (load_iris if multiclass else load_breast_cancer)(return_X_y=True)
    return x.astype(np.float32), y


def _probes(x: np.ndarray, ensemble: TreeEnsemble, seed: int) -> np.ndarray:
    """Random points, data rows, and rows with one feature set exactly on a threshold or
    on the next float (both float32 and float64 neighbours) above it."""
    rng = np.random.default_rng(seed)
    inner = np.flatnonzero(ensemble.feature >= 0)
    rows = [x, x[rng.integers(0, len(x), 200)] + rng.normal(0, 1, (200, x.shape[1])) * x.std(0)]
    for step in (None, np.float32, np.float64):
        base = x[rng.integers(0, len(x), len(inner))].astype(np.float64)
        thr = ensemble.threshold[inner]
        if step is not None:
            thr = np.nextafter(thr.astype(step), step(np.inf)).astype(np.float64)
        base[np.arange(len(inner)), ensemble.feature[inner]] = thr
        rows.append(base)
    return np.vstack(rows)


def _sklearn_models(multiclass: bool) -> list[Any]:
    s = seeded(0)
    return [
        DecisionTreeClassifier(max_depth=5, random_state=s),
        RandomForestClassifier(n_estimators=8, max_depth=4, random_state=s),
        ExtraTreesClassifier(n_estimators=8, max_depth=4, random_state=s),
        GradientBoostingClassifier(n_estimators=8, max_depth=3, subsample=0.8, random_state=s),
        GradientBoostingClassifier(n_estimators=6, max_depth=2, loss="exponential", random_state=s),
    ][: 4 if multiclass else 5]


@pytest.mark.parametrize("multiclass", [False, True])
def test_sklearn_margins_and_probabilities_match(multiclass: bool) -> None:
    x, y = _data(multiclass)
    for model in _sklearn_models(multiclass):
        model.fit(x, y)
        ensemble = TreeEnsemble.from_sklearn(model)
        probes = _probes(x, ensemble, seeded(1)).astype(np.float32)
        native = (
            model.decision_function(probes)
            if hasattr(model, "decision_function")
            else model.predict_proba(probes)
        )
        margin = ensemble.margin(probes)
        assert margin.shape == (len(probes), ensemble.n_outputs)
        np.testing.assert_allclose(margin, native.reshape(margin.shape), atol=TOL, rtol=0)
        np.testing.assert_allclose(
            ensemble.predict_proba(probes), model.predict_proba(probes), atol=TOL, rtol=0
        )


def _xgb_models(multiclass: bool) -> list[Any]:
    s = seeded(0)
    common = {"max_depth": 3, "random_state": s, "subsample": 0.8}
    return [
        xgb.XGBClassifier(n_estimators=10, **common),
        xgb.XGBClassifier(n_estimators=10, booster="dart", rate_drop=0.3, **common),
        xgb.XGBRFClassifier(n_estimators=4, **common),
    ]


@pytest.mark.parametrize("multiclass", [False, True])
def test_xgboost_margins_match_output_margin(multiclass: bool) -> None:
    x, y = _data(multiclass)
    for model in _xgb_models(multiclass):
        model.fit(x, y)
        ensemble = TreeEnsemble.from_xgboost(model.get_booster())
        probes = _probes(x, ensemble, seeded(1)).astype(np.float32)
        native = model.get_booster().predict(xgb.DMatrix(probes), output_margin=True)
        margin = ensemble.margin(probes)
        np.testing.assert_allclose(margin, native.reshape(margin.shape), atol=TOL, rtol=0)
        np.testing.assert_allclose(
            ensemble.predict_proba(probes), model.predict_proba(probes), atol=TOL, rtol=0
        )


def _lgb_models(multiclass: bool) -> list[Any]:
    s = seeded(0)
    common = {"verbose": -1, "random_state": s, "min_child_samples": 5}
    return [
        lgb.LGBMClassifier(n_estimators=10, max_depth=3, **common),
        lgb.LGBMClassifier(
            boosting_type="rf", n_estimators=4, subsample=0.7, subsample_freq=1, **common
        ),
    ]


@pytest.mark.parametrize("multiclass", [False, True])
def test_lightgbm_margins_match_raw_score(multiclass: bool) -> None:
    x, y = _data(multiclass)
    x = x.astype(np.float64)
    for model in _lgb_models(multiclass):
        model.fit(x, y)
        ensemble = TreeEnsemble.from_lightgbm(model.booster_)
        assert not ensemble.float32_inputs
        probes = _probes(x, ensemble, seeded(1))
        native = model.booster_.predict(probes, raw_score=True)
        margin = ensemble.margin(probes)
        np.testing.assert_allclose(margin, native.reshape(margin.shape), atol=TOL, rtol=0)
        np.testing.assert_allclose(
            ensemble.predict_proba(probes), model.predict_proba(probes), atol=TOL, rtol=0
        )


def _with_missing(x: np.ndarray, rate: float, seed: int) -> np.ndarray:
    out = x.copy()
    out[np.random.default_rng(seed).random(x.shape) < rate] = np.nan
    return out


@pytest.mark.parametrize("trained_with_missing", [False, True])
def test_missing_values_take_the_native_default_way(trained_with_missing: bool) -> None:
    x, y = _data(False)
    train = _with_missing(x, 0.1, seeded(2)) if trained_with_missing else x
    probes = _with_missing(x, 0.3, seeded(3))
    booster = xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(train, y).get_booster()
    native = booster.predict(xgb.DMatrix(probes), output_margin=True)
    np.testing.assert_allclose(
        TreeEnsemble.from_xgboost(booster).margin(probes)[:, 0], native, atol=TOL, rtol=0
    )
    light = lgb.LGBMClassifier(n_estimators=10, max_depth=3, verbose=-1).fit(train, y)
    native = light.booster_.predict(probes.astype(np.float64), raw_score=True)
    np.testing.assert_allclose(
        TreeEnsemble.from_lightgbm(light).margin(probes)[:, 0], native, atol=TOL, rtol=0
    )
    forest = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=seeded(0))
    forest.fit(train, y)
    np.testing.assert_allclose(
        TreeEnsemble.from_sklearn(forest).margin(probes),
        forest.predict_proba(probes),
        atol=TOL,
        rtol=0,
    )


def test_xgboost_strict_split_is_converted_exactly() -> None:
    """XGBoost goes left iff x < t: a point on t goes right, the float below goes left."""
    x = np.arange(100, dtype=np.float32)[:, None] / 7
    booster = xgb.train(
        {"max_depth": 1, "objective": "binary:logistic", "base_score": 0.5},
        xgb.DMatrix(x, label=(x[:, 0] > 5).astype(int)),
        num_boost_round=1,
    )
    ensemble = TreeEnsemble.from_xgboost(booster)
    split = float(booster.trees_to_dataframe()["Split"].dropna().iloc[0])
    probes = np.array([[split], [np.nextafter(np.float32(split), np.float32(-np.inf))]], np.float32)
    native = booster.predict(xgb.DMatrix(probes), output_margin=True)
    np.testing.assert_allclose(ensemble.margin(probes)[:, 0], native, atol=TOL)
    assert native[0] != native[1]


def test_target_logits_are_the_margins() -> None:
    x, y = _data(False)
    model = xgb.XGBClassifier(n_estimators=5, max_depth=3).fit(x, y)
    target = TreeTarget(TreeEnsemble.from_model(model))
    logits = target.logits(torch.as_tensor(x[:50]))
    margin = model.get_booster().predict(xgb.DMatrix(x[:50]), output_margin=True)
    assert logits.shape == (50, 2) and bool((logits[:, 0] == 0).all())
    np.testing.assert_allclose(logits[:, 1].numpy(), margin, atol=TOL)
    assert torch.equal(
        target.predict(torch.as_tensor(x[:50])), torch.as_tensor(model.predict(x[:50]))
    )
    assert not target.differentiable and target.usage.forward == 100
    assert target.ensemble.n_trees == 5
    with pytest.raises(InputError, match="black-box"):
        target.logits_and_grad(torch.as_tensor(x[:2]), lambda z: z.sum(dim=1))


def test_forest_logits_are_log_probabilities() -> None:
    x, y = _data(True)
    forest = RandomForestClassifier(n_estimators=6, max_depth=3, random_state=seeded(0)).fit(x, y)
    target = TreeTarget(TreeEnsemble.from_model(forest))
    probs = torch.softmax(target.logits(torch.as_tensor(x)), dim=1).numpy()
    np.testing.assert_allclose(probs, forest.predict_proba(x), atol=1e-5)


def test_from_model_recognises_each_library() -> None:
    x, y = _data(False)
    models: list[Callable[[], Any]] = [
        lambda: xgb.XGBClassifier(n_estimators=2, max_depth=2).fit(x, y),
        lambda: xgb.XGBClassifier(n_estimators=2, max_depth=2).fit(x, y).get_booster(),
        lambda: lgb.LGBMClassifier(n_estimators=2, verbose=-1).fit(x, y),
        lambda: lgb.LGBMClassifier(n_estimators=2, verbose=-1).fit(x, y).booster_,
        lambda: DecisionTreeClassifier(max_depth=2).fit(x, y),
    ]
    for build in models:
        model = build()
        ensemble = TreeEnsemble.from_model(model)
        assert ensemble.n_features == x.shape[1] and ensemble.n_classes == 2


def _categorical_lightgbm() -> Any:
    rng = np.random.default_rng(seeded(0))
    x = np.stack([rng.integers(0, 5, 300), rng.random(300)], axis=1)
    y = (x[:, 0] % 2 == 0).astype(int)
    return lgb.LGBMClassifier(n_estimators=3, verbose=-1, min_child_samples=5).fit(
        x, y, categorical_feature=[0]
    )


def _categorical_xgboost() -> Any:
    rng = np.random.default_rng(seeded(0))
    x = np.stack([rng.integers(0, 5, 300), rng.random(300)], axis=1)
    y = (x[:, 0] % 2 == 0).astype(int)
    data = xgb.DMatrix(x, label=y, feature_types=["c", "q"], enable_categorical=True)
    params = {"max_depth": 2, "tree_method": "hist", "objective": "binary:logistic"}
    return xgb.train(params, data, num_boost_round=2)


def test_unsupported_models_are_refused() -> None:
    x, y = _data(False)
    with pytest.raises(InputError, match="categorical"):
        TreeEnsemble.from_lightgbm(_categorical_lightgbm())
    with pytest.raises(InputError, match="categorical"):
        TreeEnsemble.from_xgboost(_categorical_xgboost())
    zero = lgb.LGBMClassifier(n_estimators=5, verbose=-1, zero_as_missing=True).fit(x, y)
    with pytest.raises(InputError, match="zero-as-missing"):
        TreeEnsemble.from_lightgbm(zero)
    regressor = xgb.XGBRegressor(n_estimators=2).fit(x, y)
    with pytest.raises(InputError, match="objective"):
        TreeEnsemble.from_xgboost(regressor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        linear = LogisticRegression(max_iter=50).fit(x, y)
    with pytest.raises(InputError, match="not a supported tree model"):
        TreeEnsemble.from_sklearn(linear)
    with pytest.raises(InputError, match="not fitted"):
        TreeEnsemble.from_sklearn(RandomForestClassifier())
    with pytest.raises(InputError, match="TreeEnsemble"):
        TreeTarget(linear)  # type: ignore[arg-type]


def test_bad_arrays_and_inputs_are_refused() -> None:
    x, y = _data(False)
    ensemble = TreeEnsemble.from_sklearn(DecisionTreeClassifier(max_depth=2).fit(x, y))
    with pytest.raises(InputError, match=r"expects \(n, 30\)"):
        ensemble.margin(x[:, :5])
    backwards = ensemble.left.copy()
    backwards[0] = 0
    with pytest.raises(InputError, match="after their parent"):
        TreeEnsemble(**{**vars(ensemble), "left": backwards})
    with pytest.raises(InputError, match="one entry per output"):
        TreeEnsemble(**{**vars(ensemble), "base": np.zeros(3)})
    with pytest.raises(InputError, match="scale"):
        TreeEnsemble(**{**vars(ensemble), "scale": 0.0})
