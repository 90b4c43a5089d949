"""The BadNets patch trigger and its family: solid, checkerboard or random patches, in
any of five shapes (a mask), at a fixed place or at a place drawn per sample."""

from __future__ import annotations

import hashlib
from dataclasses import KW_ONLY, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from redline.errors import InputError
from redline.poisoning._trigger_common import (
    Array,
    Pattern,
    _batch,
    _bounds,
    _clip,
    _pattern,
    _seed,
)

__all__ = ["Corner", "Location", "PatchShape", "PatchTrigger"]

Corner = Literal[
    "bottom-right",
    "bottom-left",
    "top-left",
    "top-right",
    "center",
    "top",
    "bottom",
    "left",
    "right",
    "random",
]
Location = Corner | tuple[int, int]
PatchShape = Literal["square", "cross", "x", "ring", "line"]
_CORNERS = (
    "bottom-right", "bottom-left", "top-left", "top-right", "center",
    "top", "bottom", "left", "right", "random",
)  # fmt: skip
_SHAPES = ("square", "cross", "x", "ring", "line")
Mask = npt.NDArray[np.bool_]


def shape_mask(shape: str, size: int) -> Mask | None:
    """The ``size`` x ``size`` mask of a named patch shape (None for the full square).

    ``cross`` and ``line`` use row (and column) ``size // 2``: the middle one for odd sizes.
    """
    if shape not in _SHAPES:
        raise InputError(f"unknown patch shape {shape!r}; use one of {list(_SHAPES)}")
    if shape == "square":
        return None
    i, j = np.indices((size, size))
    mid = size // 2
    masks = {
        "cross": (i == mid) | (j == mid),
        "x": (i == j) | (i + j == size - 1),
        "ring": (i == 0) | (j == 0) | (i == size - 1) | (j == size - 1),
        "line": i == mid,
    }
    mask: Mask = masks[shape]
    return mask


def _mask(value: Any, hw: tuple[int, ...]) -> Mask | None:
    """A read-only boolean mask of the patch's ``(h, w)``, or None."""
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.dtype != np.bool_ and not (arr.dtype.kind in "biu" and np.isin(arr, (0, 1)).all()):
        raise InputError(f"a patch mask must hold booleans (or 0/1), got dtype {arr.dtype}")
    mask = np.array(arr, dtype=bool)
    if mask.shape != hw:
        raise InputError(f"a patch mask must have the patch's shape {hw}, got {mask.shape}")
    if not mask.any():
        raise InputError("a patch mask must keep at least one pixel of the patch")
    mask.flags.writeable = False
    return mask


def _location(loc: Any) -> Location:
    """A location name, or ``(row, col)`` as two ints."""
    if isinstance(loc, str | bytes):
        if loc not in _CORNERS:
            raise InputError(f"unknown patch location {loc!r}; use one of {list(_CORNERS)}")
        return loc  # type: ignore[return-value]
    if isinstance(loc, tuple | list) and len(loc) == 2:
        return int(loc[0]), int(loc[1])
    raise InputError(f"patch location must be a corner name or (row, col), got {loc!r}")


@dataclass(frozen=True, eq=False)
class PatchTrigger:
    """BadNets (Gu et al. 2017): paste a small ``(c, h, w)`` or ``(h, w)`` patch on images.

    Images are ``(n, c, H, W)`` (or ``(n, H, W)``); ``location`` is a corner, an edge
    centre (``top``...), ``center``, the ``(row, col)`` of the patch's top-left pixel, or
    ``random``: each sample's place drawn from a BLAKE2b hash of ``(seed, its bytes)``,
    so a sample gets the same place alone or in any batch. A 2-D patch, or one with one
    channel, is pasted on every channel. ``mask`` (the patch's ``(h, w)``, booleans)
    keeps the image where it is False: a cross, a ring.
    """

    pattern: Pattern
    _: KW_ONLY
    location: Location = "bottom-right"
    bounds: tuple[float, float] = (0.0, 1.0)
    mask: Mask | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", _pattern(self.pattern, "patch", (2, 3)))
        object.__setattr__(self, "bounds", _bounds(self.bounds))
        object.__setattr__(self, "location", _location(self.location))
        object.__setattr__(self, "mask", _mask(self.mask, self.pattern.shape[-2:]))
        object.__setattr__(self, "seed", _seed(self.seed, "patch location"))

    @classmethod
    def _build(cls, pattern: npt.NDArray[Any], shape: str, **kw: Any) -> PatchTrigger:
        """A square ``pattern`` with the mask of ``shape``."""
        return cls(pattern, mask=shape_mask(shape, pattern.shape[-1]), **kw)

    @staticmethod
    def _check_size(size: int, channels: int, what: str) -> None:
        if size < 1 or channels < 1:
            raise InputError(f"{what} size and channels must be >= 1, got {size}, {channels}")

    @classmethod
    def checkerboard(
        cls,
        size: int = 3,
        channels: int = 1,
        *,
        location: Location = "bottom-right",
        bounds: tuple[float, float] = (0.0, 1.0),
        shape: PatchShape = "square",
    ) -> PatchTrigger:
        """The classic BadNets patch: a ``size`` x ``size`` high/low checkerboard."""
        cls._check_size(size, channels, "checkerboard")
        lo, hi = _bounds(bounds)
        board = np.where(np.indices((size, size)).sum(axis=0) % 2 == 0, hi, lo)
        pattern = np.broadcast_to(board, (channels, size, size)).astype(np.float32)
        return cls._build(pattern, shape, location=location, bounds=(lo, hi))

    @classmethod
    def solid(
        cls,
        size: int = 3,
        channels: int = 1,
        *,
        value: float | None = None,
        location: Location = "bottom-right",
        bounds: tuple[float, float] = (0.0, 1.0),
        shape: PatchShape = "square",
    ) -> PatchTrigger:
        """A ``size`` x ``size`` patch of one ``value`` (default: the high bound)."""
        cls._check_size(size, channels, "solid patch")
        lo, hi = _bounds(bounds)
        fill = hi if value is None else float(value)
        pattern = np.full((channels, size, size), fill, dtype=np.float32)
        return cls._build(pattern, shape, location=location, bounds=(lo, hi))

    @classmethod
    def random(
        cls,
        size: int = 3,
        channels: int = 1,
        *,
        seed: int = 0,
        location: Location = "bottom-right",
        bounds: tuple[float, float] = (0.0, 1.0),
        shape: PatchShape = "square",
    ) -> PatchTrigger:
        """A seeded patch of low/high pixels, drawn per channel (``seed`` also seeds
        ``random`` locations)."""
        cls._check_size(size, channels, "random patch")
        lo, hi = _bounds(bounds)
        bits = np.random.default_rng(_seed(seed, "random patch")).integers(
            0, 2, (channels, size, size)
        )
        pattern = (lo + (hi - lo) * bits).astype(np.float32)
        return cls._build(pattern, shape, location=location, bounds=(lo, hi), seed=seed)

    def _corner(self, height: int, width: int) -> tuple[int, int]:
        """The top-left pixel of a fixed location on ``height`` x ``width`` images."""
        h, w = self.pattern.shape[-2:]
        if not isinstance(self.location, str):
            row, col = self.location
            if not (0 <= row <= height - h and 0 <= col <= width - w):
                raise InputError(
                    f"a {h}x{w} patch at (row, col)={self.location} leaves {height}x{width} images"
                )
            return row, col
        mid_row, mid_col = (height - h) // 2, (width - w) // 2
        places = {
            "top": (0, mid_col),
            "bottom": (height - h, mid_col),
            "center": (mid_row, mid_col),
        }
        places |= {"left": (mid_row, 0), "right": (mid_row, width - w)}
        if self.location in places:
            return places[self.location]
        vertical, horizontal = self.location.split("-")
        return (0 if vertical == "top" else height - h), (0 if horizontal == "left" else width - w)

    def random_corner(self, sample: Array) -> tuple[int, int]:
        """The top-left pixel that ``location="random"`` gives one sample ``(c, H, W)``."""
        h, w = self.pattern.shape[-2:]
        rows, cols = sample.shape[-2] - h + 1, sample.shape[-1] - w + 1
        digest = hashlib.blake2b(f"{self.seed}:".encode(), digest_size=8)
        digest.update(np.ascontiguousarray(sample, dtype=np.float32).tobytes())
        row, col = divmod(int.from_bytes(digest.digest(), "little") % (rows * cols), cols)
        return row, col

    def _fit(self, batch: Array) -> Array:
        """The pattern as pasted on ``batch``: channels checked, a 1-channel one squeezed
        for ``(n, H, W)`` images, and the patch checked to fit."""
        pattern = self.pattern
        if pattern.ndim == 3 and batch.ndim == 4 and pattern.shape[0] not in (1, batch.shape[1]):
            raise InputError(
                f"a {pattern.shape[0]}-channel patch does not fit {batch.shape[1]}-channel images"
            )
        if pattern.ndim == 3 and batch.ndim == 3:
            if pattern.shape[0] != 1:
                raise InputError(f"a {pattern.shape[0]}-channel patch needs (n, c, H, W) images")
            pattern = pattern[0]
        (h, w), (height, width) = pattern.shape[-2:], batch.shape[-2:]
        if h > height or w > width:
            raise InputError(f"a {h}x{w} patch does not fit {height}x{width} images")
        return pattern

    def _paste(self, region: Array, pattern: Array) -> Array:
        return pattern if self.mask is None else np.where(self.mask, pattern, region)

    def __call__(self, x: Array) -> Array:
        batch = _batch(x, 3, "PatchTrigger")
        pattern = self._fit(batch)
        h, w = pattern.shape[-2:]
        out = batch.copy()
        if self.location == "random":
            for i, sample in enumerate(batch):
                r, c = self.random_corner(sample)
                out[i, ..., r : r + h, c : c + w] = self._paste(
                    sample[..., r : r + h, c : c + w], pattern
                )
        else:
            r, c = self._corner(*batch.shape[-2:])
            out[..., r : r + h, c : c + w] = self._paste(batch[..., r : r + h, c : c + w], pattern)
        return _clip(out, self.bounds)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"kind": "patch", "pattern": [...], "location", "bounds", "mask"
        (nested booleans or None), "seed"}``."""
        loc = self.location if isinstance(self.location, str) else list(self.location)
        return {
            "kind": "patch",
            "pattern": self.pattern.tolist(),
            "location": loc,
            "bounds": list(self.bounds),
            "mask": None if self.mask is None else self.mask.tolist(),
            "seed": self.seed,
        }
