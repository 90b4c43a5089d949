"""Keys for the Blended trigger besides uniform noise: a seeded smooth (low-frequency)
key and another image resized to the samples' shape, both spanning the bounds."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.fft
import torch
import torch.nn.functional as F

from redline.errors import InputError
from redline.poisoning._trigger_common import Array

__all__ = ["image_key", "low_frequency_key"]


def _span(values: npt.NDArray[Any], bounds: tuple[float, float], what: str) -> Array:
    """``values`` rescaled affinely so that they span exactly ``[low, high]``."""
    lo, hi = bounds
    vmin, vmax = float(values.min()), float(values.max())
    if not vmax > vmin:
        raise InputError(f"{what} is constant: a blend key must vary to carry a signal")
    out = lo + (hi - lo) * (values - vmin) / (vmax - vmin)
    return np.clip(out, lo, hi).astype(np.float32)


def low_frequency_key(
    shape: tuple[int, ...], seed: int, cutoff: int, bounds: tuple[float, float]
) -> Array:
    """A smooth key of one sample's ``shape``: standard-normal coefficients on the lowest
    ``cutoff`` frequencies of each spatial axis (the last two; the only one of 1-D
    samples), zero elsewhere, inverse orthonormal DCT, rescaled to span the bounds.

    Leading axes (channels) get their own coefficients. An axis shorter than ``cutoff``
    keeps all of its frequencies.
    """
    dims = tuple(int(s) for s in shape)
    if not 1 <= len(dims) <= 3 or min(dims) < 1:
        raise InputError(f"a low-frequency key needs a sample shape of rank 1-3, got {shape!r}")
    if int(cutoff) < 2:
        raise InputError(f"a low-frequency key needs cutoff >= 2 (1 is a constant), got {cutoff}")
    axes = tuple(range(len(dims)))[-2:]
    box = tuple(min(int(cutoff), n) if a in axes else n for a, n in enumerate(dims))
    coefficients = np.zeros(dims, dtype=np.float64)
    coefficients[tuple(slice(0, b) for b in box)] = np.random.default_rng(seed).standard_normal(box)
    smooth = scipy.fft.idctn(coefficients, axes=axes, norm="ortho")
    return _span(np.asarray(smooth), bounds, f"a low-frequency key of shape {dims}")


def image_key(image: Any, shape: tuple[int, ...], bounds: tuple[float, float]) -> Array:
    """``image`` (``(H', W')`` or channel-first ``(c', H', W')``) resized to one sample's
    ``shape`` (``(H, W)`` or ``(c, H, W)``), area-averaged when it shrinks and bilinear
    otherwise, rescaled to span the bounds. Colour images become grey for one-channel
    samples; grey images are repeated on every channel."""
    src = np.asarray(image, dtype=np.float64)
    dims = tuple(int(s) for s in shape)
    if src.ndim not in (2, 3) or src.size == 0 or not np.isfinite(src).all():
        raise InputError(
            f"a blend image must be a finite 2-D or (c, H, W) array, got shape {src.shape}"
        )
    if len(dims) not in (2, 3) or min(dims) < 1:
        raise InputError(f"a blend image needs a sample shape (H, W) or (c, H, W), got {shape!r}")
    channels = dims[0] if len(dims) == 3 else 1
    planes = src if src.ndim == 3 else src[None]
    if planes.shape[0] != channels:
        if channels == 1:
            planes = planes.mean(axis=0, keepdims=True)
        elif planes.shape[0] == 1:
            planes = np.repeat(planes, channels, axis=0)
        else:
            raise InputError(
                f"a {planes.shape[0]}-channel blend image does not fit {channels}-channel samples"
            )
    size = dims[-2:]
    shrinks = size[0] <= planes.shape[1] and size[1] <= planes.shape[2]
    mode = "area" if shrinks else "bilinear"
    tensor = torch.from_numpy(np.array(planes, np.float64))[None]
    corners = None if shrinks else False
    resized = F.interpolate(tensor, size=size, mode=mode, align_corners=corners)
    key = _span(resized[0].numpy(), bounds, "the blend image")
    return key.reshape(dims)
