"""Result types shared by every section of a scan result: an accuracy with its
interval, on one frozen, strict pydantic base."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

__all__ = ["Accuracy", "Interval", "wilson"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Interval(_Model):
    """A two-sided confidence interval."""

    low: float
    high: float


class Accuracy(_Model):
    """``correct`` out of ``n``, with its Wilson 95% interval."""

    value: float
    n: int
    correct: int
    ci: Interval


def wilson(correct: int, n: int, z: float = 1.959964) -> Interval:
    """Wilson score interval for a binomial proportion (95% by default).

    Unlike the normal approximation it stays inside [0, 1] and is honest at 0% or 100%,
    which is exactly where robust accuracies live.
    """
    if n == 0:
        return Interval(low=0.0, high=1.0)
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(low=max(0.0, centre - half), high=min(1.0, centre + half))
