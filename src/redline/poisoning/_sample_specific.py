"""An ISSBA-style (Li et al., ICCV 2021) invisible, sample-specific backdoor residual,
built without a trained encoder."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from redline.poisoning._trigger_common import Array, _bounds, _clip, _fraction, _images, _seed

__all__ = ["SampleSpecificTrigger"]

_FLOOR = 0.25
"""The edge map's floor: flat regions carry a quarter of the amplitude."""


@dataclass(frozen=True, eq=False)
class SampleSpecificTrigger:
    """``x + amplitude * (high - low) * carrier * edges(x)`` on images ``(n, ..., H, W)``.

    ISSBA hides a code in each image with a trained StegaStamp encoder; this stand-in has
    the same properties without one: invisible (a small residual), sample-specific (the
    residual follows each image's own edges) and at no fixed location. The ``carrier``, a
    seeded +/-1 pattern of one sample's shape, is what the model can learn; ``edges`` is
    the gradient magnitude over H and W scaled to a maximum of 1 per sample, floored at
    0.25 so that flat regions carry some signal.
    """

    _: KW_ONLY
    amplitude: float = 0.1
    seed: int = 0
    bounds: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "amplitude", _fraction(self.amplitude, "sample-specific amplitude")
        )
        object.__setattr__(self, "seed", _seed(self.seed, "sample-specific"))
        object.__setattr__(self, "bounds", _bounds(self.bounds))

    def carrier(self, shape: tuple[int, ...]) -> Array:
        """The seeded +/-1 carrier of one sample's ``shape``."""
        bits = np.random.default_rng(self.seed).integers(0, 2, tuple(int(s) for s in shape))
        out: Array = (2 * bits - 1).astype(np.float32)
        return out

    @staticmethod
    def edges(x: Array) -> Array:
        """Each sample's gradient magnitude over (H, W), scaled to max 1, floored at 0.25."""
        batch = _images(x, "SampleSpecificTrigger.edges").astype(np.float64)
        rows, cols = np.gradient(batch, axis=(-2, -1))
        magnitude = np.sqrt(rows**2 + cols**2)
        peak = magnitude.max(axis=tuple(range(1, batch.ndim)), keepdims=True, initial=0.0)
        scaled = np.divide(magnitude, peak, out=np.zeros_like(magnitude), where=peak > 0)
        out: Array = np.maximum(scaled, _FLOOR).astype(np.float32)
        return out

    def residual(self, x: Array) -> Array:
        """The change each sample gets, before clipping."""
        batch = _images(x, "SampleSpecificTrigger")
        scale = self.amplitude * (self.bounds[1] - self.bounds[0])
        out: Array = (scale * self.carrier(batch.shape[1:]) * self.edges(batch)).astype(np.float32)
        return out

    def __call__(self, x: Array) -> Array:
        batch = _images(x, "SampleSpecificTrigger")
        return _clip(batch + self.residual(batch), self.bounds)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"kind": "sample-specific", "amplitude", "seed", "bounds"}``."""
        return {
            "kind": "sample-specific",
            "amplitude": self.amplitude,
            "seed": self.seed,
            "bounds": list(self.bounds),
        }
