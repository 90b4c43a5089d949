"""Poisoning attacks to run on one's own training data: BadNets, Blended, SIG, label flipping
and the label-consistent attack of Turner et al. (2019).

Every attack is seeded, leaves its inputs untouched and returns the ground truth (mask,
original labels, trigger), so detectors and defenses can be scored against it. Default
triggers assume inputs in [0, 1]; pass a trigger built with other ``bounds`` otherwise.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
import torch

from redline.attacks import PGD
from redline.errors import InputError
from redline.poisoning._poisoner import AttackSpec, Poisoner, check_class
from redline.poisoning._triggers import (
    BlendTrigger,
    FeaturePatchTrigger,
    PatchTrigger,
    SignalTrigger,
)
from redline.poisoning._types import Trigger
from redline.targets import Target, TorchTarget

__all__ = ["SIG", "BadNets", "Blended", "LabelConsistent", "LabelFlip", "default_patch"]

Array = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]
Index = npt.NDArray[np.intp]


def default_patch(
    sample_shape: tuple[int, ...], bounds: tuple[float, float] = (0.0, 1.0)
) -> Trigger:
    """BadNets' default trigger: a 3x3 checkerboard bottom-right on images, the last three
    features set high/low/high on tables."""
    if len(sample_shape) == 1:
        return FeaturePatchTrigger.last(sample_shape[0], min(3, sample_shape[0]), bounds=bounds)
    channels = sample_shape[0] if len(sample_shape) == 3 else 1
    size = min(3, *sample_shape[-2:])
    return PatchTrigger.checkerboard(size, channels, bounds=bounds)


def _stamp(trigger: Trigger, x: Array, idx: Index) -> Array:
    out = x.copy()
    if len(idx):
        chosen = x[idx]
        stamped = np.asarray(trigger(chosen), dtype=np.float32)
        if stamped.shape != chosen.shape:
            raise InputError(
                f"trigger returned shape {stamped.shape} for inputs of shape {chosen.shape}"
            )
        out[idx] = stamped
    return out


class _Backdoor(Poisoner):
    """Shared by the trigger attacks: all-to-one on samples outside the target (dirty
    label) or on samples of the target (clean label)."""

    clean_label: ClassVar[bool] = False
    target_class: int
    trigger: Trigger | None

    def _default_trigger(self, sample_shape: tuple[int, ...]) -> Trigger:
        return default_patch(sample_shape)

    def _trigger(self, sample_shape: tuple[int, ...]) -> Trigger:
        return self.trigger if self.trigger is not None else self._default_trigger(sample_shape)

    def _mode(self) -> Literal["all-to-one", "all-to-all"]:
        return "all-to-one"

    def _target(self, num_classes: int) -> int | None:
        if self._mode() == "all-to-all":
            return None
        return check_class(self.target_class, num_classes, "target_class", self.name)

    def spec(self, sample_shape: tuple[int, ...], num_classes: int) -> AttackSpec:
        target = self._target(num_classes)
        return AttackSpec(self._mode(), self._trigger(sample_shape), target, None, num_classes)

    def _candidates(self, y: Labels, num_classes: int) -> Index:
        target = self._target(num_classes)
        if target is None:
            return np.arange(len(y))
        return np.flatnonzero(y == target if self.clean_label else y != target)

    def _pool(self, num_classes: int) -> str:
        target = self._target(num_classes)
        if target is None:
            return "samples"
        return f"samples {'of' if self.clean_label else 'outside'} target class {target}"

    def _apply(
        self, x: Array, y: Labels, idx: Index, num_classes: int, seed: int
    ) -> tuple[Array, Labels]:
        x_p = _stamp(self._trigger(x.shape[1:]), self._prepare(x, y, idx, seed), idx)
        y_p = y.copy()
        if not self.clean_label:
            y_p[idx] = self.spec(x.shape[1:], num_classes).wanted(y[idx])
        return x_p, y_p

    def _prepare(self, x: Array, y: Labels, idx: Index, seed: int) -> Array:
        """Inputs before the trigger is stamped (label-consistent perturbs them here)."""
        return x


class BadNets(_Backdoor):
    """BadNets (Gu et al. 2017): stamp a patch on samples outside the target class and
    relabel them to it (``all-to-one``), or relabel ``y -> (y + 1) % K`` (``all-to-all``)."""

    name = "badnets"

    def __init__(
        self,
        *,
        trigger: Trigger | None = None,
        target_class: int = 0,
        rate: float,
        mode: Literal["all-to-one", "all-to-all"] = "all-to-one",
    ) -> None:
        self.trigger = trigger
        self.target_class = target_class
        self.rate = rate
        self.mode = mode

    def _mode(self) -> Literal["all-to-one", "all-to-all"]:
        if self.mode not in ("all-to-one", "all-to-all"):
            raise InputError(
                f"badnets: unknown mode {self.mode!r}; use 'all-to-one' or 'all-to-all'"
            )
        return self.mode


class Blended(_Backdoor):
    """Blended (Chen et al. 2017): BadNets with a blended noise key
    (default ``BlendTrigger.noise(sample_shape, seed=0, alpha=0.15)``)."""

    name = "blended"

    def __init__(
        self, *, trigger: Trigger | None = None, target_class: int = 0, rate: float
    ) -> None:
        self.trigger = trigger
        self.target_class = target_class
        self.rate = rate

    def _default_trigger(self, sample_shape: tuple[int, ...]) -> Trigger:
        return BlendTrigger.noise(sample_shape, seed=0)


class SIG(_Backdoor):
    """SIG (Barni et al. 2019), clean label: add a sinusoid to samples *of* the target
    class and keep their labels. ``rate`` is a fraction of the whole data set, so it
    cannot exceed the target class's share."""

    name = "sig"
    clean_label = True

    def __init__(
        self, *, trigger: Trigger | None = None, target_class: int = 0, rate: float
    ) -> None:
        self.trigger = trigger
        self.target_class = target_class
        self.rate = rate

    def _default_trigger(self, sample_shape: tuple[int, ...]) -> Trigger:
        return SignalTrigger()


class LabelConsistent(_Backdoor):
    """Label-consistent backdoor (Turner et al. 2019), clean label: make target-class
    samples hard to learn by an untargeted Linf PGD against ``surrogate`` (within ``eps``,
    no early stop), then stamp the trigger; labels stay correct, so the model leans on
    the trigger to classify them.

    ``eps`` defaults to the paper's CIFAR-10 budget (16/255); small grayscale digits need
    more (0.2 on 8x8 digits). The surrogate is any white-box target (gradients of the
    input only); the default trigger uses its bounds.
    """

    name = "label-consistent"
    clean_label = True

    def __init__(
        self,
        *,
        target_class: int = 0,
        rate: float,
        eps: float = 16 / 255,
        steps: int = 20,
        surrogate: Target,
        trigger: Trigger | None = None,
        batch_size: int = 256,
    ) -> None:
        self.target_class = target_class
        self.rate = rate
        self.eps = eps
        self.steps = steps
        self.surrogate = surrogate
        self.trigger = trigger
        self.batch_size = batch_size

    def params(self) -> dict[str, Any]:
        params = super().params()
        model = self.surrogate.module if isinstance(self.surrogate, TorchTarget) else None
        params["surrogate"] = type(model if model is not None else self.surrogate).__name__
        return params

    def _white_box(self) -> Target:
        if not isinstance(self.surrogate, Target) or not self.surrogate.differentiable:
            raise InputError(
                f"label-consistent: surrogate must be a white-box Target such as TorchTarget, "
                f"got {type(self.surrogate).__name__}"
            )
        return self.surrogate

    def _default_trigger(self, sample_shape: tuple[int, ...]) -> Trigger:
        return default_patch(sample_shape, self._white_box().bounds)

    def _prepare(self, x: Array, y: Labels, idx: Index, seed: int) -> Array:
        surrogate = self._white_box()
        if self.batch_size < 1:
            raise InputError(f"label-consistent: batch_size must be >= 1, got {self.batch_size}")
        pgd = PGD(eps=self.eps, steps=self.steps, early_stop=False, seed=seed)
        out = x.copy()
        for start in range(0, len(idx), self.batch_size):
            part = idx[start : start + self.batch_size]
            xb, yb = torch.as_tensor(x[part]), torch.as_tensor(y[part])
            result = pgd(surrogate, xb, yb, assume_correct=True)
            out[part] = result.x_adv.detach().cpu().numpy().astype(np.float32)
        return out


class LabelFlip(Poisoner):
    """Label flipping, no trigger: ``random`` moves each chosen label to another class
    (uniformly); ``targeted`` relabels ``source_class`` samples to ``target_class``."""

    name = "label-flip"

    def __init__(
        self,
        *,
        rate: float,
        mode: Literal["random", "targeted"] = "random",
        source_class: int | None = None,
        target_class: int | None = None,
    ) -> None:
        self.rate = rate
        self.mode = mode
        self.source_class = source_class
        self.target_class = target_class

    def spec(self, sample_shape: tuple[int, ...], num_classes: int) -> AttackSpec:
        if num_classes < 2:
            raise InputError(f"label-flip: needs at least 2 classes, got {num_classes}")
        if self.mode == "random":
            return AttackSpec("random", None, None, None, num_classes)
        if self.mode != "targeted":
            raise InputError(f"label-flip: unknown mode {self.mode!r}; use 'random' or 'targeted'")
        source = check_class(self.source_class, num_classes, "source_class", self.name)
        target = check_class(self.target_class, num_classes, "target_class", self.name)
        if source == target:
            raise InputError(f"label-flip: source_class and target_class are both {source}")
        return AttackSpec("targeted", None, target, source, num_classes)

    def _candidates(self, y: Labels, num_classes: int) -> Index:
        spec = self.spec((), num_classes)
        if spec.mode == "random":
            return np.arange(len(y))
        return np.flatnonzero(y == spec.source_class)

    def _pool(self, num_classes: int) -> str:
        spec = self.spec((), num_classes)
        return (
            "samples" if spec.mode == "random" else f"samples of source class {spec.source_class}"
        )

    def _apply(
        self, x: Array, y: Labels, idx: Index, num_classes: int, seed: int
    ) -> tuple[Array, Labels]:
        spec = self.spec(x.shape[1:], num_classes)
        y_p = y.copy()
        if spec.mode == "random":
            shift = np.random.default_rng([seed, 1]).integers(1, num_classes, size=len(idx))
            y_p[idx] = (y[idx] + shift) % num_classes
        else:
            y_p[idx] = spec.wanted(y[idx])
        return x.copy(), y_p
