"""Brightness, contrast, JPEG compression and pixelation.

Severities are ImageNet-C's as the ``imagecorruptions`` package ships them (Michaelis et
al. 2019). None of them has a parameter in pixels: brightness and contrast act on values,
JPEG works on the image's own 8x8 blocks at its own resolution (as a camera or a web
server would compress it), and pixelation shrinks each side to a share of itself.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from redline.datasets._corrupt_kernels import Unit

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["brightness", "contrast", "jpeg_compression", "pixelate"]

_BRIGHTNESS = (0.1, 0.2, 0.3, 0.4, 0.5)
"""Added to the HSV value (the largest channel), in units of the value range."""
_CONTRAST = (0.4, 0.3, 0.2, 0.1, 0.05)
"""Factor on each value's distance from its image-and-channel mean."""
_JPEG = (25, 18, 15, 10, 7)
"""Pillow's JPEG quality."""
_PIXELATE = (0.6, 0.5, 0.4, 0.3, 0.25)
"""Share of each side kept before scaling back up."""


def brightness(u: Unit, severity: int, _rng: np.random.Generator) -> Unit:
    """Raise the HSV value by a constant, hue and saturation kept (grey: add it).

    In closed form: with ``V`` the largest channel and ``V' = clip(V + c)``, every channel
    scales by ``V' / V`` (black pixels become grey ``V'``), which is exactly the HSV round
    trip of ImageNet-C without the conversion."""
    c = _BRIGHTNESS[severity - 1]
    if u.shape[1] == 1:
        return np.clip(u + c, 0.0, 1.0)
    v = u.max(axis=1, keepdims=True)
    v_new = np.clip(v + c, 0.0, 1.0)
    scaled = u * (v_new / np.where(v > 0.0, v, 1.0))
    out: Unit = np.clip(np.where(v > 0.0, scaled, v_new), 0.0, 1.0)
    return out


def contrast(u: Unit, severity: int, _rng: np.random.Generator) -> Unit:
    """Shrink every value towards its image's mean in that channel."""
    c = _CONTRAST[severity - 1]
    mean = u.mean(axis=(2, 3), keepdims=True)
    out: Unit = np.clip((u - mean) * c + mean, 0.0, 1.0)
    return out


def _to_pil(image: Unit) -> Image.Image:
    """One image ``(c, h, w)`` in [0, 1] as an 8-bit Pillow image (L or RGB)."""
    from PIL import Image

    pixels = np.rint(image * 255.0).astype(np.uint8)
    return Image.fromarray(pixels[0] if len(pixels) == 1 else pixels.transpose(1, 2, 0))


def jpeg_compression(u: Unit, severity: int, _rng: np.random.Generator) -> Unit:
    """Save as JPEG with Pillow at a low quality and decode again (8-bit values after)."""
    from PIL import Image

    quality = _JPEG[severity - 1]
    out = np.empty_like(u)
    for i, image in enumerate(u):
        buffer = io.BytesIO()
        _to_pil(image).save(buffer, "JPEG", quality=quality)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            pixels = np.asarray(decoded, dtype=np.float64) / 255.0
        out[i] = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    return out


def pixelate(u: Unit, severity: int, _rng: np.random.Generator) -> Unit:
    """Box-downsample each side to the severity's share, nearest-upsample back."""
    from PIL import Image

    share = _PIXELATE[severity - 1]
    h, w = u.shape[2:]
    small = (max(1, int(w * share)), max(1, int(h * share)))
    out = np.empty_like(u)
    for i in range(len(u)):
        for ch in range(u.shape[1]):
            plane = Image.fromarray(u[i, ch].astype(np.float32))
            shrunk = plane.resize(small, Image.Resampling.BOX)
            out[i, ch] = np.asarray(shrunk.resize((w, h), Image.Resampling.NEAREST))
    return np.clip(out, 0.0, 1.0)
