"""Accuracy without labels, read off two profiles: the current window's mean confidence
(confidence-based performance estimation for a calibrated model), corrected by the
reference's calibration gap when the reference was profiled with its labels."""

from __future__ import annotations

import math

from redline.monitoring._profile import Profile
from redline.results import Interval, PerformanceEstimate

__all__ = ["performance_estimate"]


def performance_estimate(reference: Profile, current: Profile) -> PerformanceEstimate | None:
    """The estimate with a 95% interval (normal, Poisson-binomial variance), or None when
    the profiles hold no predictions."""
    if reference.predictions is None or current.predictions is None:
        return None
    conf = current.predictions.confidence.moments
    if conf.count == 0:
        return None
    sum_sq = conf.m2 + conf.count * conf.mean**2
    variance = max(conf.count * conf.mean - sum_sq, 0.0) / conf.count**2
    gap, note = 0.0, "mean confidence of the current window: assumes a calibrated model"
    ref = reference.predictions
    realised = ref.correct / ref.labelled if ref.labelled else None
    if realised is not None:
        gap = ref.confidence.moments.mean - realised
        note = (
            f"mean confidence of the current window minus the reference's calibration gap "
            f"({gap:+.1%}: confidence {ref.confidence.moments.mean:.1%}, realised accuracy "
            f"{realised:.1%} on {ref.labelled:,} labelled rows); assumes the gap holds"
        )
    estimated = min(1.0, max(0.0, conf.mean - gap))
    half = 1.959964 * math.sqrt(variance)
    ci = Interval(low=max(0.0, estimated - half), high=min(1.0, estimated + half))
    cur = current.predictions
    if cur.labelled:
        done = cur.correct / cur.labelled
        note += f"; realised on the {cur.labelled:,} labelled current rows: {done:.1%}"
    return PerformanceEstimate(estimated=estimated, ci=ci, reference_accuracy=realised, note=note)
