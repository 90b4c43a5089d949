"""Data, schemas and models of the tabular benchmark, loaded the way a user gets them.

Two sets: scikit-learn's breast_cancer under a schema written here (every feature
continuous within the data's range, two immutable, a budget in standard deviations)
and redline's generated credit set under ``CREDIT_SCHEMA`` (mixed kinds, immutables,
a one-hot group, a relation). Each model is fitted, saved to the format a user would
ship (skops, XGBoost UBJ, LightGBM text) and loaded back with ``load_tabular_model``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.datasets import BoundSchema
from redline.targets import TabularModel

__all__ = ["BC_BUDGET_STD", "BC_IMMUTABLE", "MODELS", "Split", "datasets", "load_model"]

BC_BUDGET_STD = 0.5
"""breast_cancer budget: every mutable feature moves by at most 0.5 of its std."""
BC_IMMUTABLE = ("mean radius", "mean texture")
"""Two breast_cancer features declared immutable (to exercise the rule)."""
BOUND_PAD = 1e-3
"""breast_cancer bounds: the data's min / max widened by 0.1% of the range (0 stays 0).
Exactly the data's extremes trip the tree attacks: a sample at its feature's max, divided
by the budget in float32, can lie above the float64 bound (see the benchmark notes)."""
TREES, DEPTH = 30, 4


@dataclass(frozen=True)
class Split:
    """A seeded train / test split in feature units, and the schema bound to the test set
    (as ``redline scan`` binds it to the CSV it is given)."""

    name: str
    x_train: npt.NDArray[np.float32]
    y_train: npt.NDArray[np.int64]
    x_test: npt.NDArray[np.float32]
    y_test: npt.NDArray[np.int64]
    schema: BoundSchema


def _split(
    x: npt.NDArray[np.float32], y: npt.NDArray[np.int64], seed: int, test: float
) -> tuple[npt.NDArray[np.float32], ...]:
    from sklearn.model_selection import train_test_split

    parts: list[npt.NDArray[np.float32]] = train_test_split(
        x, y, test_size=test, random_state=seed, stratify=y
    )
    return tuple(parts)


def _breast_cancer(seed: int) -> Split:
    """breast_cancer, 30 continuous features: bounds about the data's min / max, budgets in std."""
    from sklearn.datasets import load_breast_cancer

    from redline.datasets import FeatureSchema, bind_schema

    bunch = load_breast_cancer()
    x, y = bunch.data.astype(np.float32), bunch.target.astype(np.int64)
    names = [str(n) for n in bunch.feature_names]
    columns: dict[str, dict[str, Any]] = {}
    lo, hi = x.min(axis=0).astype(np.float64), x.max(axis=0).astype(np.float64)
    pad = BOUND_PAD * (hi - lo)
    for j, name in enumerate(names):
        col: dict[str, Any] = {"min": lo[j] - pad[j] * (lo[j] != 0), "max": hi[j] + pad[j]}
        if name in BC_IMMUTABLE:
            col["immutable"] = True
        else:
            col["budget_std"] = BC_BUDGET_STD
        columns[name] = col
    schema = FeatureSchema.from_dict({"columns": columns}, source="breast_cancer schema")
    xtr, xte, ytr, yte = _split(x, y, seed, 0.3)
    bound = bind_schema(schema, names, xte)
    return Split("breast_cancer", xtr, ytr.astype(np.int64), xte, yte.astype(np.int64), bound)


def _credit(seed: int) -> Split:
    """redline's generated credit set (2,000 rows) under its own schema."""
    from redline.datasets import CREDIT_COLUMNS, bind_schema, credit_schema, make_credit

    x, y = make_credit(2000, seed=seed)
    xtr, xte, ytr, yte = _split(x, y, seed, 0.25)
    bound = bind_schema(credit_schema(), list(CREDIT_COLUMNS), xte)
    return Split("credit (generated)", xtr, ytr.astype(np.int64), xte, yte.astype(np.int64), bound)


def datasets(seed: int) -> list[Split]:
    """Both sets, split with ``seed``."""
    return [_breast_cancer(seed), _credit(seed)]


def _logistic(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))


def _mlp(seed: int) -> Any:
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # lbfgs: an Adam-trained MLP carries its optimizer, a type skops does not trust
    mlp = MLPClassifier((32, 16), solver="lbfgs", alpha=3.0, max_iter=5000, random_state=seed)
    return make_pipeline(StandardScaler(), mlp)


def _xgboost(seed: int) -> Any:
    import xgboost as xgb

    return xgb.XGBClassifier(n_estimators=TREES, max_depth=DEPTH, random_state=seed, n_jobs=1)


def _lightgbm(seed: int) -> Any:
    import lightgbm as lgb

    return lgb.LGBMClassifier(
        n_estimators=TREES, max_depth=DEPTH, num_leaves=16, verbose=-1, random_state=seed,
        n_jobs=1,
    )  # fmt: skip


def _tree(seed: int) -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=6, random_state=seed)


MODELS: dict[str, tuple[Callable[[int], Any], str]] = {
    "logistic regression": (_logistic, ".skops"),
    "MLP 32-16 (sklearn)": (_mlp, ".skops"),
    f"XGBoost {TREES}x{DEPTH}": (_xgboost, ".ubj"),
    f"LightGBM {TREES}x{DEPTH}": (_lightgbm, ".txt"),
    "decision tree depth 6": (_tree, ".skops"),
}
"""Name -> (factory of the unfitted estimator, file format a user would ship)."""


def _save(model: Any, path: Path) -> None:
    if path.suffix == ".skops":
        import skops.io as sio

        sio.dump(model, path)
    elif path.suffix == ".ubj":
        model.get_booster().save_model(str(path))
    else:
        model.booster_.save_model(str(path))


def load_model(name: str, data: Split, seed: int) -> tuple[Any, TabularModel]:
    """Fit model ``name`` on ``data``, save it, and load it back as ``redline scan`` does;
    returns the fitted estimator (for ART's DecisionTreeAttack) and the loaded model."""
    from redline.targets import load_tabular_model

    build, suffix = MODELS[name]
    model = build(seed).fit(data.x_train, data.y_train)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"model{suffix}"
        _save(model, path)
        loaded = load_tabular_model(path)
    return model, loaded
