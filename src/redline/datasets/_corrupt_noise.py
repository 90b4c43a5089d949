"""Gaussian, shot (Poisson) and impulse (salt-and-pepper) noise, pixel by pixel.

Severities are ImageNet-C's as the ``imagecorruptions`` package ships them (Michaelis et
al. 2019). Noise is a property of the sensor's pixel, not of the scene, so nothing scales
with the image size: each value of each channel gets its own draw.
"""

from __future__ import annotations

import numpy as np

from redline.datasets._corrupt_kernels import Unit

__all__ = ["gaussian_noise", "impulse_noise", "shot_noise"]

_GAUSSIAN = (0.08, 0.12, 0.18, 0.26, 0.38)
"""Standard deviation of the additive noise, in units of the value range."""
_SHOT = (60, 25, 12, 5, 3)
"""Photons per full-scale value: fewer photons, more relative noise."""
_IMPULSE = (0.03, 0.06, 0.09, 0.17, 0.27)
"""Share of values replaced by 0 or 1 (half each on average)."""


def gaussian_noise(u: Unit, severity: int, rng: np.random.Generator) -> Unit:
    """Additive white Gaussian noise (read-out noise of a sensor)."""
    sigma = _GAUSSIAN[severity - 1]
    return np.clip(u + rng.normal(0.0, sigma, size=u.shape), 0.0, 1.0)


def shot_noise(u: Unit, severity: int, rng: np.random.Generator) -> Unit:
    """Poisson photon-counting noise: ``Poisson(u * lam) / lam``."""
    lam = _SHOT[severity - 1]
    return np.clip(rng.poisson(u * lam) / lam, 0.0, 1.0)


def impulse_noise(u: Unit, severity: int, rng: np.random.Generator) -> Unit:
    """Salt-and-pepper noise (bit errors): each value flips to 0 or 1 with the
    severity's probability, as scikit-image's ``random_noise(mode="s&p")`` does."""
    amount = _IMPULSE[severity - 1]
    flipped = rng.random(u.shape) < amount
    salt = rng.random(u.shape) < 0.5
    out = u.copy()
    out[flipped & salt] = 1.0
    out[flipped & ~salt] = 0.0
    return out
