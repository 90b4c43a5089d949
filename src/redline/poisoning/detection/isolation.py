"""Loss isolation: how a fresh copy of the model learns each sample in its first epochs
(after anti-backdoor learning, Li et al., NeurIPS 2021)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from redline.poisoning.detection._base import Labels, TrainingDataDetector
from redline.targets import TorchTarget, in_input_space
from redline.zoo import train_classifier

__all__ = ["LossIsolation"]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _FirstColumn:
    """The 1-D statistic is the signal itself (one column: ``1 - p(y | x)`` early on)."""

    def __call__(self, signal: npt.NDArray[np.float32]) -> Floats:
        return np.asarray(signal[:, 0], np.float64)


def _fresh_copy(module: nn.Module, seed: int) -> nn.Module:
    """A deep copy of ``module`` with every layer re-initialised (seeded, RNG restored)."""
    fresh = copy.deepcopy(module)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in fresh.modules():
            reset = getattr(m, "reset_parameters", None)
            if callable(reset):
                reset()
    return fresh


class LossIsolation(TrainingDataDetector):
    """Score each sample by its loss under a fresh copy of the model trained for only
    ``epochs`` epochs on the same data.

    Li et al. (ABL) observe that poisoned samples are learned *faster* than clean ones
    (the trigger is an easy shortcut) and isolate the lowest-loss samples. Which way it
    goes depends on trigger strength, data and model: on the 8x8 digits of the tests,
    poison is learned *slower* (before the trigger is picked up, a poisoned '3' still looks
    like a '3', so its target label costs a high loss). So no direction is assumed: the
    log early loss is modelled as one or two modes per class and the poison mode is the
    one whose samples disagree with their neighbours' labels, as in every detector here
    (see :class:`TrainingDataDetector`; the neighbours are taken in ``layer_`` of the
    trained model). Costs ``epochs`` epochs of training; the fresh copy is kept in
    ``early_target_`` to score new samples.
    """

    early_target_: TorchTarget

    def __init__(
        self, *, epochs: int = 2, lr: float = 3e-3, train_batch_size: int = 64, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.epochs = epochs
        self.lr = lr
        self.train_batch_size = train_batch_size

    def _prepare(self, target: TorchTarget, x: npt.NDArray[np.float32], y: Labels) -> None:
        fresh = in_input_space(target, _fresh_copy(target.module, self.random_state))
        train_classifier(
            fresh,
            x,
            y,
            epochs=self.epochs,
            lr=self.lr,
            batch_size=self.train_batch_size,
            seed=self.random_state,
        )
        self.early_target_ = TorchTarget(fresh, bounds=target.bounds)

    def _signal(
        self,
        target: TorchTarget,
        x: npt.NDArray[np.float32],
        y: Labels,
        features: npt.NDArray[np.float32],
    ) -> npt.NDArray[np.float32]:
        early = self.early_target_
        losses = []
        with early.session():
            for start in range(0, len(x), self.batch_size):
                xb = torch.as_tensor(x[start : start + self.batch_size], device=early.device)
                yb = torch.as_tensor(y[start : start + self.batch_size], device=early.device)
                logits = early.logits(xb)
                losses.append(nn.functional.cross_entropy(logits, yb, reduction="none").cpu())
        loss = torch.cat(losses).numpy() if losses else np.zeros(0, np.float32)
        early_error: npt.NDArray[np.float32] = (1.0 - np.exp(-loss)).astype(np.float32)
        return early_error[:, None]

    def _fit_class(self, signal: npt.NDArray[np.float32]) -> _FirstColumn:
        return _FirstColumn()
