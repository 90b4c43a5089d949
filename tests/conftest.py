"""Shared fixtures: tiny seeded models trained on bundled data (seconds, CPU)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
import torch
from torch import nn

from redline import TorchTarget
from redline.datasets import Dataset, load_breast_cancer, load_digits
from redline.zoo import mlp, small_cnn, train_classifier

if TYPE_CHECKING:
    from redline.evaluation import ScanResult

# One intra-op thread: the models are tiny, and on a busy 2-core CI machine two OpenMP
# threads spin-wait on each other (seen here: 10x slower).
torch.set_num_threads(1)


def seeded(base: int = 0) -> int:
    """``base`` shifted by ``REDLINE_TEST_SEED`` (unset: 0, today's seeds): every training,
    poisoning and split seed of a trained-model test goes through here, so a whole run can
    be repeated on other seeds without editing a test (see CONTRIBUTING.md)."""
    return base + int(os.environ.get("REDLINE_TEST_SEED", "0"))


@dataclass(frozen=True)
class Trained:
    """A trained model with its held-out data, ready to attack."""

    module: nn.Module
    target: TorchTarget
    test: Dataset
    x: torch.Tensor
    y: torch.Tensor


def _trained(module: nn.Module, train: Dataset, test: Dataset, epochs: int) -> Trained:
    torch.manual_seed(seeded(0))
    train_classifier(module, train.x, train.y, epochs=epochs, seed=seeded(0))
    return Trained(
        module, TorchTarget(module), test, torch.as_tensor(test.x), torch.as_tensor(test.y)
    )


@pytest.fixture(scope="session")
def digits_cnn() -> Trained:
    """Undefended small CNN on 8x8 digits (~97% clean accuracy, 359 test samples)."""
    torch.manual_seed(seeded(0))
    return _trained(small_cnn(), load_digits("train"), load_digits("test"), epochs=30)


@pytest.fixture(scope="session")
def cancer_mlp() -> Trained:
    """Undefended MLP on breast_cancer (2 classes, 114 test samples)."""
    torch.manual_seed(seeded(0))
    return _trained(mlp(), load_breast_cancer("train"), load_breast_cancer("test"), epochs=60)


@pytest.fixture(scope="session")
def digits_scan(digits_cnn: Trained) -> ScanResult:
    """A real, small scan of the digits CNN (quick suite, 80 samples, 3 eps)."""
    from redline.evaluation import scan

    return scan(
        digits_cnn.target,
        digits_cnn.x[:80],
        digits_cnn.y[:80],
        threat="linf",
        eps=[0.05, 0.1, 0.2],
        suite="quick",
        class_names=digits_cnn.test.class_names,
        check_samples=40,
        data_source="bundled:digits[test]",
    )
