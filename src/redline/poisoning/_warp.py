"""WaNet (Nguyen & Tran, ICLR 2021): an imperceptible backdoor that warps the image
along a smooth, seeded field instead of stamping a pattern on it."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from redline.errors import InputError
from redline.poisoning._trigger_common import Array, _bounds, _clip, _images, _seed

__all__ = ["WarpTrigger"]


@dataclass(frozen=True, eq=False)
class WarpTrigger:
    """Warp images ``(n, ..., H, W)`` (H, W >= 2) along a fixed smooth field.

    A seeded ``(grid, grid, 2)`` field, uniform in [-1, 1] and divided by its mean
    absolute value, is upsampled (bicubic) to H x W, scaled by ``strength / H`` on the
    vertical and ``strength / W`` on the horizontal axis (WaNet's ``s / H`` for square
    images), added to the identity sampling grid in [-1, 1], clamped to [-1, 1] and
    applied with ``grid_sample(align_corners=True)``: pixels move by about
    ``strength / 2`` on average (the field's mean absolute value is 1). :meth:`noisy` is
    WaNet's noise mode for the cross samples.
    """

    _: KW_ONLY
    grid: int = 4
    strength: float = 0.5
    seed: int = 0
    bounds: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        if isinstance(self.grid, bool) or not isinstance(self.grid, int | np.integer):
            raise InputError(f"warp grid must be an integer >= 2, got {self.grid!r}")
        if self.grid < 2:
            raise InputError(f"warp grid must be an integer >= 2, got {self.grid}")
        try:
            strength = float(self.strength)
        except (TypeError, ValueError) as exc:
            raise InputError(f"warp strength must be a number >= 0, got {self.strength!r}") from exc
        if not (np.isfinite(strength) and strength >= 0.0):
            raise InputError(f"warp strength must be finite and >= 0, got {self.strength!r}")
        object.__setattr__(self, "grid", int(self.grid))
        object.__setattr__(self, "strength", strength)
        object.__setattr__(self, "seed", _seed(self.seed, "warp"))
        object.__setattr__(self, "bounds", _bounds(self.bounds))

    def field(self, height: int, width: int) -> Array:
        """The ``(height, width, 2)`` offset added to the identity grid (x, then y), before
        clamping, in grid units (the image spans [-1, 1])."""
        if int(height) < 2 or int(width) < 2:
            raise InputError(f"a warp field needs at least 2x2 pixels, got {height}x{width}")
        control = np.random.default_rng(self.seed).uniform(-1.0, 1.0, (self.grid, self.grid, 2))
        control /= np.abs(control).mean()
        coarse = torch.from_numpy(control.transpose(2, 0, 1)[None].astype(np.float32))
        fine = F.interpolate(
            coarse, size=(int(height), int(width)), mode="bicubic", align_corners=True
        )
        scale = np.array([self.strength / int(width), self.strength / int(height)], np.float32)
        out: Array = (fine[0].permute(1, 2, 0).numpy() * scale).astype(np.float32)
        return out

    def _grid(self, height: int, width: int) -> npt.NDArray[np.float32]:
        """The clamped sampling grid ``(H, W, 2)`` of the fixed warp."""
        xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)
        ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)
        identity = np.stack(np.meshgrid(xs, ys, indexing="xy"), axis=-1)
        grid: npt.NDArray[np.float32] = np.clip(identity + self.field(height, width), -1.0, 1.0)
        return grid

    def _sample(self, batch: Array, grid: npt.NDArray[np.float32]) -> Array:
        """``batch`` resampled at ``grid`` (``(H, W, 2)`` shared or ``(n, H, W, 2)``)."""
        n, (height, width) = batch.shape[0], batch.shape[-2:]
        if n == 0:
            return _clip(batch.copy(), self.bounds)
        planes = torch.from_numpy(np.array(batch.reshape(n, -1, height, width), np.float32))
        grids = torch.from_numpy(np.array(np.broadcast_to(grid, (n, height, width, 2)), np.float32))
        warped = F.grid_sample(
            planes, grids, mode="bilinear", padding_mode="border", align_corners=True
        )
        return _clip(warped.numpy().reshape(batch.shape), self.bounds)

    def __call__(self, x: Array) -> Array:
        batch = _images(x, "WarpTrigger")
        return self._sample(batch, self._grid(*batch.shape[-2:]))

    def noisy(self, x: Array, seed: int) -> Array:
        """WaNet's noise mode: the fixed warp plus a fresh offset per sample, uniform in
        [-1, 1] / H (vertical) and / W (horizontal), drawn from ``seed``. Cross samples
        warped this way keep their labels, so the model learns the exact warp only."""
        batch = _images(x, "WarpTrigger.noisy")
        height, width = batch.shape[-2:]
        rng = np.random.default_rng(_seed(seed, "warp noise"))
        jitter = rng.uniform(-1.0, 1.0, (batch.shape[0], height, width, 2))
        jitter *= np.array([1.0 / width, 1.0 / height])
        grids = np.clip(self._grid(height, width) + jitter, -1.0, 1.0).astype(np.float32)
        return self._sample(batch, grids)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"kind": "warp", "grid", "strength", "seed", "bounds"}``."""
        return {
            "kind": "warp",
            "grid": self.grid,
            "strength": self.strength,
            "seed": self.seed,
            "bounds": list(self.bounds),
        }
