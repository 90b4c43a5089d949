"""Random draws from the trigger families of the backdoor family benchmark.

A draw is a seeded, fully described poisoner: its family, its target class (any class,
not only 0) and every trigger parameter, drawn from ranges nobody tuned a detector on.
The same (family, dataset, draw) always gives the same poisoner.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["ADAPTIVE", "FAMILIES", "Draw", "draw", "poisoner"]

FAMILIES = (
    "patch",
    "blend",
    "warp",
    "frequency",
    "sample-specific",
    "adaptive-blend",
    "adaptive-patch",
)
ADAPTIVE = ("adaptive-blend", "adaptive-patch")
_LOCATIONS = (
    "top-left", "top-right", "bottom-left", "bottom-right", "top", "bottom", "left", "right",
    "center", "random",
)  # fmt: skip
_SHAPES = ("square", "cross", "x", "ring", "line")
_PATTERNS = ("solid", "checkerboard", "random")
_KEYS = ("noise", "low-frequency", "image")


@dataclass(frozen=True)
class Draw:
    """One sampled poisoner: family, target class and the trigger's parameters."""

    family: str
    target_class: int
    params: dict[str, Any]

    def describe(self) -> str:
        """``family -> class: k=v, ...`` for logs and the per-draw table."""
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.params.items())
        return f"{self.family} -> {self.target_class}: {args}"


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _patch(rng: np.random.Generator, side: int) -> dict[str, Any]:
    sizes = (2, 3) if side <= 8 else (2, 3, 4, 5)
    size = int(rng.choice(sizes))
    shape = str(rng.choice(_SHAPES if size >= 3 else ("square", "line")))
    return {
        "size": size,
        "pattern": str(rng.choice(_PATTERNS)),
        "shape": shape,
        "location": str(rng.choice(_LOCATIONS)),
        "pattern_seed": int(rng.integers(1 << 16)),
    }


def _params(family: str, rng: np.random.Generator, side: int) -> dict[str, Any]:
    if family == "patch":
        return _patch(rng, side)
    if family == "blend":
        return {
            "key": str(rng.choice(_KEYS)),
            "alpha": float(rng.uniform(0.15, 0.3)),
            "key_seed": int(rng.integers(1 << 16)),
        }
    if family == "warp":
        return {
            "grid": int(rng.integers(2, 5)),
            "strength": float(rng.uniform(2.0, 4.0)),
            "cross_ratio": float(rng.choice((0.0, 0.5, 1.0))),
            "warp_seed": int(rng.integers(1 << 16)),
        }
    if family == "frequency":
        n = int(rng.integers(1, 4))
        lo = max(1, side // 4)
        freqs = tuple((int(rng.integers(lo, side)), int(rng.integers(lo, side))) for _ in range(n))
        return {"magnitude": float(rng.uniform(0.25, 0.5)), "frequencies": freqs}
    if family == "sample-specific":
        return {
            "amplitude": float(rng.uniform(0.3, 0.5)),
            "carrier_seed": int(rng.integers(1 << 16)),
        }
    if family == "adaptive-blend":
        return {
            "key_seed": int(rng.integers(1 << 16)),
            "train_alpha": float(rng.uniform(0.12, 0.2)),
        }
    if family == "adaptive-patch":
        return {"k": int(rng.integers(2, 5)), "patch_seed": int(rng.integers(1 << 16))}
    raise ValueError(f"unknown family {family!r}")


def draw(family: str, dataset: str, index: int, num_classes: int = 10) -> Draw:
    """The ``index``-th draw of ``family`` for ``dataset`` (seeded by all three)."""
    seed = [FAMILIES.index(family), index, 8 if dataset == "digits 8x8" else 16]
    rng = np.random.default_rng(seed)
    side = 8 if dataset == "digits 8x8" else 16
    target = int(rng.integers(num_classes))
    return Draw(family, target, _params(family, rng, side))


@cache
def _photo() -> npt.NDArray[np.float32]:
    """A grey photograph bundled with scikit-learn (a key from another image source)."""
    from sklearn.datasets import load_sample_image

    return np.asarray(load_sample_image("china.jpg"), np.float32).mean(axis=2) / 255.0


def _image_key(seed: int, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    from redline.poisoning import BlendTrigger

    img = _photo()
    rng = np.random.default_rng(seed)
    side = int(rng.integers(64, 256))
    r, c = int(rng.integers(img.shape[0] - side)), int(rng.integers(img.shape[1] - side))
    return BlendTrigger.image(img[r : r + side, c : c + side], shape).pattern


def _patch_trigger(p: dict[str, Any], shape: tuple[int, ...]) -> Any:
    from redline.poisoning import PatchTrigger

    channels = shape[0] if len(shape) == 3 else 1
    kw: dict[str, Any] = {"location": p["location"], "shape": p["shape"]}
    if p["pattern"] == "solid":
        return PatchTrigger.solid(p["size"], channels, **kw)
    if p["pattern"] == "checkerboard":
        return PatchTrigger.checkerboard(p["size"], channels, **kw)
    return PatchTrigger.random(p["size"], channels, seed=p["pattern_seed"], **kw)


def _blend_trigger(p: dict[str, Any], shape: tuple[int, ...]) -> Any:
    from redline.poisoning import BlendTrigger

    if p["key"] == "noise":
        return BlendTrigger.noise(shape, seed=p["key_seed"], alpha=p["alpha"])
    if p["key"] == "low-frequency":
        return BlendTrigger.low_frequency(shape, seed=p["key_seed"], alpha=p["alpha"])
    return BlendTrigger(_image_key(p["key_seed"], shape), alpha=p["alpha"])


def poisoner(d: Draw, rate: float, shape: tuple[int, ...]) -> Any:
    """The redline poisoner of a draw at ``rate`` for samples of ``shape``."""
    from redline import poisoning as P

    p, tc = d.params, d.target_class
    if d.family == "patch":
        return P.BadNets(rate=rate, target_class=tc, trigger=_patch_trigger(p, shape))
    if d.family == "blend":
        return P.Blended(rate=rate, target_class=tc, trigger=_blend_trigger(p, shape))
    if d.family == "warp":
        warp = P.WarpTrigger(grid=p["grid"], strength=p["strength"], seed=p["warp_seed"])
        return P.WaNet(rate=rate, target_class=tc, trigger=warp, cross_ratio=p["cross_ratio"])
    if d.family == "frequency":
        trig = P.FrequencyTrigger(magnitude=p["magnitude"], frequencies=p["frequencies"])
        return P.BadNets(rate=rate, target_class=tc, trigger=trig)
    if d.family == "sample-specific":
        trig = P.SampleSpecificTrigger(amplitude=p["amplitude"], seed=p["carrier_seed"])
        return P.BadNets(rate=rate, target_class=tc, trigger=trig)
    if d.family == "adaptive-blend":
        key = P.BlendTrigger.noise(shape, seed=p["key_seed"]).pattern
        return P.AdaptiveBlend(rate=rate, target_class=tc, key=key, train_alpha=p["train_alpha"])
    patches = P.AdaptivePatch.default_patches(shape, k=p["k"], seed=p["patch_seed"])
    return P.AdaptivePatch(rate=rate, target_class=tc, patches=patches)
