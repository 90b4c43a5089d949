"""Poisoned data on disk: one ``.npz`` of plain arrays plus a JSON string, no pickles.

Keys: ``x``, ``y`` (poisoned labels), ``mask`` (the payload), ``original_labels``,
``meta`` (JSON: format version, attack, rate, target class, params, source, trigger
description), ``cover`` when the attack made cover samples (older files have none) and,
for pattern triggers, ``trigger_pattern`` (the pattern array, kept out of the JSON).
Files are written to a temporary file next to the destination and renamed into place,
so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from redline._atomic import atomic_writer
from redline.datasets import Dataset
from redline.datasets._validate import one_line
from redline.errors import InputError
from redline.poisoning._triggers import trigger_from_dict
from redline.poisoning._types import PoisonedData

__all__ = ["FORMAT", "load_mask", "load_poisoned", "save_poisoned"]

FORMAT = "redline.poisoned/1"
_KEYS = ("x", "y", "mask", "original_labels", "meta")


def _meta(poisoned: PoisonedData) -> tuple[str, dict[str, npt.NDArray[Any]]]:
    """The JSON metadata and the extra arrays (the trigger pattern)."""
    arrays: dict[str, npt.NDArray[Any]] = {}
    trigger: dict[str, Any] | None = None
    if poisoned.trigger is not None:
        trigger = dict(poisoned.trigger.to_dict())
        try:
            trigger_from_dict(trigger)
        except InputError as exc:
            raise InputError(f"cannot save this trigger so that it loads again: {exc}") from exc
        if "pattern" in trigger:
            arrays["trigger_pattern"] = np.asarray(trigger.pop("pattern"), dtype=np.float32)
    meta = {
        "format": FORMAT,
        "attack": poisoned.attack,
        "rate": poisoned.rate,
        "target_class": poisoned.target_class,
        "params": poisoned.params,
        "source": poisoned.data.source,
        "class_names": poisoned.data.class_names,
        "trigger": trigger,
    }
    try:
        return json.dumps(meta), arrays
    except (TypeError, ValueError) as exc:
        raise InputError(f"poisoned data parameters are not JSON-serialisable: {exc}") from exc


def save_poisoned(poisoned: PoisonedData, path: str | os.PathLike[str]) -> Path:
    """Write ``poisoned`` to ``path`` (an ``.npz``) atomically; returns the path."""
    out = Path(path)
    meta, extra = _meta(poisoned)
    arrays: dict[str, npt.NDArray[Any]] = {
        "x": poisoned.data.x,
        "y": poisoned.data.y,
        "mask": np.asarray(poisoned.mask, dtype=bool),
        "original_labels": poisoned.original_labels,
        "meta": np.array(meta),
        **extra,
    }
    if poisoned.data.groups is not None:
        arrays["groups"] = poisoned.data.groups.astype(np.str_)
    if poisoned.cover is not None:
        arrays["cover"] = np.asarray(poisoned.cover, dtype=bool)
    with atomic_writer(out) as handle:
        np.savez_compressed(handle, **cast(dict[str, Any], arrays))
    return out


def _read(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Every array of an ``.npz`` (never unpickling), or an InputError naming the file."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a readable .npz archive (not a zip file)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: not a readable .npz archive ({one_line(exc)})") from exc


def _parse_meta(path: Path, raw: npt.NDArray[Any]) -> dict[str, Any]:
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: 'meta' is not valid JSON ({one_line(exc)})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise InputError(f"{path}: not a redline poisoned file (format {found!r}, want {FORMAT})")
    return meta


def _check_lengths(path: Path, arrays: dict[str, npt.NDArray[Any]]) -> None:
    n = len(arrays["x"]) if arrays["x"].ndim else -1
    for key in ("y", "mask", "original_labels", "cover"):
        if key in arrays and (arrays[key].ndim != 1 or len(arrays[key]) != n):
            raise InputError(
                f"{path}: {key!r} has shape {arrays[key].shape} but 'x' has shape "
                f"{arrays['x'].shape} (want one entry per sample)"
            )
    for key in ("mask", "cover"):
        if key in arrays and arrays[key].dtype != np.bool_:
            raise InputError(f"{path}: {key!r} must be boolean, got dtype {arrays[key].dtype}")
    if "cover" in arrays and (arrays["cover"] & arrays["mask"]).any():
        raise InputError(f"{path}: 'cover' and 'mask' overlap (a sample is payload or cover)")


def load_poisoned(path: str | os.PathLike[str]) -> PoisonedData:
    """Read a file written by :func:`save_poisoned`; every problem is one InputError line."""
    src = Path(path)
    arrays = _read(src)
    missing = [key for key in _KEYS if key not in arrays]
    if missing:
        raise InputError(f"{src}: missing key(s) {missing} (found: {sorted(arrays)})")
    _check_lengths(src, arrays)
    meta = _parse_meta(src, arrays["meta"])
    trigger = None
    if meta.get("trigger") is not None:
        description = dict(meta["trigger"])
        if "trigger_pattern" in arrays:
            description["pattern"] = arrays["trigger_pattern"]
        trigger = trigger_from_dict(description)
    names = meta.get("class_names")
    data = Dataset(
        arrays["x"].astype(np.float32, copy=False),
        arrays["y"].astype(np.int64, copy=False),
        str(meta.get("source", src)),
        groups=arrays.get("groups"),
        class_names=None if names is None else tuple(str(n) for n in names),
    )
    target = meta.get("target_class")
    return PoisonedData(
        data=data,
        mask=arrays["mask"],
        original_labels=arrays["original_labels"].astype(np.int64, copy=False),
        attack=str(meta.get("attack", "unknown")),
        rate=float(meta.get("rate", float(arrays["mask"].mean()))),
        target_class=None if target is None else int(target),
        trigger=trigger,
        params=dict(meta.get("params") or {}),
        cover=arrays.get("cover"),
    )


def load_mask(path: str | os.PathLike[str], n: int) -> npt.NDArray[np.bool_]:
    """A ground-truth poison mask for ``n`` samples, from a poisoned ``.npz`` (its ``mask``
    key), or a ``.npy`` of booleans (or 0/1); a mask of another length or shape is an error."""
    src = Path(path)
    if src.suffix == ".npy":
        try:
            mask = np.load(src, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise InputError(f"{src}: not a readable .npy mask ({one_line(exc)})") from exc
    else:
        arrays = _read(src)
        if "mask" not in arrays:
            raise InputError(f"{src}: no 'mask' key (found: {sorted(arrays)})")
        mask = arrays["mask"]
    if mask.ndim != 1 or len(mask) != n:
        raise InputError(
            f"{src}: the mask has shape {mask.shape} but the data has {n} samples "
            f"(want shape ({n},))"
        )
    if mask.dtype != np.bool_:
        if mask.dtype.kind not in "biu" or not np.isin(mask, (0, 1)).all():
            raise InputError(f"{src}: the mask must hold booleans or 0/1, got dtype {mask.dtype}")
        mask = mask.astype(bool)
    return np.asarray(mask, dtype=np.bool_)
