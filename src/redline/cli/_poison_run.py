"""What ``redline poison`` does once its options are parsed (imported lazily)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, cast

import numpy as np

from redline._atomic import atomic_writer
from redline.cli._options import ModelSpec
from redline.errors import InputError
from redline.poisoning import (
    SIG,
    BadNets,
    Blended,
    BlendTrigger,
    FeaturePatchTrigger,
    LabelConsistent,
    LabelFlip,
    PatchTrigger,
    PoisonedData,
    Poisoner,
    SignalTrigger,
    Trigger,
    save_poisoned,
)

__all__ = ["PoisonRequest", "mask_path", "run_poison"]


@dataclass(frozen=True)
class PoisonRequest:
    """Every option of ``redline poison``."""

    data: str
    attack: str
    rate: float
    out: Path
    target_class: int | None
    mode: str | None
    source_class: int | None
    patch_size: int
    alpha: float
    amplitude: float
    eps: float
    model: ModelSpec
    label_column: str
    seed: int


def mask_path(out: Path) -> Path:
    """Where the ground-truth mask of ``out`` goes: ``name.mask.npy`` beside it."""
    return out.with_name(out.stem + ".mask.npy")


def _check_out(out: Path) -> None:
    if out.suffix != ".npz":
        raise InputError(f"--out {out}: the poisoned file must end in .npz")
    if out.is_dir():
        raise InputError(f"--out {out}: is a directory")
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK):
        raise InputError(f"--out {out}: folder {out.parent} is not writable")


def _patch(shape: tuple[int, ...], size: int, bounds: tuple[float, float]) -> Trigger:
    if len(shape) == 1:
        return FeaturePatchTrigger.last(shape[0], min(size, shape[0]), bounds=bounds)
    channels = shape[0] if len(shape) == 3 else 1
    return PatchTrigger.checkerboard(size, channels, bounds=bounds)


def _poisoner(req: PoisonRequest, shape: tuple[int, ...]) -> Poisoner:
    """The attack object for the options; options that do not apply are refused."""
    bounds = req.model.parsed_bounds()
    target = 0 if req.target_class is None else req.target_class
    if req.mode is not None and req.attack not in ("badnets", "label-flip"):
        raise InputError(f"--mode applies to badnets and label-flip, not {req.attack}")
    if req.attack == "badnets":
        mode = req.mode or "all-to-one"
        if mode not in ("all-to-one", "all-to-all"):
            raise InputError(f"--mode {mode!r}: badnets takes all-to-one or all-to-all")
        trigger = _patch(shape, req.patch_size, bounds)
        kind = cast(Literal["all-to-one", "all-to-all"], mode)
        return BadNets(trigger=trigger, target_class=target, rate=req.rate, mode=kind)
    if req.attack == "blended":
        key = BlendTrigger.noise(shape, seed=req.seed, alpha=req.alpha, bounds=bounds)
        return Blended(trigger=key, target_class=target, rate=req.rate)
    if req.attack == "sig":
        signal = SignalTrigger(amplitude=req.amplitude, bounds=bounds)
        return SIG(trigger=signal, target_class=target, rate=req.rate)
    if req.attack == "label-flip":
        mode = req.mode or ("targeted" if req.source_class is not None else "random")
        if mode not in ("random", "targeted"):
            raise InputError(f"--mode {mode!r}: label-flip takes random or targeted")
        wanted = req.target_class if mode == "targeted" else None
        return LabelFlip(
            rate=req.rate,
            mode=cast(Literal["random", "targeted"], mode),
            source_class=req.source_class,
            target_class=wanted,
        )
    if req.attack == "label-consistent":
        req.model.check()
        surrogate, _ = req.model.load()
        trigger = _patch(shape, req.patch_size, bounds)
        return LabelConsistent(
            target_class=target, rate=req.rate, eps=req.eps, surrogate=surrogate, trigger=trigger
        )
    from redline.cli.poison import ATTACK_NAMES

    raise InputError(f"unknown attack {req.attack!r}; choose from {', '.join(ATTACK_NAMES)}")


def _save_mask(mask: np.typing.NDArray[np.bool_], path: Path) -> None:
    with atomic_writer(path) as handle:
        np.save(handle, mask, allow_pickle=False)


def run_poison(req: PoisonRequest) -> tuple[PoisonedData, Path]:
    """Load, poison, and write the poisoned file and its mask (both or neither)."""
    from redline.datasets import load_data

    _check_out(req.out)
    data = load_data(req.data, label_column=req.label_column, bounds=req.model.parsed_bounds())
    num_classes = int(data.y.max()) + 1
    if data.class_names:
        num_classes = max(num_classes, len(data.class_names))
    attack = _poisoner(req, tuple(data.x.shape[1:]))
    poisoned = attack.poison(data.x, data.y, seed=req.seed, num_classes=num_classes)
    if data.class_names:
        named = replace(poisoned.data, class_names=data.class_names, groups=data.groups)
        poisoned = replace(poisoned, data=named)
    mask_file = mask_path(req.out)
    save_poisoned(poisoned, req.out)
    try:
        _save_mask(poisoned.mask, mask_file)
    except BaseException:
        with contextlib.suppress(OSError):
            req.out.unlink()
        raise
    return poisoned, mask_file
