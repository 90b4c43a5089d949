"""Monitoring a deployed model, offline: profiles of data windows, drift tests with
alarms a team can trust, label-free performance estimates and out-of-distribution
detectors. Everything takes arrays or profiles and returns results; opening incidents
and serving pages is the caller's job (docs/architecture.md)."""

from redline.monitoring._cbpe import CBPE, CBPEResult, WindowEstimate, estimate_performance
from redline.monitoring._drift import DEFAULT_THRESHOLDS, DriftDetector, benjamini_hochberg
from redline.monitoring._estimate import performance_estimate
from redline.monitoring._ood import KNN, Energy, Mahalanobis, MaxSoftmax
from redline.monitoring._ood_metrics import OODMetrics, ood_metrics
from redline.monitoring._profile import PROFILE_VERSION, Profile
from redline.monitoring._seq_cvm import SequentialCVM
from redline.monitoring._seq_mmd import SequentialMMD
from redline.monitoring._sequential import SeqState, SequentialDetector
from redline.monitoring._stream import profile_files

__all__ = [
    "CBPE",
    "DEFAULT_THRESHOLDS",
    "KNN",
    "PROFILE_VERSION",
    "CBPEResult",
    "DriftDetector",
    "Energy",
    "Mahalanobis",
    "MaxSoftmax",
    "OODMetrics",
    "Profile",
    "SeqState",
    "SequentialCVM",
    "SequentialDetector",
    "SequentialMMD",
    "WindowEstimate",
    "benjamini_hochberg",
    "estimate_performance",
    "ood_metrics",
    "performance_estimate",
    "profile_files",
]
