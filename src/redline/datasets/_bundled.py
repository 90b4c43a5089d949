"""Demo data that ships with scikit-learn: no download, ever."""

from __future__ import annotations

from typing import Literal

import numpy as np

from redline.datasets._dataset import Dataset

__all__ = ["load_breast_cancer", "load_digits"]

Split = Literal["train", "test", "all"]


def _split(n: int, split: Split, test_fraction: float, seed: int) -> np.typing.NDArray[np.intp]:
    order = np.random.default_rng(seed).permutation(n)
    n_test = round(n * test_fraction)
    if split == "test":
        return np.sort(order[:n_test])
    if split == "train":
        return np.sort(order[n_test:])
    return np.arange(n)


def load_digits(split: Split = "test", *, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's 8x8 handwritten digits as images ``(n, 1, 8, 8)`` in [0, 1]."""
    from sklearn.datasets import load_digits as sk_digits

    raw = sk_digits()
    idx = _split(len(raw.target), split, test_fraction, seed)
    x = (raw.images[idx] / 16.0).astype(np.float32)[:, None, :, :]
    y = raw.target[idx].astype(np.int64)
    names = tuple(str(c) for c in range(10))
    return Dataset(x, y, f"bundled:digits[{split}]", class_names=names)


def load_breast_cancer(
    split: Split = "test", *, test_fraction: float = 0.2, seed: int = 0
) -> Dataset:
    """scikit-learn's breast_cancer table, each feature min-max scaled to [0, 1]."""
    from sklearn.datasets import load_breast_cancer as sk_bc

    raw = sk_bc()
    data = raw.data.astype(np.float64)
    lo, hi = data.min(axis=0), data.max(axis=0)
    scaled = ((data - lo) / np.where(hi > lo, hi - lo, 1.0)).astype(np.float32)
    idx = _split(len(raw.target), split, test_fraction, seed)
    names = tuple(str(n) for n in raw.target_names)
    return Dataset(
        scaled[idx],
        raw.target[idx].astype(np.int64),
        f"bundled:breast_cancer[{split}]",
        class_names=names,
    )
