"""Data, models and settings of the hardening benchmark: the bundled 8x8 digits with
``digits_cnn`` and breast_cancer with ``mlp``, both scaled to [0, 1] per feature."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

__all__ = [
    "CONTROL",
    "DATASETS",
    "METHODS",
    "Cell",
    "Data",
    "Quantised",
    "Spec",
    "load",
    "loader",
    "spec",
]

Array = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]

DATASETS = ("digits CNN", "breast_cancer MLP")
METHODS = ("standard", "pgd-at", "trades", "fgsm-rs", "fgsm-rs-noguard", "pgd-at-half")
"""Trained per seed, same initial weights, same epochs, Adam, lr, batch 64.
``pgd-at-half`` is PGD-AT trained at half the headline eps: the training eps is the
knob that trades robustness for clean accuracy."""
CONTROL = "masked"
"""Not trained: the seed's standard model behind ``round(x * levels) / levels`` (zero
gradients by construction), the positive control of the sanity checks."""


@dataclass(frozen=True)
class Spec:
    """Budgets of one dataset (printed in the table headers)."""

    name: str
    eps: tuple[float, ...]
    headline: float
    epochs: int
    samples: int
    quick_samples: int
    sigma: float
    radius: float
    lr: float = 1e-3
    batch: int = 64
    steps: int = 10
    beta: float = 6.0
    levels: int = 16
    n0: int = 100
    n: int = 1000
    alpha: float = 0.001


SPECS = {
    # pixels in [0, 1]: the usual 8x8-digits grid; 0.1 is the headline of the issue.
    "digits CNN": Spec(
        "digits CNN",
        eps=(0.05, 0.1, 0.2),
        headline=0.1,
        epochs=30,
        samples=359,
        quick_samples=120,
        sigma=0.25,
        radius=0.25,
    ),
    # every feature min-max scaled to [0, 1] over the whole table: the same grid is the
    # same share of each feature's range as on digits (no domain standard for tabular eps).
    "breast_cancer MLP": Spec(
        "breast_cancer MLP",
        eps=(0.05, 0.1, 0.2),
        headline=0.1,
        epochs=60,
        samples=114,
        quick_samples=114,
        sigma=0.25,
        radius=0.25,
    ),
}


def spec(dataset: str) -> Spec:
    """The budgets of ``dataset``."""
    return SPECS[dataset]


@dataclass(frozen=True)
class Cell:
    """One unit of work: every method on one dataset and seed (``kind="train"``), or the
    randomized-smoothing comparison on one dataset (``kind="smoothing"``); ``rounds`` of
    training are timed per seed."""

    kind: str
    dataset: str
    seed: int
    samples: int
    rounds: int = 3


@dataclass(frozen=True)
class Data:
    """Training set, test set, the data's bounds, class count and model factory."""

    x_train: Array
    y_train: Labels
    x_test: Array
    y_test: Labels
    bounds: tuple[float, float]
    classes: int
    factory: Callable[[], nn.Module]


@cache
def load(dataset: str) -> Data:
    """The bundled split; bounds are the min and max over train and test (both [0, 1])."""
    from redline.datasets import load_breast_cancer, load_digits
    from redline.zoo import digits_cnn, mlp

    digits = dataset == "digits CNN"
    get = load_digits if digits else load_breast_cancer
    train, test = get("train"), get("test")
    lo = float(min(train.x.min(), test.x.min()))
    hi = float(max(train.x.max(), test.x.max()))
    classes = int(max(train.y.max(), test.y.max())) + 1
    factory = digits_cnn if digits else mlp
    return Data(train.x, train.y, test.x, test.y, (lo, hi), classes, factory)


def loader(
    x: Array, y: Labels, batch: int, seed: int
) -> Callable[[int], Iterator[tuple[torch.Tensor, torch.Tensor]]]:
    """``epoch -> batches``: redline's own seeded loader (a permutation per (seed, epoch))."""
    from redline.defenses import epoch_batches

    return epoch_batches(x, y, batch, seed)


class Quantised(nn.Module):
    """``inner(round(x * levels) / levels)``: exact on 8x8 digits (multiples of 1/16),
    zero gradient everywhere: gradient masking by construction."""

    def __init__(self, inner: nn.Module, levels: int) -> None:
        super().__init__()
        self.inner, self.levels = inner, levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(torch.round(x * self.levels) / self.levels)
