"""Backdoor triggers: frozen, seeded callables that stamp a pattern on a numpy batch.

Every trigger returns a new float32 array clipped to its ``bounds`` and never writes to
its input. ``to_dict`` gives plain JSON data (patterns as nested lists) and
:func:`trigger_from_dict` rebuilds the trigger from it, or from the same dict with the
pattern kept as an array (how :func:`redline.poisoning._io.save_poisoned` stores it).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from redline.errors import InputError

if TYPE_CHECKING:
    from redline.poisoning._composite import CompositeTrigger

__all__ = [
    "BlendTrigger",
    "FeaturePatchTrigger",
    "Location",
    "PatchTrigger",
    "SignalTrigger",
    "trigger_from_dict",
]

Array = npt.NDArray[np.float32]
Pattern = npt.NDArray[np.floating[Any]]
"""A pattern argument: any float array (lists work too); stored as read-only float32."""
Corner = Literal["bottom-right", "bottom-left", "top-left", "top-right", "center"]
Location = Corner | tuple[int, int]
_CORNERS = ("bottom-right", "bottom-left", "top-left", "top-right", "center")


def _bounds(bounds: Any) -> tuple[float, float]:
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
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim < min_ndim:
        raise InputError(f"{what} needs a batch of rank >= {min_ndim}, got shape {arr.shape}")
    return arr


def _clip(x: npt.NDArray[Any], bounds: tuple[float, float]) -> Array:
    out: Array = np.clip(x, bounds[0], bounds[1]).astype(np.float32, copy=False)
    return out


@dataclass(frozen=True, eq=False)
class PatchTrigger:
    """BadNets (Gu et al. 2017): paste a small ``(c, h, w)`` or ``(h, w)`` patch on images.

    Images are ``(n, c, H, W)`` (or ``(n, H, W)``); ``location`` is a corner name or the
    ``(row, col)`` of the patch's top-left pixel. A 2-D patch, or one with one channel,
    is pasted on every channel.
    """

    pattern: Pattern
    _: KW_ONLY
    location: Location = "bottom-right"
    bounds: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", _pattern(self.pattern, "patch", (2, 3)))
        object.__setattr__(self, "bounds", _bounds(self.bounds))
        loc = self.location
        if isinstance(loc, str | bytes):
            if loc not in _CORNERS:
                raise InputError(f"unknown patch location {loc!r}; use one of {list(_CORNERS)}")
        elif isinstance(loc, tuple | list) and len(loc) == 2:
            object.__setattr__(self, "location", (int(loc[0]), int(loc[1])))
        else:
            raise InputError(f"patch location must be a corner name or (row, col), got {loc!r}")

    @classmethod
    def checkerboard(
        cls,
        size: int = 3,
        channels: int = 1,
        *,
        location: Location = "bottom-right",
        bounds: tuple[float, float] = (0.0, 1.0),
    ) -> PatchTrigger:
        """The classic BadNets patch: a ``size`` x ``size`` high/low checkerboard."""
        if size < 1 or channels < 1:
            raise InputError(f"checkerboard size and channels must be >= 1, got {size}, {channels}")
        lo, hi = _bounds(bounds)
        board = np.where(np.indices((size, size)).sum(axis=0) % 2 == 0, hi, lo)
        pattern = np.broadcast_to(board, (channels, size, size)).astype(np.float32)
        return cls(pattern, location=location, bounds=(lo, hi))

    def _corner(self, height: int, width: int) -> tuple[int, int]:
        h, w = self.pattern.shape[-2:]
        if h > height or w > width:
            raise InputError(f"a {h}x{w} patch does not fit {height}x{width} images")
        if not isinstance(self.location, str):
            row, col = self.location
            if not (0 <= row <= height - h and 0 <= col <= width - w):
                raise InputError(
                    f"a {h}x{w} patch at (row, col)={self.location} leaves {height}x{width} images"
                )
            return row, col
        rows = {"top": 0, "bottom": height - h}
        cols = {"left": 0, "right": width - w}
        if self.location == "center":
            return (height - h) // 2, (width - w) // 2
        vertical, horizontal = self.location.split("-")
        return rows[vertical], cols[horizontal]

    def __call__(self, x: Array) -> Array:
        batch = _batch(x, 3, "PatchTrigger")
        pattern = self.pattern
        if pattern.ndim == 3 and batch.ndim == 4 and pattern.shape[0] not in (1, batch.shape[1]):
            raise InputError(
                f"a {pattern.shape[0]}-channel patch does not fit {batch.shape[1]}-channel images"
            )
        if pattern.ndim == 3 and batch.ndim == 3:
            if pattern.shape[0] != 1:
                raise InputError(f"a {pattern.shape[0]}-channel patch needs (n, c, H, W) images")
            pattern = pattern[0]
        row, col = self._corner(*batch.shape[-2:])
        h, w = pattern.shape[-2:]
        out = batch.copy()
        out[..., row : row + h, col : col + w] = pattern
        return _clip(out, self.bounds)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"kind": "patch", "pattern": [...], "location", "bounds"}``."""
        loc = self.location if isinstance(self.location, str) else list(self.location)
        return {
            "kind": "patch",
            "pattern": self.pattern.tolist(),
            "location": loc,
            "bounds": list(self.bounds),
        }


@dataclass(frozen=True, eq=False)
class FeaturePatchTrigger:
    """The tabular BadNets trigger: set a few feature columns of ``(n, d)`` data to fixed values."""

    indices: tuple[int, ...]
    values: tuple[float, ...]
    _: KW_ONLY
    bounds: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        indices = tuple(int(i) for i in self.indices)
        values = tuple(float(v) for v in self.values)
        if not indices or len(indices) != len(values):
            raise InputError(
                f"feature trigger needs as many values as indices (>= 1), got "
                f"{len(indices)} indices and {len(values)} values"
            )
        if len(set(indices)) != len(indices) or min(indices) < 0:
            raise InputError(f"feature trigger indices must be distinct and >= 0, got {indices}")
        if not all(np.isfinite(values)):
            raise InputError(f"feature trigger values must be finite, got {values}")
        object.__setattr__(self, "indices", indices)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "bounds", _bounds(self.bounds))

    @classmethod
    def last(
        cls, d: int, k: int = 3, *, bounds: tuple[float, float] = (0.0, 1.0)
    ) -> FeaturePatchTrigger:
        """The default tabular trigger: the last ``k`` of ``d`` features set to high/low/high..."""
        if not 1 <= k <= d:
            raise InputError(f"cannot set the last {k} of {d} features")
        lo, hi = _bounds(bounds)
        values = tuple(hi if i % 2 == 0 else lo for i in range(k))
        return cls(tuple(range(d - k, d)), values, bounds=(lo, hi))

    def __call__(self, x: Array) -> Array:
        batch = _batch(x, 2, "FeaturePatchTrigger")
        if batch.ndim != 2 or max(self.indices) >= batch.shape[1]:
            raise InputError(
                f"feature trigger on indices up to {max(self.indices)} needs (n, d) data with "
                f"d > {max(self.indices)}, got shape {batch.shape}"
            )
        out = batch.copy()
        out[:, list(self.indices)] = np.asarray(self.values, dtype=np.float32)
        return _clip(out, self.bounds)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"kind": "feature-patch", "indices", "values", "bounds"}``."""
        return {
            "kind": "feature-patch",
            "indices": list(self.indices),
            "values": list(self.values),
            "bounds": list(self.bounds),
        }


@dataclass(frozen=True, eq=False)
class BlendTrigger:
    """Blended (Chen et al. 2017): ``x' = (1 - alpha) x + alpha pattern``; ``pattern`` has
    the shape of one sample."""

    pattern: Pattern
    _: KW_ONLY
    alpha: float = 0.15
    bounds: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", _pattern(self.pattern, "blend", (1, 2, 3, 4)))
        object.__setattr__(self, "bounds", _bounds(self.bounds))
        if not 0.0 < float(self.alpha) <= 1.0:
            raise InputError(f"blend alpha must be in (0, 1], got {self.alpha}")
        object.__setattr__(self, "alpha", float(self.alpha))

    @classmethod
    def noise(
        cls,
        shape: tuple[int, ...],
        *,
        seed: int = 0,
        alpha: float = 0.15,
        bounds: tuple[float, float] = (0.0, 1.0),
    ) -> BlendTrigger:
        """A seeded uniform-noise pattern of one sample's ``shape`` (the usual Blended key)."""
        lo, hi = _bounds(bounds)
        rng = np.random.default_rng(seed)
        pattern = rng.uniform(lo, hi, size=tuple(int(s) for s in shape)).astype(np.float32)
        return cls(pattern, alpha=alpha, bounds=(lo, hi))

    def __call__(self, x: Array) -> Array:
        batch = _batch(x, 2, "BlendTrigger")
        if batch.shape[1:] != self.pattern.shape:
            raise InputError(
                f"blend pattern of shape {self.pattern.shape} does not match samples of "
                f"shape {batch.shape[1:]}"
            )
        return _clip((1.0 - self.alpha) * batch + self.alpha * self.pattern, self.bounds)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"kind": "blend", "pattern": [...], "alpha", "bounds"}``."""
        return {
            "kind": "blend",
            "pattern": self.pattern.tolist(),
            "alpha": self.alpha,
            "bounds": list(self.bounds),
        }


@dataclass(frozen=True, eq=False)
class SignalTrigger:
    """SIG (Barni et al. 2019): add ``amplitude * (high - low) * sin(2 pi j f / W)`` along the
    last axis (image columns, or features of tabular data), then clip."""

    _: KW_ONLY
    amplitude: float = 0.1
    frequency: float = 6.0
    bounds: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bounds", _bounds(self.bounds))
        if not 0.0 < float(self.amplitude) <= 1.0:
            raise InputError(
                f"signal amplitude must be in (0, 1] bounds widths, got {self.amplitude}"
            )
        if not (np.isfinite(self.frequency) and float(self.frequency) > 0):
            raise InputError(f"signal frequency must be > 0, got {self.frequency}")
        object.__setattr__(self, "amplitude", float(self.amplitude))
        object.__setattr__(self, "frequency", float(self.frequency))

    def signal(self, width: int) -> Array:
        """The additive signal over ``width`` columns, in input units."""
        j = np.arange(width, dtype=np.float64)
        scale = self.amplitude * (self.bounds[1] - self.bounds[0])
        return (scale * np.sin(2 * np.pi * j * self.frequency / width)).astype(np.float32)

    def __call__(self, x: Array) -> Array:
        batch = _batch(x, 2, "SignalTrigger")
        return _clip(batch + self.signal(batch.shape[-1]), self.bounds)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"kind": "signal", "amplitude", "frequency", "bounds"}``."""
        return {
            "kind": "signal",
            "amplitude": self.amplitude,
            "frequency": self.frequency,
            "bounds": list(self.bounds),
        }


def trigger_from_dict(
    d: dict[str, Any],
) -> PatchTrigger | FeaturePatchTrigger | BlendTrigger | SignalTrigger | CompositeTrigger:
    """Rebuild a built-in trigger from :meth:`to_dict` output (patterns as lists or arrays)."""
    if not isinstance(d, dict):
        raise InputError(f"a trigger description must be a dict, got {type(d).__name__}")
    kind = d.get("kind")
    try:
        bounds = _bounds(d.get("bounds", (0.0, 1.0)))
        if kind == "patch":
            location = d.get("location", "bottom-right")
            loc: Any = location if isinstance(location, str) else tuple(location)
            return PatchTrigger(d["pattern"], location=loc, bounds=bounds)
        if kind == "feature-patch":
            return FeaturePatchTrigger(tuple(d["indices"]), tuple(d["values"]), bounds=bounds)
        if kind == "blend":
            return BlendTrigger(d["pattern"], alpha=float(d["alpha"]), bounds=bounds)
        if kind == "signal":
            return SignalTrigger(
                amplitude=float(d["amplitude"]), frequency=float(d["frequency"]), bounds=bounds
            )
        if kind == "composite":
            from redline.poisoning._composite import CompositeTrigger

            return CompositeTrigger.from_dict(d)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"malformed {kind} trigger description: {exc!r}") from exc
    known = "patch, feature-patch, blend, signal, composite"
    raise InputError(f"unknown trigger kind {kind!r} (known: {known})")
