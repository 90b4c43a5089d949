"""Checks every evaluation set passes before an attack sees it, with one-line errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from redline.errors import InputError

__all__ = ["one_line", "validate_arrays"]

_NUMERIC_KINDS = "biuf"


def one_line(text: object, limit: int = 200) -> str:
    """Collapse whitespace (newlines included) and cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _are(n: int, noun: str) -> str:
    return f"1 {noun} is" if n == 1 else f"{n} {noun}s are"


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _check_shapes(x: npt.NDArray[Any], y: npt.NDArray[Any], source: str) -> None:
    if x.dtype.kind not in _NUMERIC_KINDS:
        raise InputError(f"{source}: x is not numeric (dtype {x.dtype})")
    if x.size == 0 or y.size == 0:
        raise InputError(f"{source}: is empty (x has shape {x.shape}, y has shape {y.shape})")
    if x.ndim < 2:
        raise InputError(
            f"{source}: x needs a sample axis and at least one feature axis, got shape {x.shape}"
        )
    if y.ndim != 1:
        raise InputError(f"{source}: y must be 1-D labels, got shape {y.shape}")
    if len(x) != len(y):
        raise InputError(f"{source}: x has {len(x)} samples but y has {len(y)} labels")


def _finite_x(x: npt.NDArray[Any], source: str) -> npt.NDArray[np.float32]:
    if x.dtype.kind == "f":
        n_nan = int(np.isnan(x).sum())
        n_inf = int(np.isinf(x).sum())
        if n_nan and n_inf:
            raise InputError(f"{source}: {_are(n_nan, 'value')} NaN and {n_inf} infinite in x")
        if n_nan:
            raise InputError(f"{source}: {_are(n_nan, 'value')} NaN in x")
        if n_inf:
            raise InputError(f"{source}: {_are(n_inf, 'value')} infinite in x")
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(x, dtype=np.float32)
    n_over = int(np.isinf(out).sum())
    if n_over:
        raise InputError(f"{source}: {_are(n_over, 'value')} too large for float32 in x")
    return out


def _check_bounds(
    x: npt.NDArray[np.float32], raw_dtype: np.dtype[Any], bounds: tuple[float, float], source: str
) -> None:
    lo, hi = float(bounds[0]), float(bounds[1])
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise InputError(f"{source}: bounds must be finite with low < high, got {bounds}")
    x_min, x_max = float(x.min()), float(x.max())
    if x_min >= lo and x_max <= hi:
        return
    n_out = int(((x < lo) | (x > hi)).sum())
    hint = "; scale 8-bit data to [0, 1] first" if raw_dtype == np.uint8 and x_max > hi else ""
    raise InputError(
        f"{source}: {_are(n_out, 'value')} outside the bounds [{_fmt(lo)}, {_fmt(hi)}] in x "
        f"(observed min {_fmt(x_min)}, max {_fmt(x_max)}){hint}"
    )


def _int_labels(y: npt.NDArray[Any], source: str) -> npt.NDArray[np.int64]:
    if y.dtype.kind not in _NUMERIC_KINDS:
        raise InputError(f"{source}: y is not numeric (dtype {y.dtype})")
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y)
        if bad.any():
            raise InputError(f"{source}: {_are(int(bad.sum()), 'label')} NaN or infinite in y")
        frac = y != np.round(y)
        if frac.any():
            count, example = int(frac.sum()), _fmt(float(y[np.argmax(frac)]))
            raise InputError(
                f"{source}: {_are(count, 'label')} not a whole number in y (e.g. {example})"
            )
    if y.dtype.kind == "u" and y.dtype.itemsize >= 8 and int(y.max()) > np.iinfo(np.int64).max:
        raise InputError(f"{source}: labels in y exceed the int64 range")
    return np.ascontiguousarray(y, dtype=np.int64)


def _check_labels(y: npt.NDArray[np.int64], num_classes: int | None, source: str) -> None:
    if num_classes is not None and num_classes < 1:
        raise InputError(f"{source}: num_classes must be >= 1, got {num_classes}")
    if int(y.min()) < 0:
        n_neg = int((y < 0).sum())
        raise InputError(f"{source}: {_are(n_neg, 'label')} negative in y (min {int(y.min())})")
    if num_classes is not None and int(y.max()) >= num_classes:
        n_big = int((y >= num_classes).sum())
        raise InputError(
            f"{source}: {_are(n_big, 'label')} >= num_classes={num_classes} in y "
            f"(max label {int(y.max())})"
        )


def validate_arrays(
    x: Any,
    y: Any,
    *,
    source: str,
    bounds: tuple[float, float] | None = None,
    num_classes: int | None = None,
    groups: Any = None,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Check inputs, labels and groups for the usual mistakes; return float32 x, int64 y.

    Each problem raises :class:`InputError` with one line that starts with ``source``.
    """
    x_arr, y_arr = np.asarray(x), np.asarray(y)
    _check_shapes(x_arr, y_arr, source)
    x_out = _finite_x(x_arr, source)
    if bounds is not None:
        _check_bounds(x_out, x_arr.dtype, bounds, source)
    y_out = _int_labels(y_arr, source)
    _check_labels(y_out, num_classes, source)
    if groups is not None:
        g = np.asarray(groups)
        if g.ndim != 1 or len(g) != len(x_out):
            raise InputError(
                f"{source}: groups must be 1-D with one entry per sample, "
                f"got shape {g.shape} for {len(x_out)} samples"
            )
    return x_out, y_out
