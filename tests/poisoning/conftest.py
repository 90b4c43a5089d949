"""Poisoned digits for the training-data detector tests: BadNets and Blended at 1%, 5% and
10%, plus a clean set, each with a seeded ``digits_cnn`` trained on it once per session.

The poisoning is a tiny self-contained helper (the official poisoners live in
``redline.poisoning``): a seeded ``rate`` share of the training set, drawn outside the
target class 0, gets the trigger and the label 0. At 10% the target class is then about
half poison, the regime where minority-based detectors fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import pytest
import torch
from tests.conftest import seeded

from redline import TorchTarget
from redline.datasets import load_digits
from redline.zoo import accuracy, digits_cnn, train_classifier

Images = npt.NDArray[np.float32]

TARGET_CLASS = 0
RATES = (0.01, 0.05, 0.1)
ATTACKS = ("badnets", "blended")
BLEND_ALPHA = 0.15


def badnets(x: Images) -> Images:
    """A 3x3 black/white checkerboard stamped in the bottom-right corner."""
    out = x.copy()
    out[..., -3:, -3:] = (np.indices((3, 3)).sum(axis=0) % 2 == 0).astype(np.float32)
    return out


def blended(x: Images) -> Images:
    """A fixed uniform-noise image blended in at alpha 0.15."""
    noise = np.random.default_rng(7).random(x.shape[1:]).astype(np.float32)
    return ((1 - BLEND_ALPHA) * x + BLEND_ALPHA * noise).astype(np.float32)


TRIGGERS: dict[str, Callable[[Images], Images]] = {"badnets": badnets, "blended": blended}


@dataclass(frozen=True)
class PoisonedModel:
    """A digits CNN trained on ``(x, y)``; ``mask`` marks the poisoned training samples."""

    attack: str
    rate: float
    target: TorchTarget
    x: Images
    y: npt.NDArray[np.int64]
    mask: npt.NDArray[np.bool_]
    clean_accuracy: float
    attack_success: float

    @property
    def target_share(self) -> float:
        """Share of poison inside the target class."""
        return float(self.mask[self.y == TARGET_CLASS].mean())


def poison(
    x: Images, y: npt.NDArray[np.int64], attack: str, rate: float, seed: int = 0
) -> tuple[Images, npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Trigger and relabel a seeded ``rate`` share of ``(x, y)``, taken outside the target."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(np.flatnonzero(y != TARGET_CLASS), size=round(rate * len(y)), replace=False)
    x, y = x.copy(), y.copy()
    x[idx] = TRIGGERS[attack](x[idx])
    y[idx] = TARGET_CLASS
    mask = np.zeros(len(y), bool)
    mask[idx] = True
    return x, y, mask


@cache
def poisoned_model(attack: str, rate: float, seed: int = 0) -> PoisonedModel:
    """Train ``digits_cnn`` (lr 3e-3, 20 epochs) on digits poisoned by ``attack`` at ``rate``;
    ``attack="clean"`` trains on the clean set. Cached: each is trained once per session.
    ``seed`` (poison draw and training) is shifted by ``REDLINE_TEST_SEED``."""
    seed = seeded(seed)
    train, test = load_digits("train"), load_digits("test")
    if attack == "clean":
        x, y, mask = train.x, train.y, np.zeros(len(train.y), bool)
    else:
        x, y, mask = poison(train.x, train.y, attack, rate, seed)
    torch.manual_seed(seed)
    module = digits_cnn()
    train_classifier(module, x, y, epochs=20, lr=3e-3, seed=seed)
    asr = 0.0
    if attack != "clean":
        keep = test.y != TARGET_CLASS
        with torch.no_grad():
            pred = module(torch.as_tensor(TRIGGERS[attack](test.x[keep]))).argmax(dim=1)
        asr = float((pred == TARGET_CLASS).float().mean())
    return PoisonedModel(
        attack, rate, TorchTarget(module), x, y, mask, accuracy(module, test.x, test.y), asr
    )


@pytest.fixture(scope="session")
def digits_models() -> Callable[[str, float], PoisonedModel]:
    """``digits_models(attack, rate)``: the (cached) model trained on that poisoned set."""
    torch.set_num_threads(1)
    return poisoned_model


@pytest.fixture(scope="session")
def digit_triggers() -> dict[str, Callable[[Images], Images]]:
    """The triggers by attack name, to stamp new (e.g. held-out) digits."""
    return dict(TRIGGERS)
