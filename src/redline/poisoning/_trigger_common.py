"""Checks shared by every backdoor trigger: bounds, patterns, batches, seeds, clipping.

One place for them so that each trigger file holds its own maths only and every trigger
reports bad arguments the same way (one :class:`~redline.errors.InputError` line).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.errors import InputError

__all__ = ["Array", "Pattern"]

Array = npt.NDArray[np.float32]
Pattern = npt.NDArray[np.floating[Any]]
"""A pattern argument: any float array (lists work too); stored as read-only float32."""


def _bounds(bounds: Any) -> tuple[float, float]:
    """``(low, high)`` as floats, finite with low < high."""
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError) as exc:
        raise InputError(f"trigger bounds must be two numbers (low, high), got {bounds!r}") from exc
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise InputError(f"trigger bounds must be finite with low < high, got {bounds!r}")
    return lo, hi


def _pattern(value: Any, what: str, ndims: tuple[int, ...]) -> Array:
    """A finite, read-only float32 copy of a pattern with one of the allowed ranks."""
    arr = np.array(value, dtype=np.float32)
    if arr.ndim not in ndims or arr.size == 0:
        raise InputError(f"{what} pattern must be {ndims}-D and non-empty, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError(f"{what} pattern has NaN or infinite values")
    arr.flags.writeable = False
    return arr


def _batch(x: Any, min_ndim: int, what: str) -> Array:
    """``x`` as a float32 array of rank >= ``min_ndim`` (not copied when it already is one)."""
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim < min_ndim:
        raise InputError(f"{what} needs a batch of rank >= {min_ndim}, got shape {arr.shape}")
    return arr


def _clip(x: npt.NDArray[Any], bounds: tuple[float, float]) -> Array:
    """``x`` clipped to ``bounds`` as float32."""
    out: Array = np.clip(x, bounds[0], bounds[1]).astype(np.float32, copy=False)
    return out


def _seed(value: Any, what: str) -> int:
    """An integer seed (numpy integers too; bools and floats are refused)."""
    if isinstance(value, bool):
        raise InputError(f"{what} seed must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError as exc:
        raise InputError(f"{what} seed must be an integer, got {value!r}") from exc


def _fraction(value: Any, what: str) -> float:
    """A finite float in (0, 1]: an amplitude in bounds widths."""
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} must be a number in (0, 1], got {value!r}") from exc
    if not 0.0 < out <= 1.0:
        raise InputError(f"{what} must be in (0, 1] bounds widths, got {value!r}")
    return out


def _images(x: Any, what: str) -> Array:
    """A batch of images ``(n, ..., H, W)`` with H, W >= 2 (the spatial triggers' input)."""
    batch = _batch(x, 3, what)
    if min(batch.shape[-2:]) < 2:
        raise InputError(f"{what} needs images of at least 2x2 pixels, got shape {batch.shape}")
    return batch
