"""The gap between the best and the worst slice of the data, with its interval: a model
that is robust on average can still fail one group of users."""

from __future__ import annotations

import math
from collections.abc import Sequence

from redline.results._common import Accuracy, Interval, _Model

__all__ = ["SliceGap", "newcombe", "slice_gap"]


class SliceGap(_Model):
    """``best`` minus ``worst`` slice accuracy, with Newcombe's 95% interval."""

    best: str
    worst: str
    gap: float
    ci: Interval
    """Newcombe's hybrid score interval (1998, method 10) for the difference of two
    independent proportions, from the slices' Wilson intervals. The slices are picked
    because they are extreme, so the gap leans high when slices are small."""


def slice_gap(slices: Sequence[tuple[str, Accuracy]]) -> SliceGap | None:
    """The gap between the most and least accurate of ``(name, accuracy)`` slices (None
    with fewer than two non-empty slices)."""
    found = [(name, acc) for name, acc in slices if acc.n > 0]
    if len(found) < 2:
        return None
    best = max(found, key=lambda s: s[1].value)
    worst = min(found, key=lambda s: s[1].value)
    gap = best[1].value - worst[1].value
    return SliceGap(best=best[0], worst=worst[0], gap=gap, ci=newcombe(best[1], worst[1]))


def newcombe(a: Accuracy, b: Accuracy) -> Interval:
    """95% interval of ``a.value - b.value`` from the two Wilson intervals (Newcombe 1998)."""
    d = a.value - b.value
    low = d - math.hypot(a.value - a.ci.low, b.ci.high - b.value)
    high = d + math.hypot(a.ci.high - a.value, b.value - b.ci.low)
    return Interval(low=max(-1.0, low), high=min(1.0, high))
