"""Pieces of the backdoor section: one detector's fitted state turned into report data."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch

from redline.defenses import RepairResult
from redline.poisoning.detection import (
    STRIP,
    CombinedDetector,
    NeuralCleanse,
    TrainingDataDetector,
)
from redline.results import (
    DataDetection,
    DetectorClass,
    Histogram,
    ModelDetection,
    RepairSummary,
    ReversedTrigger,
    StripSummary,
)
from redline.targets import TorchTarget

__all__ = [
    "auroc",
    "data_detection",
    "histogram",
    "model_detection",
    "repair_summary",
    "strip_summary",
    "tpr_at_fpr",
]

Floats = npt.NDArray[np.float64]
TOP = 25
"""Most suspicious samples listed per detector."""


def auroc(negative: npt.ArrayLike, positive: npt.ArrayLike) -> float:
    """Area under the ROC curve of ``positive`` scored above ``negative`` (ties count half),
    by the Mann-Whitney rank sum."""
    neg, pos = np.asarray(negative, np.float64), np.asarray(positive, np.float64)
    if not len(neg) or not len(pos):
        return float("nan")
    both = np.concatenate([neg, pos])
    order = both.argsort(kind="stable")
    ranks = np.empty(len(both))
    sorted_vals = both[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_vals)) + 1]
    ends = np.r_[starts[1:], len(both)]
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    u = ranks[len(neg) :].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(neg) * len(pos)))


def tpr_at_fpr(negative: npt.ArrayLike, positive: npt.ArrayLike, fpr: float = 0.05) -> float:
    """Share of ``positive`` strictly above the threshold that lets ``fpr`` of ``negative``
    through (the negatives' ``1 - fpr`` quantile, taken on the higher side)."""
    neg, pos = np.asarray(negative, np.float64), np.asarray(positive, np.float64)
    if not len(neg) or not len(pos):
        return float("nan")
    threshold = float(np.quantile(neg, 1.0 - fpr, method="higher"))
    return float((pos > threshold).mean())


def histogram(groups: dict[str, npt.ArrayLike], bins: int = 30) -> Histogram:
    """Counts of every group on shared, equal-width bin edges."""
    arrays = {k: np.asarray(v, np.float64) for k, v in groups.items()}
    values = np.concatenate([a for a in arrays.values() if len(a)] or [np.zeros(1)])
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    counts = {k: np.histogram(a[np.isfinite(a)], bins=edges)[0].tolist() for k, a in arrays.items()}
    return Histogram(edges=edges.tolist(), groups=counts)


def _named(label: int, class_names: Sequence[str] | None) -> str:
    return class_names[label] if class_names and label < len(class_names) else str(label)


def data_detection(
    name: str,
    detector: TrainingDataDetector | CombinedDetector,
    target: TorchTarget,
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    *,
    class_names: Sequence[str] | None = None,
    mask: npt.NDArray[np.bool_] | None = None,
) -> DataDetection:
    """Fit ``detector`` on the training set and summarise it; ``mask`` (ground truth of a
    simulated poisoning) adds AUROC and TPR at 5% FPR and labels the histogram groups."""
    t0 = time.perf_counter()
    detector.fit(target, x, y)
    seconds = time.perf_counter() - t0
    scores, flagged = detector.scores_, detector.flagged_
    truth = flagged if mask is None else mask
    groups = ("unflagged", "flagged") if mask is None else ("clean", "poisoned")
    known = mask is not None and bool(mask.any()) and not bool(mask.all())
    classes = [
        DetectorClass(
            label=f.label,
            name=_named(f.label, class_names),
            n=f.n,
            contamination=f.contamination,
            flagged=f.flagged,
            suspicious=f.suspicious,
            statistic=f.statistic,
        )
        for f in detector.classes_
    ]
    return DataDetection(
        detector=name,
        layer=detector.layer_,
        n=len(y),
        flagged=int(flagged.sum()),
        suspicious_classes=detector.suspicious_classes_,
        classes=classes,
        auroc=auroc(scores[~truth], scores[truth]) if known else None,
        tpr_at_5_fpr=tpr_at_fpr(scores[~truth], scores[truth]) if known else None,
        histogram=histogram({groups[0]: scores[~truth], groups[1]: scores[truth]}),
        top=[int(i) for i in np.argsort(-scores, kind="stable")[:TOP]],
        seconds=seconds,
    )


def model_detection(
    detector: NeuralCleanse,
    target: TorchTarget,
    x_clean: npt.NDArray[np.float32],
    y_clean: npt.NDArray[np.int64],
) -> ModelDetection:
    """Run Neural Cleanse and keep the reversed triggers of the flagged classes (or of the
    most anomalous class when none is flagged, so the report always shows one)."""
    t0 = time.perf_counter()
    detector.fit(target, x_clean, y_clean)
    seconds = time.perf_counter() - t0
    index = detector.anomaly_index_
    shown = detector.flagged_classes_ or [int(np.argmax(index))]
    triggers = [
        ReversedTrigger(
            label=c,
            mask=detector.masks_[c, 0].round(4).tolist(),
            pattern=detector.patterns_[c].round(4).tolist(),
            mask_l1=float(detector.mask_norms_[c]),
            attack_success=float(detector.attack_success_[c]),
        )
        for c in shown
    ]
    details = {
        "steps": detector.steps,
        "min_spread": detector.min_spread,
        "attack_success": detector.attack_success_.round(4).tolist(),
        "clean_samples": len(y_clean),
    }
    return ModelDetection(
        detector="neural_cleanse",
        anomaly_index=index.round(4).tolist(),
        mask_l1=detector.mask_norms_.round(4).tolist(),
        flagged_classes=list(detector.flagged_classes_),
        threshold=detector.mad_threshold,
        triggers=triggers,
        details=details,
        seconds=seconds,
    )


def strip_summary(
    strip: STRIP,
    target: TorchTarget,
    x_fit: npt.NDArray[np.float32],
    x_holdout: npt.NDArray[np.float32],
    triggered: tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]] | None = None,
) -> StripSummary:
    """Calibrate STRIP on ``x_fit``, measure its false rejections on clean ``x_holdout``
    and, given triggered inputs with the labels the attacker wants, its false acceptances
    and AUROC on those the backdoor actually hijacks (accepting a triggered input the
    model still classifies correctly does no harm; a model without the backdoor has none)."""
    strip.fit(target, x_fit)
    clean = strip.score(x_holdout)
    frr = float(strip.predict(x_holdout).mean())
    x_triggered = None
    if triggered is not None and len(triggered[0]):
        x_trig, wanted = triggered
        with target.session():
            pred = target.predict(torch.as_tensor(x_trig, device=target.device)).cpu().numpy()
        x_triggered = x_trig[pred == wanted]
    if x_triggered is None or not len(x_triggered):
        return StripSummary(
            threshold=strip.threshold_,
            frr=strip.frr,
            n_overlays=strip.n_overlays,
            clean_frr_measured=frr,
            far=None if x_triggered is None else 0.0,
            hijacked=None if x_triggered is None else 0,
            histogram=histogram({"clean": -clean}),  # entropies, as threshold_
        )
    bad = strip.score(x_triggered)
    return StripSummary(
        threshold=strip.threshold_,
        frr=strip.frr,
        n_overlays=strip.n_overlays,
        clean_frr_measured=frr,
        far=float(1.0 - strip.predict(x_triggered).mean()),
        auroc=auroc(clean, bad),
        hijacked=len(x_triggered),
        histogram=histogram({"clean": -clean, "triggered": -bad}),
    )


def repair_summary(result: RepairResult) -> RepairSummary:
    """The before/after evidence of a repair."""
    params = {
        k: v if isinstance(v, bool | int | float | str | list | type(None)) else repr(v)
        for k, v in result.params.items()
    }
    params["evaluated_on"] = result.evaluated_on
    params["pruned"] = result.pruned
    return RepairSummary(
        method=result.method,
        params=params,
        asr_before=result.asr_before,
        asr_after=result.asr_after,
        accuracy_before=float(result.acc_before or 0.0),
        accuracy_after=float(result.acc_after or 0.0),
        der=result.der,
    )
