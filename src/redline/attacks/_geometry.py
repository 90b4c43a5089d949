"""Lp geometry shared by every attack: norms, projection, random starts, steps.

One place for it (as in foolbox's ``gradient_descent_base``) so that each attack
file holds only its own math.
"""

from __future__ import annotations

from typing import Literal

import torch

__all__ = [
    "NORMS",
    "Norm",
    "clip_to_bounds",
    "enforce",
    "lp_norm",
    "normalize_gradient",
    "project",
    "random_in_ball",
    "within",
]

Norm = Literal["linf", "l2"]
NORMS: tuple[Norm, ...] = ("linf", "l2")

_TINY = 1e-12
REL_TOLERANCE = 1e-5
"""Float32 rounding in ``x + delta - x`` can exceed eps by an ulp; checks allow this much."""


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(len(t), -1)


def _per_sample(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (like.dim() - 1)))


def lp_norm(delta: torch.Tensor, norm: Norm) -> torch.Tensor:
    """Per-sample norm of a batch of perturbations."""
    flat = _flat(delta)
    out: torch.Tensor = torch.linalg.vector_norm(
        flat, ord=float("inf") if norm == "linf" else 2, dim=1
    )
    return out


def project(delta: torch.Tensor, norm: Norm, eps: float | torch.Tensor) -> torch.Tensor:
    """Project perturbations onto the eps ball (per-sample eps allowed)."""
    if isinstance(eps, torch.Tensor):
        eps = _per_sample(eps, delta)
        if norm == "linf":
            return torch.maximum(torch.minimum(delta, eps), -eps)
    elif norm == "linf":
        return delta.clamp(-eps, eps)
    norms = _per_sample(lp_norm(delta, "l2"), delta)
    factor = torch.clamp(eps / (norms + _TINY), max=1.0)
    return delta * factor


def clip_to_bounds(x: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    """Clamp into the valid input range."""
    return x.clamp(bounds[0], bounds[1])


def enforce(
    x: torch.Tensor,
    x_adv: torch.Tensor,
    norm: Norm,
    eps: float | torch.Tensor,
    bounds: tuple[float, float],
) -> torch.Tensor:
    """Project ``x_adv`` into the eps ball around ``x``, then into ``bounds``.

    Clipping after projection never leaves the ball: for ``x`` inside the bounds,
    clipping only shrinks each coordinate of the perturbation.
    """
    return clip_to_bounds(x + project(x_adv - x, norm, eps), bounds)


def within(
    x: torch.Tensor,
    x_adv: torch.Tensor,
    norm: Norm,
    eps: float,
    bounds: tuple[float, float],
) -> torch.Tensor:
    """Per-sample mask: ``x_adv`` is inside the eps ball (up to float rounding) and bounds."""
    dist = lp_norm(x_adv - x, norm)
    in_ball = dist <= eps * (1 + REL_TOLERANCE) + 1e-7
    flat = _flat(x_adv)
    in_bounds = (flat >= bounds[0]).all(dim=1) & (flat <= bounds[1]).all(dim=1)
    finite = torch.isfinite(flat).all(dim=1)
    return in_ball & in_bounds & finite


def random_in_ball(
    x: torch.Tensor, norm: Norm, eps: float, generator: torch.Generator
) -> torch.Tensor:
    """A random perturbation inside the eps ball (uniform for Linf, uniform in volume for L2)."""
    if norm == "linf":
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return (2 * u - 1) * eps
    direction = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    direction = direction / (_per_sample(lp_norm(direction, "l2"), x) + _TINY)
    dim = _flat(x).shape[1]
    r = torch.rand(len(x), generator=generator, device=x.device, dtype=x.dtype) ** (1.0 / dim)
    return direction * _per_sample(r * eps, x)


def normalize_gradient(grad: torch.Tensor, norm: Norm) -> torch.Tensor:
    """Steepest-ascent direction of unit norm: sign for Linf, grad/||grad|| for L2."""
    if norm == "linf":
        return grad.sign()
    return grad / (_per_sample(lp_norm(grad, "l2"), grad) + _TINY)
