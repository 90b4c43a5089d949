"""Ensemble targets: combined outputs, gradients through every member, and a scan that
attacks the ensemble as a whole (stronger than examples transferred from one member)."""

from __future__ import annotations

import pytest
import torch
from tests.conftest import seeded
from torch import nn

from redline.attacks import PGD
from redline.datasets import load_digits
from redline.errors import InputError
from redline.targets import Ensemble, TorchTarget, ensemble_target
from redline.zoo import digits_cnn, train_classifier


@pytest.fixture(scope="module")
def members() -> list[nn.Module]:
    train = load_digits("train")
    out = []
    for seed in map(seeded, (0, 1, 2)):
        torch.manual_seed(seed)
        module = digits_cnn()
        train_classifier(module, train.x, train.y, epochs=8, seed=seed)
        out.append(module.eval())
    return out


def test_combine_rules() -> None:
    a, b = nn.Linear(2, 3), nn.Linear(2, 3)
    x = torch.randn(4, 2)
    with torch.no_grad():
        assert torch.allclose(Ensemble([a, b])(x), (a(x) + b(x)) / 2)
        probs = Ensemble([a, b], "probs")(x).softmax(dim=1)
        assert torch.allclose(probs, (a(x).softmax(1) + b(x).softmax(1)) / 2, atol=1e-6)


def test_gradients_reach_every_member() -> None:
    a, b = nn.Linear(2, 3), nn.Linear(2, 3)
    Ensemble([a, b], "probs")(torch.randn(4, 2)).sum().backward()
    assert a.weight.grad is not None and b.weight.grad is not None
    assert float(a.weight.grad.abs().sum()) > 0 and float(b.weight.grad.abs().sum()) > 0


@pytest.mark.parametrize(
    ("members", "combine", "message"),
    [([nn.Linear(2, 3)], "logits", "at least 2"), ([nn.Linear(2, 3)] * 2, "vote", "combine")],
)
def test_bad_ensembles_are_input_errors(members, combine, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match=message):
        Ensemble(members, combine)


def test_mismatched_members_are_an_input_error() -> None:
    with pytest.raises(InputError, match="disagree on the output shape"):
        Ensemble([nn.Linear(2, 3), nn.Linear(2, 4)])(torch.randn(1, 2))


@pytest.mark.slow
def test_the_ensemble_is_attacked_as_a_whole(members: list[nn.Module]) -> None:
    test = load_digits("test")
    x, y = torch.as_tensor(test.x[:200]), torch.as_tensor(test.y[:200])
    target = ensemble_target(members, combine="probs")
    attack = PGD(eps=0.1, steps=20, seed=0)
    direct = attack(target, x, y)
    assert direct.distances.max() <= 0.1 + 1e-6 and x.min() >= 0
    transferred = attack(TorchTarget(members[0]), x, y).x_adv
    robust_direct = float((target.predict(direct.x_adv) == y).float().mean())
    robust_transfer = float((target.predict(transferred) == y).float().mean())
    clean = float((target.predict(x) == y).float().mean())
    assert robust_direct < clean - 0.3  # the attack breaks the ensemble itself
    assert robust_direct < robust_transfer  # attacking one member overstates robustness
