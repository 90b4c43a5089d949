"""FTrojan-style (Wang et al. 2022) frequency-domain trigger: a fixed bump on a few
mid/high DCT coefficients of every channel, invisible in the pixels, the same on every
image."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np
import scipy.fft

from redline.errors import InputError
from redline.poisoning._trigger_common import Array, _bounds, _clip, _fraction, _images

__all__ = ["FrequencyTrigger"]

Frequencies = tuple[tuple[int, int], ...]


def _frequencies(value: Any) -> Frequencies:
    """Distinct ``(u, v)`` pairs of non-negative ints (first occurrence kept), not (0, 0)."""
    try:
        pairs = [tuple(pair) for pair in value]
    except TypeError as exc:
        raise InputError(f"trigger frequencies must be (u, v) pairs, got {value!r}") from exc
    out: list[tuple[int, int]] = []
    for pair in pairs:
        ints = all(isinstance(p, int | np.integer) and not isinstance(p, bool) for p in pair)
        if len(pair) != 2 or not ints or min(pair) < 0:
            raise InputError(f"a trigger frequency must be (u, v) with ints >= 0, got {pair!r}")
        if tuple(pair) == (0, 0):
            raise InputError("trigger frequency (0, 0) is the mean (a brightness shift)")
        key = (int(pair[0]), int(pair[1]))
        if key not in out:
            out.append(key)
    if not out:
        raise InputError("a frequency trigger needs at least one (u, v) frequency")
    return tuple(out)


@dataclass(frozen=True, eq=False)
class FrequencyTrigger:
    """Add the same value to the orthonormal 2-D DCT coefficients ``(u, v)`` (row, column
    frequency) of every channel of images ``(n, ..., H, W)``, then clip.

    The value is chosen so that the largest pixel change, before clipping, is exactly
    ``magnitude`` bound widths: ``magnitude * (high - low) / max|P|`` where ``P`` is the
    inverse DCT of ones at the chosen coefficients. By linearity the trigger adds
    :meth:`pattern` to each channel, which equals the DCT, add, inverse-DCT round trip.
    Frequencies must be < H and < W respectively; repeated pairs count once.
    """

    _: KW_ONLY
    magnitude: float = 0.1
    frequencies: Frequencies = ((3, 5), (5, 3))
    bounds: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "magnitude", _fraction(self.magnitude, "frequency magnitude"))
        object.__setattr__(self, "frequencies", _frequencies(self.frequencies))
        object.__setattr__(self, "bounds", _bounds(self.bounds))

    def pattern(self, height: int, width: int) -> Array:
        """The ``(height, width)`` change added to every channel, before clipping."""
        too_high = [(u, v) for u, v in self.frequencies if u >= height or v >= width]
        if too_high:
            raise InputError(
                f"trigger frequencies {too_high} do not fit {height}x{width} images "
                f"(want u < {height} and v < {width})"
            )
        coefficients = np.zeros((height, width), dtype=np.float64)
        for u, v in self.frequencies:
            coefficients[u, v] = 1.0
        spatial = np.asarray(scipy.fft.idctn(coefficients, norm="ortho"))
        scale = self.magnitude * (self.bounds[1] - self.bounds[0]) / np.abs(spatial).max()
        out: Array = (spatial * scale).astype(np.float32)
        return out

    def __call__(self, x: Array) -> Array:
        batch = _images(x, "FrequencyTrigger")
        return _clip(batch + self.pattern(*batch.shape[-2:]), self.bounds)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"kind": "frequency", "magnitude", "frequencies": [[u, v], ...],
        "bounds"}``."""
        return {
            "kind": "frequency",
            "magnitude": self.magnitude,
            "frequencies": [list(pair) for pair in self.frequencies],
            "bounds": list(self.bounds),
        }
