"""Adversarial example thumbnails: (c, h, w) arrays to nearest-neighbour PNG data URIs."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib import colormaps
from PIL import Image

from redline.errors import InputError
from redline.reports._format import class_name, fmt_eps
from redline.results import Example, ScanResult

__all__ = [
    "THUMB_PX",
    "ExampleView",
    "as_chw",
    "example_views",
    "image_uri",
    "perturbation_uri",
]

THUMB_PX = 88
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ExampleView:
    """One example as the report shows it: three thumbnails and their captions."""

    clean: str
    adversarial: str
    perturbation: str
    scale: float
    label: str
    clean_pred: str
    adv_pred: str
    attack: str
    eps: str
    distance: float
    index: int


def as_chw(data: list[Any], where: str) -> FloatArray:
    """A nested list as a (c, h, w) float array; (h, w) counts as one channel."""
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: image is not a rectangular array of numbers") from None
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or min(arr.shape) == 0:
        raise InputError(f"{where}: image must have shape (c, h, w), got {list(arr.shape)}")
    return arr


def _to_rgb(unit: FloatArray) -> npt.NDArray[np.uint8]:
    """(c, h, w) values in [0, 1] as (h, w) grey or (h, w, 3) colour bytes."""
    c = unit.shape[0]
    pixels = unit[:3].transpose(1, 2, 0) if c in (3, 4) else unit.mean(axis=0)
    return np.round(np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8)


def _png_uri(pixels: npt.NDArray[np.uint8]) -> str:
    """Bytes as a PNG data URI: integer nearest-neighbour upscale to >= THUMB_PX, or box-shrunk."""
    img = Image.fromarray(pixels)
    side = max(img.size)
    if side <= THUMB_PX:
        factor = -(-THUMB_PX // side)
        img = img.resize((img.width * factor, img.height * factor), Image.Resampling.NEAREST)
    else:
        scale = THUMB_PX / side
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        img = img.resize(size, Image.Resampling.BOX)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_uri(chw: FloatArray, bounds: tuple[float, float]) -> str:
    """An input in the target's bounds as a PNG data URI."""
    lo, hi = bounds
    return _png_uri(_to_rgb((chw - lo) / ((hi - lo) or 1.0)))


def perturbation_uri(delta: FloatArray) -> tuple[str, float]:
    """The perturbation amplified to full contrast, and the scale (max |delta|) it maps to."""
    scale = float(np.abs(delta).max())
    signed = delta / scale if scale > 0 else np.zeros_like(delta)
    if delta.shape[0] in (3, 4):
        return _png_uri(_to_rgb(0.5 + 0.5 * signed)), scale
    rgba = colormaps["RdBu_r"](0.5 + 0.4 * signed.mean(axis=0))
    return _png_uri(np.round(rgba[..., :3] * 255).astype(np.uint8)), scale


def _view(result: ScanResult, ex: Example) -> ExampleView:
    """Thumbnails and captions for one example."""
    where = f"example of sample {ex.index}"
    clean, adv = as_chw(ex.clean, where), as_chw(ex.adversarial, where)
    if clean.shape != adv.shape:
        raise InputError(f"{where}: clean {list(clean.shape)} and adversarial differ in shape")
    delta_uri, scale = perturbation_uri(adv - clean)
    bounds = result.target.bounds
    return ExampleView(
        clean=image_uri(clean, bounds),
        adversarial=image_uri(adv, bounds),
        perturbation=delta_uri,
        scale=scale,
        label=class_name(result, ex.label),
        clean_pred=class_name(result, ex.clean_pred),
        adv_pred=class_name(result, ex.adv_pred),
        attack=ex.attack,
        eps=fmt_eps(ex.eps),
        distance=ex.distance,
        index=ex.index,
    )


def example_views(result: ScanResult) -> list[ExampleView]:
    """Every example of the result, ready for the report grid."""
    return [_view(result, ex) for ex in result.examples]
