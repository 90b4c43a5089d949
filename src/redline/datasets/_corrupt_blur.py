"""Defocus and motion blur with ImageNet-C's kernels, scaled to the image's size.

Severities are those of ImageNet-C as the ``imagecorruptions`` package ships them
(Michaelis et al. 2019). Radii and widths are in pixels of a 224-pixel image; they are
laid out on a finer grid and folded back (:mod:`._corrupt_kernels`), so an 8x8 digit gets
the blur a 224x224 upsampled copy would get, area-averaged back to 8x8.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from redline.datasets._corrupt_kernels import Unit, correlate, fine_grid, fold_taps

__all__ = ["defocus_blur", "disk_kernel", "motion_blur"]

_DEFOCUS = ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5))
"""(disk radius, sigma of the anti-aliasing Gaussian), reference pixels."""
_MOTION = ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15))
"""(radius: the kernel has 2 r + 1 taps, sigma of its one-sided Gaussian), reference pixels."""


def _gauss_1d(ksize: int, sigma: float) -> Unit:
    x = np.arange(ksize) - ksize // 2
    g: Unit = np.exp(-(x**2) / (2.0 * sigma**2))
    out: Unit = g / g.sum()
    return out


def disk_kernel(radius: float, alias_sigma: float, ksize: int) -> Unit:
    """ImageNet-C's defocus kernel: an aliased disk (at least 17x17) smoothed by a
    ``ksize`` x ``ksize`` Gaussian (mirrored borders, as OpenCV does), summing to 1.

    ImageNet-C normalises before the smoothing only, so at radius 8 and 10, where the
    disk touches the array's edge, the mirrored border adds 1% of mass (a brighter
    image); normalising after keeps the blur a blur."""
    m = max(8, math.ceil(radius))
    grid = np.arange(-m, m + 1)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    disk = (yy**2 + xx**2 <= radius**2).astype(np.float64)
    disk /= disk.sum()
    g, p = _gauss_1d(ksize, alias_sigma), ksize // 2
    padded = np.pad(disk, p, mode="reflect")
    rows = sum(g[i] * padded[i : i + disk.shape[0], :] for i in range(ksize))
    smooth: Unit = sum(g[j] * rows[:, j : j + disk.shape[1]] for j in range(ksize))
    out: Unit = smooth / smooth.sum()
    return out


def defocus_blur(u: Unit, severity: int, _rng: np.random.Generator) -> Unit:
    """Convolution with a disk (a lens out of focus); deterministic (no draw).

    Borders mirror without repeating the edge (OpenCV's default) on the kernel's grid:
    on an image smaller than 224, whose edge pixel spans ``f`` fine pixels, that is the
    edge pixel repeated."""
    radius, alias = _DEFOCUS[severity - 1]
    f, g = fine_grid(*u.shape[2:])
    fine = disk_kernel(radius * g, alias * g, 3 if radius <= 8 else 5)
    oy, ox = np.nonzero(fine)
    m = fine.shape[0] // 2
    offsets_y = (oy - m).astype(np.int64)[None, :]
    offsets_x = (ox - m).astype(np.int64)[None, :]
    kernel = fold_taps(offsets_y, offsets_x, fine[oy, ox], f)
    return np.clip(correlate(u, kernel, "edge" if f > 1 else "reflect"), 0.0, 1.0)


def _motion_offsets(
    taps: int, step: float, angles: Unit
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Fine-pixel offsets of each tap along each image's direction (angles in degrees),
    rounded half down as imagecorruptions' ``_motion_blur`` does."""
    dist = np.arange(taps)[None, :] * step
    rad = np.deg2rad(angles)[:, None]
    oy = np.ceil(dist * np.sin(rad) - 0.5).astype(np.int64)
    ox = np.ceil(dist * np.cos(rad) - 0.5).astype(np.int64)
    return oy, ox


def motion_blur(u: Unit, severity: int, rng: np.random.Generator) -> Unit:
    """A one-sided Gaussian smear along a random direction per image (uniform in
    [-45, 45] degrees); borders repeat the edge pixel."""
    radius, sigma = _MOTION[severity - 1]
    f, g = fine_grid(*u.shape[2:])
    taps = 2 * radius + 1
    weights = np.exp(-(np.arange(taps) ** 2) / (2.0 * sigma**2))
    weights /= weights.sum()
    angles = rng.uniform(-45.0, 45.0, size=len(u))
    oy, ox = _motion_offsets(taps, g, angles)
    kernels = fold_taps(oy, ox, weights, f)
    return np.clip(correlate(u, kernels, "edge"), 0.0, 1.0)
