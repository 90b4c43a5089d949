"""Image-size scaling of the corruptions: kernels built on a finer grid, folded back.

Hendrycks & Dietterich give blur sizes in pixels of a 224-pixel ImageNet image. A batch
of side ``s`` (the shorter of height and width) is treated as that scene seen through a
coarser sensor: a kernel is laid out on a grid ``f = ceil(224 / s)`` times finer than the
image, where a length of one reference pixel is ``g = f * s / 224`` fine pixels (exactly 1
when ``s`` divides 224: 8, 16, 28, 32, 56, 112, 224; ``s / 224`` for images larger than the
reference), and folded back onto the image grid. The fold
is exact: upsampling by ``f`` (nearest), reading a tap ``o`` fine pixels away and
area-averaging back equals a linear interpolation of the image at ``o / f`` pixels, so a
fine tap splits into at most four image taps with the weights of that interpolation.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["REFERENCE_SIDE", "Unit", "correlate", "fine_grid", "fold_taps"]

Unit = npt.NDArray[np.float64]
"""A batch ``(n, c, h, w)`` mapped to [0, 1], float64: what every corruption works on."""

REFERENCE_SIDE = 224
"""The image side, in pixels, that the paper's pixel-valued parameters are given for."""


def fine_grid(h: int, w: int) -> tuple[int, float]:
    """``(f, g)``: how many times finer the kernel grid is than the image, and how many
    fine pixels one reference pixel spans (``g`` >= 1, exactly 1 when the side divides 224)."""
    side = min(h, w)
    f = max(1, math.ceil(REFERENCE_SIDE / side))
    return f, f * side / REFERENCE_SIDE


def fold_taps(oy: npt.NDArray[np.int64], ox: npt.NDArray[np.int64], weight: Unit, f: int) -> Unit:
    """Image-grid kernels ``(n, k, k)`` from fine taps: offsets ``oy``, ``ox`` of shape
    ``(n, t)`` in fine pixels and their weights ``(t,)``; ``k = 2 r + 1`` is odd."""
    qy, ry = np.divmod(oy, f)
    qx, rx = np.divmod(ox, f)
    r = int(max(np.abs(qy).max(), np.abs(qy + 1).max(), np.abs(qx).max(), np.abs(qx + 1).max()))
    n = oy.shape[0]
    kernels = np.zeros((n, 2 * r + 1, 2 * r + 1))
    rows = np.broadcast_to(np.arange(n)[:, None], oy.shape)
    for dy, wy in ((qy, (f - ry) / f), (qy + 1, ry / f)):
        for dx, wx in ((qx, (f - rx) / f), (qx + 1, rx / f)):
            np.add.at(kernels, (rows, dy + r, dx + r), weight * wy * wx)
    return kernels


def correlate(u: Unit, kernels: Unit, mode: str) -> Unit:
    """``out[p] = sum_d K[d] u[p + d]`` per image, with one kernel per image ``(n, k, k)``
    or one for all ``(1, k, k)``; ``mode`` is numpy's padding at the borders."""
    k = kernels.shape[-1]
    r = k // 2
    _, _, h, w = u.shape
    padded = np.pad(u, ((0, 0), (0, 0), (r, r), (r, r)), mode=mode)  # type: ignore[call-overload]
    out = np.zeros_like(u)
    for a in range(k):
        for b in range(k):
            weights = kernels[:, a, b]
            if weights.any():
                out += weights[:, None, None, None] * padded[:, :, a : a + h, b : b + w]
    return out
