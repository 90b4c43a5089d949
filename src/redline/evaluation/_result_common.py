"""Result types shared by every section of a scan result: an accuracy with its
interval, on one frozen, strict pydantic base."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Accuracy", "Interval"]


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
