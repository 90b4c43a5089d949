"""Common image corruptions (Hendrycks & Dietterich, ICLR 2019) at five severities.

Ten of ImageNet-C's fifteen: Gaussian, shot and impulse noise, defocus and motion blur,
brightness, contrast, JPEG, pixelate and elastic, with the severities of the
``imagecorruptions`` package (Michaelis et al. 2019, ImageNet-C's parameters for any
image size), checked against it in ``benchmarks/corruptions.py``. Written with numpy,
scipy.ndimage and Pillow only (no OpenCV, no ImageMagick).

Image size: the paper's parameters in pixels are for a 224-pixel image. Blur radii and
widths and the elastic field act on a grid ``ceil(224 / side)`` times finer than the
image (``side`` = the shorter of height and width) and are folded or averaged back, so a
small image gets what a 224x224 nearest-upsampled copy would get, area-averaged back to
its size; an image larger than 224 has them scaled by ``side / 224``. Noise, brightness,
contrast and JPEG act on the image's own pixels; pixelate keeps a share of each side.

Every corruption takes a float batch ``(n, c, h, w)`` (``c`` = 1 or 3) inside ``bounds``,
returns the same shape and dtype inside the bounds, and draws its randomness from
``numpy.random.default_rng(seed)``: same seed, same output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.datasets._corrupt_blur import defocus_blur, motion_blur
from redline.datasets._corrupt_digital import brightness, contrast, jpeg_compression, pixelate
from redline.datasets._corrupt_elastic import elastic_transform
from redline.datasets._corrupt_kernels import Unit
from redline.datasets._corrupt_noise import gaussian_noise, impulse_noise, shot_noise
from redline.errors import InputError

__all__ = ["CORRUPTIONS", "SEVERITIES", "Corruption", "corrupt", "corruption_names"]

Corruption = Callable[[Unit, int, np.random.Generator], Unit]
"""``fn(u, severity, rng)``: a checked batch ``u`` mapped to [0, 1] (float64, n c h w),
severity 1..5, the generator to draw from; returns the corrupted batch in [0, 1]."""

SEVERITIES = (1, 2, 3, 4, 5)

CORRUPTIONS: Mapping[str, Corruption] = MappingProxyType(
    {
        "gaussian_noise": gaussian_noise,
        "shot_noise": shot_noise,
        "impulse_noise": impulse_noise,
        "defocus_blur": defocus_blur,
        "motion_blur": motion_blur,
        "brightness": brightness,
        "contrast": contrast,
        "jpeg_compression": jpeg_compression,
        "pixelate": pixelate,
        "elastic_transform": elastic_transform,
    }
)
"""Name -> corruption in [0, 1] space; :func:`corrupt` checks input and maps bounds."""


def corruption_names() -> tuple[str, ...]:
    """The corruption names, noise first, in the paper's order."""
    return tuple(CORRUPTIONS)


def _check_name_severity(name: str, severity: int) -> Corruption:
    if name not in CORRUPTIONS:
        raise InputError(f"unknown corruption {name!r}; known: {', '.join(corruption_names())}")
    if isinstance(severity, bool) or not isinstance(severity, int | np.integer):
        raise InputError(f"severity must be an integer 1..5, got {severity!r}")
    if int(severity) not in SEVERITIES:
        raise InputError(f"severity must be 1..5, got {severity}")
    return CORRUPTIONS[name]


def _check_batch(x: Any, bounds: tuple[float, float]) -> npt.NDArray[np.floating[Any]]:
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        raise InputError(f"corruptions take a float image batch, got dtype {arr.dtype}")
    if arr.ndim != 4 or arr.shape[1] not in (1, 3) or min(arr.shape[2:]) < 1:
        raise InputError(
            f"corruptions take images (n, c, h, w) with 1 or 3 channels, got shape {arr.shape}"
        )
    lo, hi = float(bounds[0]), float(bounds[1])
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise InputError(f"bounds must be finite with low < high, got {bounds}")
    if arr.size and not np.isfinite(arr).all():
        raise InputError("the image batch has NaN or infinite values")
    if arr.size and (float(arr.min()) < lo or float(arr.max()) > hi):
        raise InputError(
            f"the image batch has values outside the bounds [{lo:g}, {hi:g}] "
            f"(min {float(arr.min()):g}, max {float(arr.max()):g})"
        )
    return arr


def corrupt(
    x: Any,
    name: str,
    severity: int,
    *,
    seed: int = 0,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> npt.NDArray[np.floating[Any]]:
    """``x`` corrupted by ``name`` at ``severity`` (1..5): same shape and dtype, in bounds.

    Bad input (unknown name, severity outside 1..5, not a float ``(n, c, h, w)`` batch
    with 1 or 3 channels, values outside ``bounds``) raises :class:`InputError`.
    """
    fn = _check_name_severity(name, severity)
    arr = _check_batch(x, bounds)
    if arr.shape[0] == 0:
        return arr.copy()
    lo, hi = float(bounds[0]), float(bounds[1])
    unit = (arr.astype(np.float64) - lo) / (hi - lo)
    done = fn(np.clip(unit, 0.0, 1.0), int(severity), np.random.default_rng(seed))
    out = (lo + done * (hi - lo)).astype(arr.dtype)
    return np.clip(out, *_inner_bounds(lo, hi, arr.dtype))


def _inner_bounds(lo: float, hi: float, dtype: np.dtype[Any]) -> tuple[Any, Any]:
    """The bounds as values of ``dtype`` that lie inside them (rounding goes inwards)."""
    low, high = dtype.type(lo), dtype.type(hi)
    if float(low) < lo:
        low = np.nextafter(low, dtype.type(np.inf))
    if float(high) > hi:
        high = np.nextafter(high, dtype.type(-np.inf))
    return low, high
