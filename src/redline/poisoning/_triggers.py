"""Backdoor triggers: frozen, seeded callables that stamp a pattern on a numpy batch.

Every trigger returns a new float32 array clipped to its ``bounds`` and never writes to
its input. ``to_dict`` gives plain JSON data (patterns as nested lists) and
:func:`trigger_from_dict` rebuilds the trigger from it, or from the same dict with the
pattern kept as an array (how :func:`redline.poisoning._io.save_poisoned` stores it).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from redline.errors import InputError
from redline.poisoning._blend_keys import image_key, low_frequency_key
from redline.poisoning._frequency import FrequencyTrigger
from redline.poisoning._patch import Corner, Location, PatchTrigger
from redline.poisoning._sample_specific import SampleSpecificTrigger
from redline.poisoning._trigger_common import (
    Array,
    Pattern,
    _batch,
    _clip,
    _pattern,
    _seed,
)
from redline.poisoning._trigger_common import _bounds as _bounds  # _adaptive imports it here
from redline.poisoning._warp import WarpTrigger

if TYPE_CHECKING:
    from redline.poisoning._composite import CompositeTrigger

__all__ = [
    "BlendTrigger",
    "Corner",
    "FeaturePatchTrigger",
    "FrequencyTrigger",
    "Location",
    "PatchTrigger",
    "SampleSpecificTrigger",
    "SignalTrigger",
    "WarpTrigger",
    "trigger_from_dict",
]


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

    @classmethod
    def low_frequency(
        cls,
        shape: tuple[int, ...],
        *,
        seed: int = 0,
        cutoff: int = 2,
        alpha: float = 0.15,
        bounds: tuple[float, float] = (0.0, 1.0),
    ) -> BlendTrigger:
        """A seeded smooth key: random coefficients on the lowest ``cutoff`` x ``cutoff``
        DCT frequencies, spanning the bounds (a key that noise-tuned detectors miss)."""
        lo, hi = _bounds(bounds)
        key = low_frequency_key(shape, _seed(seed, "low-frequency key"), cutoff, (lo, hi))
        return cls(key, alpha=alpha, bounds=(lo, hi))

    @classmethod
    def image(
        cls,
        image: Any,
        shape: tuple[int, ...],
        *,
        alpha: float = 0.15,
        bounds: tuple[float, float] = (0.0, 1.0),
    ) -> BlendTrigger:
        """Another image (``(H', W')`` or channel-first) as the key, resized to one
        sample's ``shape`` and rescaled to span the bounds (Chen et al.'s Hello Kitty key)."""
        lo, hi = _bounds(bounds)
        return cls(image_key(image, shape, (lo, hi)), alpha=alpha, bounds=(lo, hi))

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


def _patch_from(d: dict[str, Any], bounds: tuple[float, float]) -> PatchTrigger:
    location = d.get("location", "bottom-right")
    loc: Any = location if isinstance(location, str) else tuple(location)
    mask, seed = d.get("mask"), d.get("seed", 0)
    return PatchTrigger(d["pattern"], location=loc, bounds=bounds, mask=mask, seed=seed)


def _build(kind: Any, d: dict[str, Any], bounds: tuple[float, float]) -> Any:
    """The trigger of a known ``kind`` from its description, or None for another kind."""
    if kind == "patch":
        return _patch_from(d, bounds)
    if kind == "feature-patch":
        return FeaturePatchTrigger(tuple(d["indices"]), tuple(d["values"]), bounds=bounds)
    if kind == "blend":
        return BlendTrigger(d["pattern"], alpha=float(d["alpha"]), bounds=bounds)
    if kind == "signal":
        amplitude, frequency = float(d["amplitude"]), float(d["frequency"])
        return SignalTrigger(amplitude=amplitude, frequency=frequency, bounds=bounds)
    if kind == "warp":
        grid, strength = d["grid"], float(d["strength"])
        return WarpTrigger(grid=grid, strength=strength, seed=d["seed"], bounds=bounds)
    if kind == "frequency":
        pairs = tuple(tuple(pair) for pair in d["frequencies"])
        return FrequencyTrigger(magnitude=float(d["magnitude"]), frequencies=pairs, bounds=bounds)
    if kind == "sample-specific":
        amplitude = float(d["amplitude"])
        return SampleSpecificTrigger(amplitude=amplitude, seed=d["seed"], bounds=bounds)
    if kind == "composite":
        from redline.poisoning._composite import CompositeTrigger

        return CompositeTrigger.from_dict(d)
    return None


_KINDS = "patch, feature-patch, blend, signal, warp, frequency, sample-specific, composite"


def trigger_from_dict(
    d: dict[str, Any],
) -> (
    PatchTrigger
    | FeaturePatchTrigger
    | BlendTrigger
    | SignalTrigger
    | WarpTrigger
    | FrequencyTrigger
    | SampleSpecificTrigger
    | CompositeTrigger
):
    """Rebuild a built-in trigger from :meth:`to_dict` output (patterns as lists or arrays)."""
    if not isinstance(d, dict):
        raise InputError(f"a trigger description must be a dict, got {type(d).__name__}")
    kind = d.get("kind")
    try:
        bounds = _bounds(d.get("bounds", (0.0, 1.0)))
        built = _build(kind, d, bounds)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"malformed {kind} trigger description: {exc!r}") from exc
    if built is None:
        raise InputError(f"unknown trigger kind {kind!r} (known: {_KINDS})")
    return built  # type: ignore[no-any-return]
