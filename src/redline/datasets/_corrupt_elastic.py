"""Elastic transform: each image warped by a smooth random displacement field.

The ``imagecorruptions`` variant of ImageNet-C's elastic transform (Michaelis et al.
2019: no random affine part, so content stays in place): uniform noise of half-width
``0.005 * height`` smoothed by a Gaussian of ``0.01 * side`` (truncated at 3 sigma) and
multiplied by the severity's ``alpha``, which gives displacements of about 1.1 to 2.5
pixels (standard deviation) on a 224-pixel image. The field is a per-pixel quantity that
does not shrink with the image, so it is drawn and applied on the fine grid of
:mod:`._corrupt_kernels` (a 224-pixel copy of a small image, upsampled by nearest
neighbour; larger images also have it scaled by ``side / 224``) and area-averaged back:
on 8x8 digits it moves 0.04-0.09 pixels (standard deviation), on 32x32 0.15-0.36. It costs
what a 224-pixel image costs: about 7 ms per small image on one core.
"""

from __future__ import annotations

import numpy as np

from redline.datasets._corrupt_kernels import Unit, fine_grid

__all__ = ["elastic_transform"]

_ALPHA = (12.5, 16.25, 21.25, 25.0, 30.0)
"""Gain of the smoothed noise field."""


def _field(shape: tuple[int, int], alpha: float, rng: np.random.Generator) -> Unit:
    """Displacements ``(2, h, w)`` in pixels of a grid of ``shape``: dy then dx."""
    from scipy import ndimage

    h, w = shape
    half = 0.005 * h
    noise = rng.uniform(-half, half, size=(2, h, w))
    smooth = ndimage.gaussian_filter(
        noise, sigma=(0.0, 0.01 * h, 0.01 * w), mode="reflect", truncate=3.0
    )
    field: Unit = smooth * alpha
    return field


def _warp(image: Unit, field: Unit) -> Unit:
    """Bilinear resampling of ``image`` ``(c, h, w)`` at the displaced pixel centres."""
    from scipy import ndimage

    _, h, w = image.shape
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    coords = np.stack([yy + field[0], xx + field[1]])
    return np.stack(
        [ndimage.map_coordinates(plane, coords, order=1, mode="reflect") for plane in image]
    )


def elastic_transform(u: Unit, severity: int, rng: np.random.Generator) -> Unit:
    """Warp each image by its own smooth random field (one field for all channels)."""
    alpha = _ALPHA[severity - 1]
    n, c, h, w = u.shape
    f, g = fine_grid(h, w)
    out = np.empty_like(u)
    for i in range(n):
        fine = np.repeat(np.repeat(u[i], f, axis=1), f, axis=2)
        field = _field((f * h, f * w), alpha, rng) * g
        warped = _warp(fine, field)
        out[i] = warped.reshape(c, h, f, w, f).mean(axis=(2, 4))
    return np.clip(out, 0.0, 1.0)
