"""Randomized smoothing: exact statistics on constant classifiers, certificates of a
noise-trained model, determinism and batch-size independence, validity against PGD
inside the certified radius, and agreement with ART's implementation."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from scipy.stats import beta, binom, norm
from tests.conftest import seeded
from torch import nn

from redline import TorchTarget
from redline.attacks import PGD
from redline.datasets import load_breast_cancer, load_digits
from redline.defenses import (
    CertifyResult,
    SmoothedClassifier,
    certify_dataset,
    gaussian_augment_train,
)
from redline.defenses._smoothing import lower_confidence_bound
from redline.errors import InputError
from redline.zoo import digits_cnn, mlp

SIGMA = 0.25
ALPHA = 0.001


class Constant(nn.Module):
    """Always the same logits, whatever the input."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.register_buffer("out", torch.tensor([logits]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out.expand(len(x), -1)


class Sign(nn.Module):
    """Class 0 when the first feature is below 1/2, else class 1: a 50/50 tie at 1/2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.flatten(1)[:, :1] - 0.5
        return torch.cat([-z, z], dim=1)


class SoftSmoothed(nn.Module):
    """Log of the mean softmax over ``m`` noisy copies: the soft smoothed classifier that
    SmoothAdv (Salman et al. 2019) attacks."""

    def __init__(self, base: nn.Module, sigma: float, m: int = 32) -> None:
        super().__init__()
        self.base, self.sigma, self.m = base, sigma, m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        noisy = x.repeat_interleave(self.m, 0)
        noisy = noisy + self.sigma * torch.randn_like(noisy)
        probs = self.base(noisy).softmax(1).view(len(x), self.m, -1).mean(1)
        return probs.clamp_min(1e-12).log()


def _loader(x: torch.Tensor, y: torch.Tensor, batch: int = 64):  # type: ignore[no-untyped-def]
    def batches(epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seeded(epoch)))
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            yield x[idx], y[idx]

    return batches


@pytest.fixture(scope="module")
def cancer() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    train, test = load_breast_cancer("train"), load_breast_cancer("test")
    return (
        torch.as_tensor(train.x),
        torch.as_tensor(train.y),
        torch.as_tensor(test.x),
        torch.as_tensor(test.y),
    )


@pytest.fixture(scope="module")
def noisy_mlp(cancer) -> nn.Module:  # type: ignore[no-untyped-def]
    """The breast_cancer MLP trained under N(0, 0.25^2) noise."""
    torch.manual_seed(seeded(0))
    module = mlp()
    loader = _loader(cancer[0], cancer[1])
    gaussian_augment_train(module, loader, sigma=SIGMA, epochs=30, seed=seeded(0))
    return module


@pytest.fixture(scope="module")
def certified(noisy_mlp, cancer) -> CertifyResult:  # type: ignore[no-untyped-def]
    smoothed = SmoothedClassifier(noisy_mlp, SIGMA)
    return certify_dataset(smoothed, cancer[2], cancer[3], n0=100, n=1000, alpha=ALPHA)


# (a) statistics ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [10, 100, 1000, 4321])
def test_constant_classifier_gets_the_exact_clopper_pearson_radius(n: int) -> None:
    smoothed = SmoothedClassifier(Constant([0.0, 3.0, 1.0]), 0.5, batch_size=300)
    x = torch.rand(3, 5)
    labels, radii, p_lower = smoothed.certify_with_bound(x, 7, n, ALPHA, seed=1)
    expected = ALPHA ** (1 / n)
    assert expected == pytest.approx(float(beta.ppf(ALPHA, n, 1)), rel=1e-12)
    assert labels.tolist() == [1, 1, 1]
    assert torch.allclose(p_lower, torch.full((3,), expected, dtype=torch.float64), rtol=1e-12)
    radius = 0.5 * float(norm.ppf(expected))
    assert torch.allclose(radii, torch.full((3,), radius, dtype=torch.float64), rtol=1e-12)
    assert smoothed.forward_passes == 3 * (7 + n)


def test_too_few_samples_to_reach_one_half_abstain() -> None:
    smoothed = SmoothedClassifier(Constant([2.0, 0.0]), SIGMA)
    assert ALPHA ** (1 / 5) < 0.5  # even 5 out of 5 cannot certify at alpha = 0.001
    labels, radii = smoothed.certify(torch.rand(2, 4), 5, 5, ALPHA)
    assert labels.tolist() == [-1, -1] and radii.tolist() == [0.0, 0.0]
    assert smoothed.predict(torch.rand(2, 4), 5, 0.1).tolist() == [0, 0]  # p = 2^-4 <= 0.1


@pytest.mark.parametrize("k", [0, 1, 37, 500, 999, 1000])
def test_lower_bound_is_the_one_sided_clopper_pearson_bound(k: int) -> None:
    p = lower_confidence_bound(k, 1000, ALPHA)
    if k == 0:
        assert p == 0.0
    else:  # the p at which seeing k or more successes has probability exactly alpha
        assert float(binom.sf(k - 1, 1000, p)) == pytest.approx(ALPHA, rel=1e-6)


def test_a_tie_between_two_classes_abstains() -> None:
    smoothed = SmoothedClassifier(Sign(), SIGMA)
    x = torch.full((4, 3), 0.5)
    labels, radii = smoothed.certify(x, 100, 1000, ALPHA)
    assert labels.tolist() == [-1] * 4 and radii.tolist() == [0.0] * 4
    assert smoothed.predict(x, 1000, ALPHA).tolist() == [-1] * 4
    assert smoothed.predict(torch.full((2, 3), 0.9), 1000, ALPHA).tolist() == [1, 1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sigma": 0.0}, "sigma must be in (0, 10]"),
        ({"sigma": 10.5}, "sigma must be in (0, 10]"),
        ({"n": 0}, "n and n0 must be >= 1"),
        ({"n0": 0}, "n and n0 must be >= 1"),
        ({"alpha": 0.5}, "alpha must be in (0, 0.5)"),
        ({"alpha": 0.0}, "alpha must be in (0, 0.5)"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
    ],
)
def test_bad_settings_are_input_errors(kwargs: dict[str, float], message: str) -> None:
    settings: dict[str, float] = {"sigma": SIGMA, "n": 10, "n0": 10, "alpha": ALPHA}
    settings["batch_size"] = 10
    settings.update(kwargs)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        smoothed = SmoothedClassifier(
            Constant([1.0, 0.0]), settings["sigma"], batch_size=int(settings["batch_size"])
        )
        n, n0 = int(settings["n"]), int(settings["n0"])
        smoothed.certify(torch.rand(1, 2), n0, n, settings["alpha"])


def test_training_rejects_bad_settings(cancer) -> None:  # type: ignore[no-untyped-def]
    loader = _loader(cancer[0], cancer[1])
    with pytest.raises(InputError, match="sigma"):
        gaussian_augment_train(mlp(), loader, sigma=-1.0, epochs=1)
    with pytest.raises(InputError, match="epochs must be >= 1"):
        gaussian_augment_train(mlp(), loader, sigma=SIGMA, epochs=0)
    with pytest.raises(InputError, match="no batches"):
        gaussian_augment_train(mlp(), [], sigma=SIGMA, epochs=1)


# (b) a noise-trained model certifies -----------------------------------------------------


def test_noise_trained_mlp_certifies_a_non_trivial_fraction(certified: CertifyResult) -> None:
    r = certified
    assert len(r.labels) == 114 and r.forward_passes == 114 * 1100
    assert r.clean_accuracy >= 0.8  # worst over 5 seeds x 3 kernels: 0.886
    assert r.certified_accuracy(SIGMA) >= 0.4  # worst: 0.675
    assert r.max_radius == pytest.approx(SIGMA * norm.ppf(ALPHA ** (1 / 1000)))
    assert max(r.radii) <= r.max_radius + 1e-12
    curve = r.curve()
    assert curve[0] == (0.0, r.clean_accuracy) and curve[-1][0] <= r.max_radius
    assert all(a >= b for (_, a), (_, b) in itertools.pairwise(curve))
    assert r.abstention_rate == sum(p == -1 for p in r.predictions) / 114
    assert all(not (c and a) for c, a in zip(r.correct, r.abstained, strict=True))
    assert r.to_dict()["kind"] == "certified"


def test_noise_training_beats_plain_training_at_the_radius(
    certified: CertifyResult,
    cancer,  # type: ignore[no-untyped-def]
    cancer_mlp,  # type: ignore[no-untyped-def]
) -> None:
    plain = SmoothedClassifier(cancer_mlp.module, SIGMA)
    base = certify_dataset(plain, cancer[2], cancer[3], n0=100, n=1000, alpha=ALPHA)
    assert certified.certified_accuracy(SIGMA) > base.certified_accuracy(SIGMA)


def test_noise_trained_digits_cnn_certifies() -> None:
    train, test = load_digits("train"), load_digits("test")
    torch.manual_seed(seeded(0))
    module = digits_cnn()
    loader = _loader(torch.as_tensor(train.x), torch.as_tensor(train.y))
    gaussian_augment_train(module, loader, sigma=SIGMA, epochs=10, lr=3e-3, seed=seeded(0))
    smoothed = SmoothedClassifier(module, SIGMA)
    r = certify_dataset(smoothed, test.x[:60], test.y[:60], n0=50, n=500, alpha=ALPHA)
    # worst over 5 seeds x 3 kernels: 0.917 clean, 0.733 certified
    assert r.clean_accuracy >= 0.6 and r.certified_accuracy(SIGMA) >= 0.3
    assert all(a >= b for (_, a), (_, b) in itertools.pairwise(r.curve()))


# (c) determinism ---------------------------------------------------------------------------


def test_same_seed_same_certificates_whatever_the_batch_size(noisy_mlp, cancer) -> None:  # type: ignore[no-untyped-def]
    x, y = cancer[2][:12], cancer[3][:12]
    runs = [
        certify_dataset(SmoothedClassifier(noisy_mlp, SIGMA, batch_size=b), x, y, n0=30, n=200)
        for b in (1, 7, 64, 1000)
    ]
    for other in runs[1:]:
        assert other.predictions == runs[0].predictions
        assert other.radii == runs[0].radii
    sliced = SmoothedClassifier(noisy_mlp, SIGMA).certify(x[5:], 30, 200, ALPHA, first=5)
    assert sliced[1].tolist() == list(runs[0].radii[5:])
    seen: list[tuple[int, int]] = []
    reseeded = certify_dataset(
        SmoothedClassifier(noisy_mlp, SIGMA),
        x,
        y,
        n0=30,
        n=200,
        seed=1,
        callback=lambda *a: seen.append(a),
    )
    assert reseeded.p_lower != runs[0].p_lower
    assert seen[-1] == (12, 12) and len(seen) == 3  # 1000 // 230 = 4 samples per slice


def test_training_is_deterministic_under_its_seed(cancer) -> None:  # type: ignore[no-untyped-def]
    def train(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        module = mlp()
        loader = _loader(cancer[0][:128], cancer[1][:128])
        logs = gaussian_augment_train(module, loader, sigma=SIGMA, epochs=2, seed=seed)
        assert [log.epoch for log in logs] == [0, 1] and not module.training
        return module.state_dict()

    a, b, c = train(0), train(0), train(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_training_callback_stops_early(cancer) -> None:  # type: ignore[no-untyped-def]
    logs = gaussian_augment_train(
        mlp(), _loader(cancer[0], cancer[1]), sigma=SIGMA, epochs=5, callback=lambda log: False
    )
    assert len(logs) == 1


# (d) validity --------------------------------------------------------------------------------


def _flips(module: nn.Module, certified: CertifyResult, cancer, scale: float) -> int:  # type: ignore[no-untyped-def]
    """How many L2 PGD attacks at ``scale`` times a sample's certified radius change its
    smoothed prediction to another class (PGD on the base model and on the soft smoothed
    model; samples: the six smallest radii above 0.05, closest to the boundary, and the
    two largest)."""
    order = sorted(range(len(certified.radii)), key=lambda i: certified.radii[i])
    standing = [i for i in order if certified.correct[i] and certified.radii[i] > 0.05]
    picked = standing[:6] + standing[-2:]
    smoothed = SmoothedClassifier(module, SIGMA)
    torch.manual_seed(0)
    flips = 0
    for target in (TorchTarget(module), TorchTarget(SoftSmoothed(module, SIGMA))):
        for i in picked:
            x, y, eps = cancer[2][i : i + 1], cancer[3][i : i + 1], scale * certified.radii[i]
            x_adv = PGD(norm="l2", eps=eps, steps=20, early_stop=False)(target, x, y).x_adv
            assert float((x_adv - x).norm()) <= eps + 1e-5
            flips += int(smoothed.predict(x_adv, 1000, ALPHA, seed=7)) not in (int(y), -1)
    return flips


def test_no_attack_inside_the_radius_changes_the_smoothed_prediction(
    noisy_mlp,
    certified: CertifyResult,
    cancer,  # type: ignore[no-untyped-def]
) -> None:
    assert _flips(noisy_mlp, certified, cancer, 0.95) == 0


def test_the_same_attacks_at_twice_the_radius_do_change_it(
    noisy_mlp,
    certified: CertifyResult,
    cancer,  # type: ignore[no-untyped-def]
) -> None:
    """The validity test above is not vacuous: the radii are tight enough that the same
    attacks succeed just beyond them."""
    assert _flips(noisy_mlp, certified, cancer, 2.0) >= 6  # worst over 5 seeds x 3 kernels: 11


# (e) peer: ART ------------------------------------------------------------------------------


def _art_smoother(module: nn.Module, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from art.estimators.certification.randomized_smoothing import PyTorchRandomizedSmoothing

    art = PyTorchRandomizedSmoothing(
        model=module,
        loss=nn.CrossEntropyLoss(),
        input_shape=(30,),
        nb_classes=2,
        clip_values=(0.0, 1.0),
        sample_size=100,  # ART's n0
        scale=SIGMA,
        alpha=ALPHA,
        device_type="cpu",
    )
    try:
        import statsmodels  # noqa: F401
    except ImportError:  # ART imports statsmodels' proportion_confint(method="beta",
        # alpha=2 * alpha)[0]; without it, the same formula (scipy's beta quantile).
        monkeypatch.setattr(
            art, "_lower_confidence_bound", lambda k, n: lower_confidence_bound(int(k), n, ALPHA)
        )
    return art


@pytest.mark.peer
def test_certified_accuracy_agrees_with_art(
    noisy_mlp,
    certified: CertifyResult,
    cancer,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    art = _art_smoother(noisy_mlp, monkeypatch)
    np.random.seed(0)
    art_pred, art_radius = art.certify(cancer[2].numpy(), n=1000, batch_size=1000)
    y = cancer[3].numpy()
    m = len(y)
    for r in (0.0, SIGMA, 2 * SIGMA):
        theirs = float(np.mean((art_pred == y) & (art_radius >= r)))
        ours = certified.certified_accuracy(r)
        width = 2.576 * math.sqrt(max(ours * (1 - ours), 1 / m) / m)  # 99% binomial half-width
        print(f"radius {r:.2f}: redline {ours:.3f}, ART {theirs:.3f} (tolerance {width:.3f})")
        assert abs(ours - theirs) <= width
    both = (art_pred >= 0) & (np.asarray(certified.predictions) >= 0)
    assert np.mean(art_pred[both] == np.asarray(certified.predictions)[both]) >= 0.97
    # Per sample, both lower bounds estimate the same pA from n = 1000 draws each: they
    # differ by Monte Carlo noise only, sd sqrt(2 p (1 - p) / n); allow 4.5 sd.
    ours_p = np.asarray(certified.p_lower)[both]
    art_p = norm.cdf(art_radius[both] / SIGMA)
    sd = np.sqrt(2 * np.maximum(ours_p * (1 - ours_p), 1 / 1000) / 1000)
    print(f"pA_lower: median |redline - ART| {np.median(np.abs(ours_p - art_p)):.4f}")
    assert bool(np.all(np.abs(ours_p - art_p) <= 4.5 * sd + 1e-3))
