"""The adaptive backdoors of Qi et al. (ICLR 2023), built to defeat latent-separation
detectors: Adap-Blend and Adap-Patch.

Both weaken the training-time trigger (a random part of it, drawn per sample) and add
cover ("conservatism") samples that carry it under their true labels, so that poison
and clean samples of the target class stop forming two clusters in feature space. The
test-time trigger is the whole thing: the full key (Adap-Blend), every patch at once
(Adap-Patch). Images only, ``(n, c, H, W)`` or ``(n, H, W)``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from math import isqrt
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.errors import InputError
from redline.poisoning._attacks import _Backdoor
from redline.poisoning._composite import CompositeTrigger
from redline.poisoning._poisoner import draw_cover
from redline.poisoning._trigger_common import _bounds
from redline.poisoning._triggers import BlendTrigger, PatchTrigger
from redline.poisoning._types import Trigger

__all__ = ["AdaptiveBlend", "AdaptivePatch"]

Array = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]
Index = npt.NDArray[np.intp]


def _image_hw(sample_shape: tuple[int, ...], name: str) -> tuple[int, int]:
    """``(H, W)`` of image samples ``(c, H, W)`` or ``(H, W)``; other shapes are an error."""
    if len(sample_shape) not in (2, 3):
        raise InputError(
            f"{name}: needs images (n, c, H, W) or (n, H, W), got samples of shape {sample_shape}"
        )
    return int(sample_shape[-2]), int(sample_shape[-1])


def _share(value: Any, what: str, name: str, *, rate: bool = False) -> float:
    """A number in (0, 1] (a weight or share), or in [0, 1) when it is a ``rate``."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok:
        ok = 0.0 <= value < 1.0 if rate else 0.0 < value <= 1.0
    if not ok:
        interval = "[0, 1)" if rate else "(0, 1]"
        raise InputError(f"{name}: {what} must be a number in {interval}, got {value!r}")
    return float(value)


class _Covered(_Backdoor):
    """Dirty-label all-to-one backdoor whose payload and cover samples each get their own
    random variant of the trigger (:meth:`_variant`); cover samples keep their labels."""

    cover_rate: float | None
    bounds: tuple[float, float]

    def params(self) -> dict[str, Any]:
        return {**super().params(), "bounds": list(_bounds(self.bounds))}

    @abstractmethod
    def _variant(self, x: Array, rng: np.random.Generator) -> Array:
        """The training-time trigger on the batch ``x``: a random part of it per sample."""

    def _cover(
        self, y: Labels, payload: Index, num_classes: int, rng: np.random.Generator
    ) -> Index:
        rate = self.rate if self.cover_rate is None else self.cover_rate
        count = round(_share(rate, "cover_rate", self.name, rate=True) * len(y))
        target = self._target(num_classes)
        return draw_cover(y, payload, count, rng, exclude=target, name=self.name)

    def _triggered(self, x: Array, idx: Index, rng: np.random.Generator) -> Array:
        out = x.copy()
        if len(idx):
            out[idx] = self._variant(x[idx], rng)
        return out

    def _apply(
        self, x: Array, y: Labels, idx: Index, num_classes: int, seed: int
    ) -> tuple[Array, Labels]:
        y_p = y.copy()
        y_p[idx] = self.spec(x.shape[1:], num_classes).wanted(y[idx])
        return self._triggered(x, idx, np.random.default_rng([seed, 3])), y_p

    def _apply_cover(self, x: Array, idx: Index, seed: int) -> Array:
        return self._triggered(x, idx, np.random.default_rng([seed, 4]))


class AdaptiveBlend(_Covered):
    """Adap-Blend: the blend key is cut into a square grid of ``pieces`` cells; each payload
    and cover sample gets a random ``keep`` share of the cells blended at ``train_alpha``;
    at test time the full key is blended at ``test_alpha``. ``key`` defaults to
    ``BlendTrigger.noise(sample_shape, seed=0)``'s pattern; ``cover_rate`` to ``rate``."""

    name = "adaptive-blend"

    def __init__(
        self,
        *,
        rate: float,
        target_class: int = 0,
        key: npt.ArrayLike | None = None,
        pieces: int = 16,
        keep: float = 0.5,
        train_alpha: float = 0.15,
        test_alpha: float = 0.2,
        cover_rate: float | None = None,
        bounds: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        self.rate = rate
        self.target_class = target_class
        self.key = key
        self.pieces = pieces
        self.keep = keep
        self.train_alpha = train_alpha
        self.test_alpha = test_alpha
        self.cover_rate = cover_rate
        self.bounds = bounds

    def params(self) -> dict[str, Any]:
        params = super().params()
        params["key"] = "noise(seed=0)" if self.key is None else "custom"
        return params

    def _key(self, sample_shape: tuple[int, ...]) -> Array:
        if self.key is None:
            return BlendTrigger.noise(sample_shape, seed=0, bounds=self.bounds).pattern
        key = np.asarray(self.key, dtype=np.float32)
        if key.shape != tuple(sample_shape) or not np.isfinite(key).all():
            raise InputError(
                f"{self.name}: key must be a finite array of one sample's shape "
                f"{tuple(sample_shape)}, got shape {key.shape}"
            )
        return key

    def _trigger(self, sample_shape: tuple[int, ...]) -> Trigger:
        _image_hw(sample_shape, self.name)
        return BlendTrigger(self._key(sample_shape), alpha=self.test_alpha, bounds=self.bounds)

    def _cells(self, height: int, width: int) -> Array:
        """One row per grid cell: 1 on its pixels (flattened ``H * W``), 0 elsewhere."""
        side = isqrt(self.pieces) if isinstance(self.pieces, int) and self.pieces > 0 else 0
        if side * side != self.pieces or side > min(height, width):
            raise InputError(
                f"{self.name}: pieces must be a square number (a side x side grid) with "
                f"side <= {min(height, width)} for {height}x{width} images, got {self.pieces!r}"
            )
        rows = np.array_split(np.arange(height), side)
        cols = np.array_split(np.arange(width), side)
        cells = np.zeros((side * side, height, width), dtype=np.float32)
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                cells[i * side + j, r[0] : r[-1] + 1, c[0] : c[-1] + 1] = 1.0
        return cells.reshape(side * side, height * width)

    def _variant(self, x: Array, rng: np.random.Generator) -> Array:
        shape = x.shape[1:]
        height, width = _image_hw(shape, self.name)
        cells = self._cells(height, width)
        alpha = _share(self.train_alpha, "train_alpha", self.name)
        count = max(1, round(_share(self.keep, "keep", self.name) * len(cells)))
        order = rng.random((len(x), len(cells))).argsort(axis=1)[:, :count]
        chosen = np.zeros((len(x), len(cells)), dtype=np.float32)
        np.put_along_axis(chosen, order, 1.0, axis=1)
        weight = (chosen @ cells).reshape(len(x), *([1] * (len(shape) - 2)), height, width)
        lo, hi = _bounds(self.bounds)
        blended = x + alpha * weight * (self._key(shape) - x)
        return np.clip(blended, lo, hi).astype(np.float32)


def _edge_places(height: int, width: int, side: int) -> list[tuple[int, int]]:
    """Top-left corners of ``side`` x ``side`` patches at the four corners and the four edge
    midpoints, dropping any that would overlap one before it."""
    bottom, right = height - side, width - side
    mid_r, mid_c = bottom // 2, right // 2
    candidates = [(0, 0), (0, right), (bottom, 0), (bottom, right)]
    candidates += [(0, mid_c), (bottom, mid_c), (mid_r, 0), (mid_r, right)]
    places: list[tuple[int, int]] = []
    for r, c in candidates:
        if all(abs(r - pr) >= side or abs(c - pc) >= side for pr, pc in places):
            places.append((r, c))
    return places


class AdaptivePatch(_Covered):
    """Adap-Patch: ``k`` small patch triggers at distinct places; each payload and cover
    sample gets a random non-empty strict subset of them (pasted at ``train_opacity``),
    while the test-time trigger pastes them all (a :class:`CompositeTrigger`).
    ``patches`` defaults to :meth:`default_patches`; ``cover_rate`` to ``rate``."""

    name = "adaptive-patch"

    def __init__(
        self,
        *,
        rate: float,
        target_class: int = 0,
        patches: Sequence[Trigger] | None = None,
        k: int | None = None,
        train_opacity: float = 1.0,
        cover_rate: float | None = None,
        bounds: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        self.rate = rate
        self.target_class = target_class
        self.patches = patches
        self.k = k
        self.train_opacity = train_opacity
        self.cover_rate = cover_rate
        self.bounds = bounds

    @staticmethod
    def default_patches(
        sample_shape: tuple[int, ...],
        *,
        k: int = 4,
        seed: int = 0,
        bounds: tuple[float, float] = (0.0, 1.0),
    ) -> tuple[PatchTrigger, ...]:
        """``k`` seeded random high/low patches, 3x3 (2x2 on images under 12 pixels a side),
        half high and half low, at ``k`` distinct corners and edge midpoints."""
        height, width = _image_hw(sample_shape, AdaptivePatch.name)
        side = 3 if min(height, width) >= 12 else 2
        places = _edge_places(height, width, side) if min(height, width) >= side else []
        if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= len(places):
            raise InputError(
                f"adaptive-patch: k must be an integer in 2..{len(places)} for "
                f"{height}x{width} images, got {k!r}"
            )
        lo, hi = _bounds(bounds)
        channels = sample_shape[0] if len(sample_shape) == 3 else 1
        rng = np.random.default_rng(seed)
        values = np.where(np.arange(side * side) % 2 == 0, hi, lo)
        out = []
        for place in rng.permutation(len(places))[:k]:
            pattern = np.stack([rng.permutation(values) for _ in range(channels)])
            pattern = pattern.reshape(channels, side, side).astype(np.float32)
            out.append(PatchTrigger(pattern, location=places[place], bounds=(lo, hi)))
        return tuple(out)

    def params(self) -> dict[str, Any]:
        params = super().params()
        params["patches"] = "default" if self.patches is None else "custom"
        return params

    def _patches(self, sample_shape: tuple[int, ...]) -> tuple[Trigger, ...]:
        if self.patches is None:
            k = 4 if self.k is None else self.k
            return self.default_patches(sample_shape, k=k, bounds=self.bounds)
        patches = tuple(self.patches)
        if len(patches) < 2 or not all(isinstance(p, Trigger) for p in patches):
            kinds = [type(p).__name__ for p in patches]
            raise InputError(f"{self.name}: patches must be 2 or more triggers, got {kinds}")
        if self.k is not None and self.k != len(patches):
            raise InputError(f"{self.name}: k={self.k!r} but {len(patches)} patches were given")
        return patches

    def _trigger(self, sample_shape: tuple[int, ...]) -> Trigger:
        return CompositeTrigger(self._patches(sample_shape))

    def _variant(self, x: Array, rng: np.random.Generator) -> Array:
        patches = self._patches(x.shape[1:])
        opacity = _share(self.train_opacity, "train_opacity", self.name)
        n, k = len(x), len(patches)
        sizes = rng.integers(1, k, size=n)
        order = rng.random((n, k)).argsort(axis=1)
        chosen = np.zeros((n, k), dtype=bool)
        np.put_along_axis(chosen, order, np.arange(k)[None, :] < sizes[:, None], axis=1)
        out = x.copy()
        for j, patch in enumerate(patches):
            rows = np.flatnonzero(chosen[:, j])
            if len(rows):
                part = out[rows]
                stamped = np.asarray(patch(part), dtype=np.float32)
                out[rows] = part + opacity * (stamped - part)
        return out
