"""HopSkipJump against an exact oracle: a logistic regression is linear in its raw
features, so the minimal L2 / L-inf change that flips it is known in closed form. The
attack sees labels only, through a feature schema (budget: one standard deviation per
feature), and must get close to the exact distance, never below it, stay within its
query budget and return only valid, misclassified inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from redline.attacks import HopSkipJump, SchemaSpace
from redline.datasets import FeatureSchema, bind_schema
from redline.errors import InputError
from redline.targets import SklearnTarget

N = 40


@pytest.fixture(scope="module")
def linear() -> dict[str, object]:
    x, y = load_breast_cancer(return_X_y=True)
    x = x.astype(np.float32)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
    names = [f"f{i}" for i in range(x.shape[1])]
    schema = FeatureSchema.from_dict({"columns": {n: {"budget_std": 1.0} for n in names}})
    bound = bind_schema(schema, names, x)
    scaler, lr = model[0], model[1]
    w = lr.coef_[0] / scaler.scale_
    b = lr.intercept_[0] - float((lr.coef_[0] * scaler.mean_ / scaler.scale_).sum())
    ws = w * bound.scale()  # the model is linear in attack-space coordinates too
    margin = np.abs(x[:N].astype(np.float64) @ w + b)
    space = SchemaSpace(SklearnTarget(model, scores="labels"), bound)
    return {
        "space": space,
        "z": space.to_space(x[:N]),
        "y": torch.as_tensor(y[:N]),
        "exact": {"l2": margin / np.linalg.norm(ws), "linf": margin / np.abs(ws).sum()},
        "x": x[:N],
    }


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_close_to_the_exact_minimal_change_and_never_below_it(linear: dict, norm: str) -> None:
    space: SchemaSpace = linear["space"]  # type: ignore[assignment]
    result = HopSkipJump(norm=norm, queries=5000)(space, linear["z"], linear["y"])
    found = result.success.numpy()
    # measured: 31/40 found (the rest need a change near the edge of the budget box
    # that no starting point reached); the oracle says 36 are reachable
    assert found.sum() >= 28
    ratio = result.distances.numpy()[found] / linear["exact"][norm][found]
    assert ratio.min() >= 0.999  # below the exact minimum would be a wrong oracle or a bug
    assert np.median(ratio) <= 1.03 and ratio.max() <= 1.15  # measured 1.008 / 1.05
    assert int(result.queries.max()) <= 5000
    x_adv = space.from_space(result.x_adv).numpy()
    assert space.schema.violations(linear["x"], x_adv).max() == 0


def test_more_queries_get_closer_and_eps_stops_early(linear: dict) -> None:
    space: SchemaSpace = linear["space"]  # type: ignore[assignment]
    few = HopSkipJump(norm="l2", queries=300)(space, linear["z"], linear["y"])
    many = HopSkipJump(norm="l2", queries=3000)(space, linear["z"], linear["y"])
    both = few.success & many.success
    assert bool(both.any())
    assert float(many.distances[both].mean()) < float(few.distances[both].mean())
    loose = HopSkipJump(norm="l2", eps=10.0, queries=3000)(space, linear["z"], linear["y"])
    assert int(loose.queries.sum()) < int(many.queries.sum())  # stops once within eps
    assert bool((loose.distances[loose.success] <= 10.0 + 1e-4).all())


def test_refuses_bad_parameters() -> None:
    with pytest.raises(InputError):
        HopSkipJump(queries=0)
    with pytest.raises(InputError, match="supports norms"):
        HopSkipJump(norm="l1")
