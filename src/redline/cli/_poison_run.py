"""What ``redline poison`` does once its options are parsed (imported lazily)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from redline._atomic import atomic_writer
from redline.cli._options import ModelSpec
from redline.cli._poison_attacks import build_poisoner
from redline.errors import InputError
from redline.poisoning import PoisonedData, save_poisoned

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
    patch_size: int | None
    alpha: float | None
    amplitude: float | None
    eps: float | None
    model: ModelSpec
    label_column: str
    seed: int
    patch_pattern: str | None = None
    patch_shape: str | None = None
    location: str | None = None
    key: str | None = None
    strength: float | None = None
    grid: int | None = None
    magnitude: float | None = None
    cover_rate: float | None = None


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
    attack = build_poisoner(req, tuple(data.x.shape[1:]))
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
