"""Square Attack: validity, strength, black-box use, query accounting, peer parity."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
import torch

from redline import CallableTarget
from redline.attacks._geometry import Norm, within
from redline.attacks.square import Square
from redline.datasets import load_digits
from redline.errors import InputError

EPS: dict[Norm, float] = {"linf": 0.15, "l2": 1.0}
"""Moderate budgets on the 8x8 digits (pixels in [0, 1])."""


def _correct(fixture: Any, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` test samples the model gets right."""
    x, y = fixture.x[:n], fixture.y[:n]
    keep = fixture.target.predict(x) == y
    return x[keep], y[keep]


@pytest.mark.parametrize("fixture_name", ["digits_cnn", "cancer_mlp"])
@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_raw_output_inside_ball_and_bounds(
    request: pytest.FixtureRequest, fixture_name: str, norm: Norm
) -> None:
    fixture = request.getfixturevalue(fixture_name)
    x, y = _correct(fixture, 48)
    eps = 0.1 if fixture_name == "cancer_mlp" else EPS[norm]
    attack = Square(norm=norm, eps=eps, queries=60)
    with fixture.target.session():
        found = attack.run(fixture.target, x, y, torch.Generator().manual_seed(0))
    assert found.x_adv.shape == x.shape
    assert bool(within(x, found.x_adv, norm, eps, fixture.target.bounds).all())
    result = attack(fixture.target, fixture.x[:48], fixture.y[:48])
    assert bool(within(fixture.x[:48], result.x_adv, norm, eps, (0.0, 1.0)).all())


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_robust_accuracy_drops_on_digits(digits_cnn: Any, norm: Norm) -> None:
    x, y = digits_cnn.x[:100], digits_cnn.y[:100]
    clean = float((digits_cnn.target.predict(x) == y).float().mean())
    result = Square(norm=norm, eps=EPS[norm], queries=500)(digits_cnn.target, x, y)
    assert clean > 0.9
    assert result.robust_accuracy < 0.4
    assert result.backward == 0


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_tabular_inputs_are_one_by_d_images(cancer_mlp: Any, norm: Norm) -> None:
    x, y = cancer_mlp.x, cancer_mlp.y
    eps = {"linf": 0.1, "l2": 0.4}[norm]
    result = Square(norm=norm, eps=eps, queries=300)(cancer_mlp.target, x, y)
    clean = float((cancer_mlp.target.predict(x) == y).float().mean())
    assert result.robust_accuracy < clean - 0.5
    assert bool(within(x, result.x_adv, norm, eps, (0.0, 1.0)).all())


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_black_box_callable_matches_white_box_run(digits_cnn: Any, norm: Norm) -> None:
    x, y = digits_cnn.x[:40], digits_cnn.y[:40]
    black = CallableTarget(lambda z: digits_cnn.module(z))
    attack = Square(norm=norm, eps=EPS[norm], queries=150)
    blind = attack(black, x, y)
    seen = attack(digits_cnn.target, x, y)
    assert torch.equal(blind.x_adv, seen.x_adv)
    assert blind.robust_accuracy < 0.5
    assert black.usage.backward == 0


@pytest.fixture(scope="module")
def digits_logreg() -> CallableTarget:
    """A scikit-learn logistic regression on flattened digits, seen only through predict_proba."""
    from sklearn.linear_model import LogisticRegression

    train = load_digits("train")
    clf = LogisticRegression(max_iter=1000).fit(train.x.reshape(len(train.x), -1), train.y)
    return CallableTarget(lambda z: clf.predict_proba(z.reshape(len(z), -1).numpy()))


@pytest.mark.parametrize("flat", [False, True])
def test_black_box_sklearn_probabilities(
    digits_logreg: CallableTarget, digits_cnn: Any, flat: bool
) -> None:
    x, y = digits_cnn.x[:100], digits_cnn.y[:100]
    x = x.reshape(len(x), -1) if flat else x
    clean = float((digits_logreg.predict(x) == y).float().mean())
    result = Square(norm="linf", eps=0.15, queries=300)(digits_logreg, x, y)
    assert clean > 0.9
    assert result.robust_accuracy < 0.45
    assert result.queries is not None
    assert isinstance(digits_logreg.logits(x[:2]), torch.Tensor)
    assert np.isfinite(result.logits.numpy()).all()


@pytest.mark.parametrize("restarts", [1, 2])
def test_queries_are_counted_per_sample_with_early_exit(digits_cnn: Any, restarts: int) -> None:
    x, y = digits_cnn.x[:80], digits_cnn.y[:80]
    budget = 100
    result = Square(eps=0.1, queries=budget, restarts=restarts)(digits_cnn.target, x, y)
    assert result.queries is not None
    queries, fooled = result.queries, result.success
    wrong = digits_cnn.target.predict(x) != y
    assert bool((queries[wrong] == 0).all())
    attacked = ~wrong
    assert bool((queries[attacked] >= 1).all())
    assert int(queries.max()) <= restarts * (budget + 1)
    assert bool((queries[attacked & ~fooled] == restarts * (budget + 1)).all())
    early = attacked & fooled
    assert int(early.sum()) > 5
    assert bool((queries[early] < restarts * (budget + 1)).all())
    assert float(queries[early].float().mean()) < restarts * budget / 2
    assert result.forward == int(queries.sum()) + 2 * len(x)


def test_same_seed_same_result_other_seed_differs(digits_cnn: Any) -> None:
    x, y = digits_cnn.x[:30], digits_cnn.y[:30]
    for norm in ("linf", "l2"):
        first = Square(norm=norm, eps=0.1, queries=40, seed=3)(digits_cnn.target, x, y)
        again = Square(norm=norm, eps=0.1, queries=40, seed=3)(digits_cnn.target, x, y)
        other = Square(norm=norm, eps=0.1, queries=40, seed=4)(digits_cnn.target, x, y)
        assert torch.equal(first.x_adv, again.x_adv)
        assert not torch.equal(first.x_adv, other.x_adv)


def test_bad_hyper_parameters_and_shapes_raise(digits_cnn: Any) -> None:
    with pytest.raises(InputError, match="p_init"):
        Square(eps=0.1, p_init=1.5)
    with pytest.raises(InputError, match="queries"):
        Square(eps=0.1, queries=0)
    with pytest.raises(InputError, match="eps"):
        Square(eps=0.0)
    assert Square(eps=0.1).params()["queries"] == 5000
    five_d = CallableTarget(lambda z: torch.tensor([[1.0, 0.0]]).repeat(len(z), 1))
    with pytest.raises(InputError, match="inputs"):
        Square(eps=0.1)(five_d, torch.zeros(2, 1, 1, 2, 2), torch.zeros(2, dtype=torch.long))


def _inclusive_random_int(self: Any, low: int = 0, high: int = 1, shape: Any = (1,)) -> Any:
    """torchattacks' ``random_int`` with ``high`` reachable (square corners uniform)."""
    return (low + (high - low + 1) * torch.rand(shape).to(self.device)).long()


@pytest.mark.peer
@pytest.mark.parametrize(("norm", "eps"), [("linf", 0.1), ("l2", 0.5)])
def test_peer_torchattacks_square(
    digits_cnn: Any, norm: Norm, eps: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parity with torchattacks (AutoAttack's code), and its corner off-by-one only hurts it.

    The reference draws square corners from ``[0, h - s)``, so on 8x8 images the last row
    and column are never updated; with that fixed the two agree within noise.
    """
    torchattacks = pytest.importorskip("torchattacks")
    x, y = digits_cnn.x[:200], digits_cnn.y[:200]
    module, budget = digits_cnn.module, 1000
    t0 = time.perf_counter()
    ours = Square(norm=norm, eps=eps, queries=budget)(digits_cnn.target, x, y)
    ours_s = time.perf_counter() - t0

    def theirs() -> float:
        peer = torchattacks.Square(
            module, norm="Linf" if norm == "linf" else "L2", eps=eps, n_queries=budget,
            n_restarts=1, p_init=0.8, seed=0,
        )  # fmt: skip
        with torch.no_grad():
            return float((module(peer(x, y)).argmax(dim=1) == y).float().mean())

    t0 = time.perf_counter()
    reference = theirs()
    ref_s = time.perf_counter() - t0
    monkeypatch.setattr(torchattacks.Square, "random_int", _inclusive_random_int)
    fixed = theirs()
    assert ours.queries is not None
    print(
        f"square {norm} eps={eps}: ours {ours.robust_accuracy:.3f} "
        f"(mean queries {ours.queries[ours.queries > 0].float().mean():.1f}, {ours_s:.1f}s); "
        f"torchattacks {reference:.3f} ({ref_s:.1f}s); torchattacks fixed {fixed:.3f}"
    )
    assert 0.2 <= fixed <= 0.7
    assert fixed - 0.05 <= ours.robust_accuracy <= fixed + 0.02
    assert ours.robust_accuracy <= reference + 0.02


@pytest.mark.peer
def test_peer_l2_pattern_matches_reference_eta() -> None:
    """The meta-pseudo-gaussian block equals torchattacks' ``eta`` (up to its random transpose)."""
    torchattacks = pytest.importorskip("torchattacks")
    from redline.attacks.square import _eta

    class _Ref:
        device = torch.device("cpu")
        eta_rectangles = torchattacks.Square.eta_rectangles

    for side in range(1, 12):
        ref = torchattacks.Square.eta(_Ref(), side)
        ours = _eta(side, side, torch.zeros(1))
        assert torch.allclose(ref, ours, atol=1e-6) or torch.allclose(ref, ours.T, atol=1e-6)
