"""Tiny seeded digits models for the backdoor-detector tests: clean, BadNets and Blended.

The poisoning here is deliberately minimal and self-contained (the official poisoners
live in ``redline.poisoning``); each model is trained once per process (lru_cache).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import torch
from tests.conftest import seeded

from redline import TorchTarget
from redline.datasets import load_digits
from redline.zoo import accuracy, digits_cnn, train_classifier

__all__ = ["BackdooredModel", "apply_trigger", "digits_model"]

Array = npt.NDArray[np.float32]

RATE = 0.1
TARGETS = {"badnets": 0, "blended": 3}
BLEND_ALPHA = 0.15


def _checkerboard_patch(x: Array) -> Array:
    """BadNets: a 3x3 black/white checkerboard in the bottom-right corner."""
    out = x.copy()
    board = (np.indices((3, 3)).sum(axis=0) % 2).astype(np.float32)
    out[..., -3:, -3:] = board
    return out


def _blend_pattern() -> Array:
    """Blended: a fixed uniform-noise image, the same for every poisoned sample."""
    return np.random.default_rng(1234).random((1, 8, 8)).astype(np.float32)


def _blend(x: Array) -> Array:
    return ((1 - BLEND_ALPHA) * x + BLEND_ALPHA * _blend_pattern()).astype(np.float32)


def apply_trigger(attack: str, x: Array) -> Array:
    """The attack's trigger applied to a batch ``(n, 1, 8, 8)`` in [0, 1]."""
    triggers: dict[str, Callable[[Array], Array]] = {
        "badnets": _checkerboard_patch,
        "blended": _blend,
    }
    return triggers[attack](x)


@dataclass(frozen=True)
class BackdooredModel:
    """A trained digits model, its held-out data and (if poisoned) its backdoor."""

    attack: str
    target: TorchTarget
    target_class: int | None
    x_test: Array
    y_test: npt.NDArray[np.int64]
    clean_accuracy: float
    attack_success: float
    """Share of non-target test inputs sent to the target class by the trigger (0 if clean)."""


def _poison(attack: str, x: Array, y: npt.NDArray[np.int64]) -> tuple[Array, npt.NDArray[np.int64]]:
    """Trigger and relabel a seeded 10% of the training set, taken outside the target."""
    if attack == "clean":
        return x, y
    target = TARGETS[attack]
    rng = np.random.default_rng(seeded(0))
    pool = np.flatnonzero(y != target)
    idx = rng.choice(pool, size=round(RATE * len(y)), replace=False)
    x, y = x.copy(), y.copy()
    x[idx] = apply_trigger(attack, x[idx])
    y[idx] = target
    return x, y


@cache
def digits_model(attack: str = "clean", seed: int = 0) -> BackdooredModel:
    """Train ``digits_cnn`` on (possibly poisoned) digits; ``attack`` in clean/badnets/blended.
    The training ``seed`` and the poison draw are shifted by ``REDLINE_TEST_SEED``."""
    seed = seeded(seed)
    train, test = load_digits("train"), load_digits("test")
    x, y = _poison(attack, train.x, train.y)
    torch.manual_seed(seed)
    module = digits_cnn()
    train_classifier(module, x, y, epochs=30, lr=3e-3, seed=seed)
    target_class = TARGETS.get(attack)
    asr = 0.0
    if target_class is not None:
        keep = test.y != target_class
        triggered = torch.as_tensor(apply_trigger(attack, test.x[keep]))
        with torch.no_grad():
            asr = float((module(triggered).argmax(1) == target_class).float().mean())
    return BackdooredModel(
        attack,
        TorchTarget(module),
        target_class,
        test.x,
        test.y,
        accuracy(module, test.x, test.y),
        asr,
    )
