"""Tree-ensemble attacks: the exact MILP attack equals brute force over the threshold
grid, is never beaten by the greedy search, says when it is not proved, and both respect
per-feature bounds, immutable features and directions; on breast_cancer the greedy
search's robust accuracy stays within a point of the exact one."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
import torch
import xgboost as xgb
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from tests.conftest import seeded

from redline import CallableTarget
from redline.attacks.trees import TreeExact, TreeGreedy, solve_exact
from redline.attacks.trees._grid import Limits, Threat, down32
from redline.datasets import load_breast_cancer
from redline.errors import InputError
from redline.targets import TreeEnsemble, TreeTarget

ULPS = 1e-6
"""Exact distances cross a threshold by a few float32 ulps; brute force by one."""


def _labels(ensemble: TreeEnsemble, x: np.ndarray) -> np.ndarray:
    return np.argmax(ensemble.logits(x).astype(np.float32), axis=1)


def _brute(ensemble: TreeEnsemble, x: np.ndarray, y: int, limits: Limits, ord_: float) -> float:
    """Minimal distance over every combination of per-feature candidate values: the
    clean value, each threshold, the float32 just above it, and the bounds."""
    values = []
    for j in range(ensemble.n_features):
        lo = 0.0 if limits.lower is None else limits.lower[j]
        hi = 1.0 if limits.upper is None else limits.upper[j]
        if limits.immutable is not None and limits.immutable[j]:
            lo = hi = x[j]
        way = 0 if limits.direction is None else limits.direction[j]
        lo, hi = (x[j], hi) if way > 0 else (lo, x[j]) if way < 0 else (lo, hi)
        t = down32(ensemble.threshold[ensemble.feature == j]).astype(np.float32)
        above = np.nextafter(t, np.float32(np.inf))
        cand = np.concatenate([[x[j], lo, hi], t, above]).astype(np.float64)
        values.append(np.unique(cand[(cand >= lo) & (cand <= hi)]))
    grid = np.array(list(itertools.product(*values)))
    adv = _labels(ensemble, grid) != y
    dist = np.linalg.norm(grid - x, ord=ord_, axis=1)
    return float(dist[adv].min()) if adv.any() else np.inf


def _tiny(kind: str) -> tuple[TreeEnsemble, np.ndarray]:
    """2-3 trees on 2-3 features in [0, 1], with 40 test points."""
    rng = np.random.default_rng(seeded(0))
    d = 2 if kind == "rf" else 3
    x = rng.random((300, d)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] ** 2 + 0.3 * rng.random(300) > 0.9).astype(int)
    if kind == "gbt3":
        y = np.digitize(x[:, 0] + x[:, 1] - 0.5 * x[:, 2], [0.4, 0.9])
    model: Any = {
        "xgb": xgb.XGBClassifier(n_estimators=3, max_depth=3, random_state=seeded(0)),
        "rf": RandomForestClassifier(n_estimators=3, max_depth=3, random_state=seeded(0)),
        "gbt3": GradientBoostingClassifier(n_estimators=1, max_depth=2, random_state=seeded(0)),
        "lgb": lgb.LGBMClassifier(
            n_estimators=3, num_leaves=5, min_child_samples=5, verbose=-1, random_state=seeded(0)
        ),
    }[kind]
    model.fit(x, y)
    return TreeEnsemble.from_model(model), rng.random((40, d)).astype(np.float32)


LIMITED = Limits.of(
    lower=[0.1, 0.0, 0.0], upper=[0.9, 1.0, 1.0], immutable=[False, False, True],
    direction=[0, 1, 0],
)  # fmt: skip


def _limits(d: int, constrained: bool) -> Limits:
    if not constrained:
        return Limits()
    assert LIMITED.lower is not None and LIMITED.upper is not None
    assert LIMITED.immutable is not None and LIMITED.direction is not None
    return Limits(LIMITED.lower[:d], LIMITED.upper[:d], LIMITED.immutable[:d],
                  LIMITED.direction[:d])  # fmt: skip


@pytest.mark.parametrize("kind", ["xgb", "rf", "gbt3", "lgb"])
@pytest.mark.parametrize("constrained", [False, True])
def test_exact_equals_brute_force_on_tiny_ensembles(kind: str, constrained: bool) -> None:
    ensemble, x = _tiny(kind)
    limits = _limits(x.shape[1], constrained)
    if constrained:
        assert limits.lower is not None and limits.upper is not None
        x = np.clip(x, limits.lower, limits.upper)
    y = _labels(ensemble, x.astype(np.float64))
    target = TreeTarget(ensemble, bounds=(0.0, 1.0))
    attack = TreeExact(
        lower=limits.lower, upper=limits.upper, immutable=limits.immutable,
        direction=limits.direction,
    )  # fmt: skip
    result = attack(target, torch.as_tensor(x), torch.as_tensor(y))
    assert attack.proved
    threat = Threat.of(x.shape[1], (0.0, 1.0), limits)
    l1 = solve_exact(ensemble, x, y, norm="l1", threat=threat)
    assert bool(l1.exact.all())
    for i in range(len(x)):
        ref = _brute(ensemble, x[i].astype(np.float64), int(y[i]), limits, np.inf)
        got = float(result.distances[i]) if bool(result.success[i]) else np.inf
        assert got == ref or abs(got - ref) <= ULPS, (i, got, ref)
        ref1 = _brute(ensemble, x[i].astype(np.float64), int(y[i]), limits, 1)
        assert l1.distance[i] == ref1 or abs(l1.distance[i] - ref1) <= 3 * ULPS, (i, ref1)
    adv = result.x_adv[result.success].numpy().astype(np.float64)
    assert bool((_labels(ensemble, adv) != y[result.success.numpy()]).all())


@pytest.mark.parametrize("kind", ["xgb", "gbt3"])
def test_eps_answer_agrees_with_minimal_distance(kind: str) -> None:
    ensemble, x = _tiny(kind)
    y = _labels(ensemble, x.astype(np.float64))
    target = TreeTarget(ensemble, bounds=(0.0, 1.0))
    minimal = TreeExact()(target, torch.as_tensor(x), torch.as_tensor(y))
    dist = torch.where(minimal.success, minimal.distances, torch.inf)
    for eps in (0.02, 0.05, 0.1, 0.2):
        attack = TreeExact(eps=eps)
        found = attack(target, torch.as_tensor(x), torch.as_tensor(y))
        assert attack.proved
        clear = (dist - eps).abs() > ULPS
        assert torch.equal(found.success[clear], (dist <= eps)[clear])


@dataclass(frozen=True)
class Cancer:
    """Breast-cancer tree models (<= 20 trees of depth <= 4) and their test split."""

    targets: dict[str, TreeTarget]
    x: torch.Tensor
    y: torch.Tensor


@pytest.fixture(scope="module")
def cancer() -> Cancer:
    train = load_breast_cancer("train", seed=seeded(0))
    test = load_breast_cancer("test", seed=seeded(0))
    s = seeded(0)
    models: dict[str, Any] = {
        "xgboost": xgb.XGBClassifier(n_estimators=20, max_depth=4, subsample=0.8, random_state=s),
        "sklearn-gbt": GradientBoostingClassifier(
            n_estimators=20, max_depth=4, subsample=0.8, random_state=s
        ),
        "random-forest": RandomForestClassifier(n_estimators=20, max_depth=4, random_state=s),
    }
    targets = {
        name: TreeTarget(TreeEnsemble.from_model(m.fit(train.x, train.y)), bounds=(0.0, 1.0))
        for name, m in models.items()
    }
    return Cancer(targets, torch.as_tensor(test.x), torch.as_tensor(test.y))


@pytest.mark.parametrize("model", ["xgboost", "sklearn-gbt", "random-forest"])
def test_greedy_robust_accuracy_within_a_point_of_exact(cancer: Cancer, model: str) -> None:
    """Gap in points, worst over 5 seeds (eps 0.05 and 0.1): 0.9 (one sample of 114).
    Also: every example the program reports stays adversarial after the base class
    projects it into the eps ball in float32."""
    target = cancer.targets[model]
    correct = target.predict(cancer.x) == cancer.y
    for eps in (0.05, 0.1):
        exact = TreeExact(eps=eps)
        proved = exact(target, cancer.x, cancer.y)
        assert exact.proved and exact.solution is not None
        # every example the program found survives the base's float32 projection
        found = np.isin(exact.solution.status, ("feasible", "optimal"))
        assert torch.equal(proved.success[correct], torch.as_tensor(found))
        greedy = TreeGreedy(eps=eps)(target, cancer.x, cancer.y)
        assert greedy.robust_accuracy >= proved.robust_accuracy
        assert greedy.robust_accuracy - proved.robust_accuracy <= 0.01 + 1e-9
        assert 0.15 < proved.robust_accuracy < 0.9  # a budget that separates attacks
        assert greedy.queries is not None and int(greedy.queries.sum()) == 0
        assert greedy.forward > len(cancer.x)


@pytest.mark.parametrize("model", ["xgboost", "random-forest"])
def test_exact_never_farther_than_greedy(cancer: Cancer, model: str) -> None:
    target = cancer.targets[model]
    x, y = cancer.x[:40], cancer.y[:40]
    exact = TreeExact()
    proved = exact(target, x, y)
    assert exact.proved
    found = TreeGreedy(restarts=1)(target, x, y)
    assert torch.equal(proved.success, found.success)
    ok = proved.success
    assert bool((proved.distances[ok] <= found.distances[ok] + 1e-9).all())
    assert exact.solution is not None
    correct = target.predict(x) == y
    assert bool(proved.success[~correct].all())
    np.testing.assert_allclose(exact.solution.distance, proved.distances[correct], atol=1e-7)


def _limits_for(x: torch.Tensor) -> dict[str, np.ndarray]:
    """Five immutable features, the first ten only allowed to grow, an upper cap."""
    immutable = np.zeros(x.shape[1], bool)
    immutable[[20, 21, 22, 23, 27]] = True
    direction = np.zeros(x.shape[1], np.int64)
    direction[:10] = 1
    upper = np.maximum(x.numpy().max(axis=0), 0.9)
    return {"immutable": immutable, "direction": direction, "upper": upper}


@pytest.mark.parametrize("attack", [TreeExact, TreeGreedy])
def test_attacks_respect_bounds_immutables_and_directions(cancer: Cancer, attack: Any) -> None:
    target = cancer.targets["xgboost"]
    x, y = cancer.x[:40], cancer.y[:40]
    limits = _limits_for(x)
    for eps in (None, 0.1):
        result = attack(eps=eps, **limits)(target, x, y)
        moved = result.x_adv - x
        assert bool((moved[:, limits["immutable"]] == 0).all())
        assert bool((moved[:, :10] >= 0).all())
        assert bool((result.x_adv <= torch.as_tensor(limits["upper"])).all())
        assert bool((result.x_adv >= 0).all())
        assert result.success.any()
        if attack is TreeExact:  # constraints only shrink the threat
            free = attack(eps=eps)(target, x, y)
            assert result.robust_accuracy >= free.robust_accuracy
            if eps is None:
                both = free.success & result.success
                assert bool((result.distances[both] >= free.distances[both] - 1e-9).all())


def test_time_limit_is_reported_not_claimed_exact(cancer: Cancer) -> None:
    target = cancer.targets["random-forest"]
    x, y = cancer.x[:20], cancer.y[:20]
    exact = TreeExact(eps=0.1, time_limit=1e-9)
    result = exact(target, x, y)
    assert not exact.proved and exact.solution is not None
    assert set(exact.solution.status) == {"unknown"}
    assert not exact.solution.exact.any()
    correct = target.predict(x) == y
    assert not bool(result.success[correct].any())  # nothing found, nothing claimed robust
    minimal = TreeExact(time_limit=1e-9)
    found = minimal(target, x, y)
    assert not minimal.proved and minimal.solution is not None
    assert set(minimal.solution.status) <= {"feasible"}  # the greedy warm start, unproved
    assert bool(found.success.all())


def test_refusals() -> None:
    ensemble, x = _tiny("xgb")
    xs, ys = torch.as_tensor(x), torch.as_tensor(_labels(ensemble, x.astype(np.float64)))
    target = TreeTarget(ensemble, bounds=(0.0, 1.0))
    black_box = CallableTarget(lambda z: ensemble.logits(z.double().numpy()))
    for attack in (TreeExact, TreeGreedy):
        with pytest.raises(InputError, match="tree-ensemble target"):
            attack()(black_box, xs, ys)
        with pytest.raises(InputError, match="supports norms"):
            attack(norm="l2")
        with pytest.raises(InputError, match="one entry per feature"):
            attack(immutable=[True])(target, xs, ys)
        with pytest.raises(InputError, match="outside the per-feature bounds"):
            attack(upper=[0.5, 1.0, 1.0])(target, xs, ys)
        with pytest.raises(InputError, match="direction"):
            attack(direction=[2, 0, 0])(target, xs, ys)
    with pytest.raises(InputError, match="time_limit"):
        TreeExact(time_limit=0)
    with pytest.raises(InputError, match="restarts"):
        TreeGreedy(restarts=-1)
    with pytest.raises(InputError, match="norms linf and l1"):
        solve_exact(ensemble, x, np.zeros(len(x)), norm="l2")  # type: ignore[arg-type]


def test_with_params_keeps_the_constraints() -> None:
    ensemble, x = _tiny("xgb")
    y = torch.as_tensor(_labels(ensemble, x.astype(np.float64)))
    target = TreeTarget(ensemble, bounds=(0.0, 1.0))
    attack = TreeGreedy(eps=0.2, immutable=[True, False, False], restarts=2)
    copy = attack.with_params(seed=3)
    assert isinstance(copy, TreeGreedy) and copy.seed == 3 and copy.restarts == 2
    result = copy(target, torch.as_tensor(x), y)
    assert bool((result.x_adv[:, 0] == torch.as_tensor(x)[:, 0]).all())


def test_samples_on_the_schema_bounds_are_attacked_under_a_schema() -> None:
    """Bounds at the data's extremes: every row, moved into the schema's float32 space,
    lies inside the tree attack's box (it was refused when the box was computed in
    float64), and the scan runs."""
    from redline.attacks import SchemaSpace
    from redline.datasets import FeatureSchema, bind_schema
    from redline.evaluation import scan

    data = load_breast_cancer("train")
    x, y = data.x.astype(np.float32), data.y
    names = [f"f{j}" for j in range(x.shape[1])]
    cols = {n: {"min": float(x[:, j].min()), "max": float(x[:, j].max()), "budget_std": 0.2}
            for j, n in enumerate(names)}  # fmt: skip
    schema = bind_schema(FeatureSchema.from_dict({"columns": cols}, source="s"), names, x)
    model = xgb.XGBClassifier(n_estimators=5, max_depth=3, random_state=0).fit(x, y)
    space = SchemaSpace(TreeTarget(TreeEnsemble.from_model(model)), schema)
    z = space.to_space(x).numpy()
    lim = space.tree_limits()
    assert not (z > lim["upper"]).any() and not (z < lim["lower"]).any()
    from redline.attacks._registry import attack_factory
    from redline.evaluation import Suite

    suite = Suite("tree-greedy", "greedy", (attack_factory("tree-greedy", restarts=1, **lim),))
    result = scan(space, z[:40], y[:40], threat="linf", eps=[0.5], suite=suite,
                  minimal=False, checks=False)  # fmt: skip
    assert result.eps[0].robust.value <= result.clean.accuracy.value
