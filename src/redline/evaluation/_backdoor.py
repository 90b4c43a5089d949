"""The backdoor checks of a model: training-data detectors, Neural Cleanse and STRIP, run
together into the ``backdoor`` section of a scan result (``redline backdoor ...``,
``redline scan --backdoor``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch

from redline.datasets import validate_arrays
from redline.errors import InputError
from redline.evaluation._api import _data_info, _environment, _target_info
from redline.evaluation._backdoor_parts import (
    data_detection,
    model_detection,
    strip_summary,
)
from redline.evaluation._collect import softmax_stats
from redline.evaluation._scan import ModelInfo
from redline.poisoning import PoisonedData, attack_success_rate, triggered_test_set
from redline.poisoning.detection import (
    DATA_DETECTORS,
    STRIP,
    CombinedDetector,
    NeuralCleanse,
    TrainingDataDetector,
    known_blind_spots,
)
from redline.poisoning.detection.cleanse import MIN_SAMPLES
from redline.poisoning.detection.strip import MIN_CALIBRATION
from redline.results import (
    BackdoorSection,
    BlindSpot,
    CleanResult,
    Cost,
    DataDetection,
    ModelDetection,
    PoisonInfo,
    Samples,
    ScanConfig,
    ScanResult,
    StripSummary,
)
from redline.results.metrics import accuracy, ece, group_accuracies, reliability
from redline.targets import TorchTarget

__all__ = [
    "BackdoorOptions",
    "BackdoorRun",
    "backdoor_result",
    "check_clean",
    "run_backdoor",
    "scan_backdoor",
]

Array = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]
Verdict = Literal["clean", "suspicious", "trojaned"]
DEFAULT_DETECTORS = ("spectral", "clustering", "robust", "isolation", "combined")
COMBINED = "combined"
"""The per-class combination of the other detectors run (:class:`CombinedDetector`)."""
STRIP_HOLDOUT = 0.3
"""Share of the clean data kept out of STRIP's calibration to measure its false rejections."""


@dataclass(frozen=True)
class BackdoorOptions:
    """What :func:`scan_backdoor` runs and how hard it tries."""

    detectors: Sequence[str] = DEFAULT_DETECTORS
    layer: str = "auto"
    model_check: bool = True
    strip: bool = True
    nc_steps: int = 200
    strip_overlays: int = 32
    strip_frr: float = 0.01
    seed: int = 0

    def check(self) -> None:
        """Unknown detector names or settings are input errors, found before any work."""
        known = [*DATA_DETECTORS, COMBINED]
        unknown = sorted(set(self.detectors) - set(known))
        if unknown:
            raise InputError(
                f"unknown detector(s) {', '.join(unknown)}; choose from {', '.join(known)}"
            )
        if self.nc_steps < 1 or self.strip_overlays < 1:
            raise InputError("nc_steps and strip_overlays must be >= 1")
        if not 0 < self.strip_frr < 1:
            raise InputError(f"strip_frr must be in (0, 1), got {self.strip_frr}")


def _clean_needed(options: BackdoorOptions) -> int:
    need = MIN_SAMPLES if options.model_check else 0
    if options.strip:
        calibrate = options.strip_overlays + MIN_CALIBRATION
        need = max(need, int(np.ceil(calibrate / (1 - STRIP_HOLDOUT))) + 1)
    return need


def check_clean(clean: tuple[Array, Labels] | None, options: BackdoorOptions) -> None:
    """Too little clean data for the model checks is an input error naming the need."""
    need = _clean_needed(options)
    if need and clean is None:
        raise InputError("the model checks (Neural Cleanse, STRIP) need clean data")
    if clean is not None and len(clean[1]) < need:
        raise InputError(
            f"too little clean data: {len(clean[1])} samples, the model checks need at "
            f"least {need} (Neural Cleanse {MIN_SAMPLES}, STRIP "
            f"{options.strip_overlays} overlays + {MIN_CALIBRATION} to calibrate + holdout)"
        )


@dataclass(frozen=True)
class BackdoorRun:
    """The backdoor section plus the fitted training-data detectors (per-sample scores)."""

    section: BackdoorSection
    detectors: dict[str, TrainingDataDetector | CombinedDetector]


def scan_backdoor(
    target: TorchTarget,
    *,
    train: tuple[Array, Labels] | None = None,
    clean: tuple[Array, Labels] | None = None,
    options: BackdoorOptions | None = None,
    poisoned: PoisonedData | None = None,
    mask: npt.NDArray[np.bool_] | None = None,
    class_names: Sequence[str] | None = None,
) -> BackdoorSection:
    """Run the backdoor checks that the given data allows.

    ``train`` (the training set) feeds the training-data detectors; ``clean`` (held-out
    clean data) feeds Neural Cleanse and STRIP. ``poisoned`` (a simulated poisoning of
    ``train``) or ``mask`` is ground truth: it adds AUROC to the detectors and, with a
    trigger, attack success and STRIP's false acceptances.
    """
    return run_backdoor(
        target,
        train=train,
        clean=clean,
        options=options,
        poisoned=poisoned,
        mask=mask,
        class_names=class_names,
    ).section


def run_backdoor(
    target: TorchTarget,
    *,
    train: tuple[Array, Labels] | None = None,
    clean: tuple[Array, Labels] | None = None,
    options: BackdoorOptions | None = None,
    poisoned: PoisonedData | None = None,
    mask: npt.NDArray[np.bool_] | None = None,
    class_names: Sequence[str] | None = None,
) -> BackdoorRun:
    """:func:`scan_backdoor`, keeping the fitted training-data detectors."""
    opts = options or BackdoorOptions()
    opts.check()
    if train is None and clean is None:
        raise InputError("give training data, clean data, or both")
    if clean is not None:
        check_clean(clean, opts)
    truth = poisoned.mask if poisoned is not None else mask
    if train is not None and truth is not None and len(truth) != len(train[1]):
        raise InputError(
            f"the poison mask has {len(truth)} entries but the training data has "
            f"{len(train[1])} samples"
        )
    fitted: dict[str, TrainingDataDetector | CombinedDetector] = {
        n: DATA_DETECTORS[n](layer=opts.layer, random_state=opts.seed)
        for n in opts.detectors
        if n != COMBINED
    }
    data = []
    if train is not None:
        data = [
            data_detection(n, d, target, *train, class_names=class_names, mask=truth)
            for n, d in fitted.items()
        ]
        if COMBINED in opts.detectors:
            members = {n: d for n, d in fitted.items() if isinstance(d, TrainingDataDetector)}
            combined = CombinedDetector(
                members=tuple(members) or DEFAULT_DETECTORS[:-1], reuse=members,
                layer=opts.layer, random_state=opts.seed,
            )  # fmt: skip
            data.append(data_detection(COMBINED, combined, target, *train,
                                       class_names=class_names, mask=truth))  # fmt: skip
            fitted[COMBINED] = combined
    model = strip = None
    if clean is not None and opts.model_check:
        nc = NeuralCleanse(steps=opts.nc_steps, seed=opts.seed)
        model = model_detection(nc, target, *clean)
    if clean is not None and opts.strip:
        strip = _run_strip(target, clean[0], opts, _triggered(poisoned, clean))
    verdict, summary = _verdict(data, model, class_names)
    section = BackdoorSection(
        verdict=verdict,
        summary=summary,
        data=data,
        model=model,
        strip=strip,
        poison=_poison_info(target, poisoned, clean),
        blind_spots=_blind_spots(data, model, strip),
    )
    return BackdoorRun(section, fitted if train is not None else {})


def _blind_spots(
    data: list[DataDetection], model: ModelDetection | None, strip: StripSummary | None
) -> list[BlindSpot]:
    """What each check that ran is known to miss (redline's family benchmark)."""
    ran = [d.detector for d in data]
    ran += ["neural-cleanse"] if model is not None else []
    ran += ["strip"] if strip is not None else []
    return [BlindSpot(check=c, misses=text) for c, text in known_blind_spots(ran)]


def _run_strip(
    target: TorchTarget,
    x: Array,
    opts: BackdoorOptions,
    triggered: tuple[Array, Labels] | None,
) -> StripSummary:
    order = np.random.default_rng(opts.seed).permutation(len(x))
    cut = round(len(x) * (1 - STRIP_HOLDOUT))
    strip = STRIP(n_overlays=opts.strip_overlays, frr=opts.strip_frr, seed=opts.seed)
    return strip_summary(strip, target, x[order[:cut]], x[order[cut:]], triggered)


def _triggered(
    poisoned: PoisonedData | None, clean: tuple[Array, Labels] | None
) -> tuple[Array, Labels] | None:
    if poisoned is None or poisoned.trigger is None or clean is None:
        return None
    if poisoned.params.get("mode") in ("random", "targeted"):
        return None
    return triggered_test_set(poisoned, *clean)


def _poison_info(
    target: TorchTarget, poisoned: PoisonedData | None, clean: tuple[Array, Labels] | None
) -> PoisonInfo | None:
    if poisoned is None:
        return None
    asr = None
    if clean is not None and poisoned.params.get("mode") != "random":
        asr = attack_success_rate(target, *clean, poisoned)
    return PoisonInfo(
        attack=poisoned.attack,
        rate=poisoned.rate,
        target_class=poisoned.target_class,
        n_poisoned=poisoned.n_poisoned,
        target_share=poisoned.target_share(),
        asr=asr,
    )


def _name(label: int, class_names: Sequence[str] | None) -> str:
    named = class_names[label] if class_names and label < len(class_names) else str(label)
    return f"class {label}" + ("" if named == str(label) else f" ({named})")


def _verdict(
    data: list[DataDetection], model: ModelDetection | None, class_names: Sequence[str] | None
) -> tuple[Verdict, str]:
    """trojaned: Neural Cleanse flags a class; suspicious: a data detector flags one;
    clean: nothing is flagged by the checks that ran."""
    parts = []
    if model is not None:
        flagged = model.flagged_classes
        if flagged:
            worst = max(flagged, key=lambda c: model.anomaly_index[c])
            parts.append(
                f"Neural Cleanse flags {', '.join(_name(c, class_names) for c in flagged)} "
                f"(anomaly index {model.anomaly_index[worst]:.1f} > {model.threshold:g})"
            )
        else:
            parts.append(
                f"Neural Cleanse flags no class (max anomaly index "
                f"{max(model.anomaly_index):.1f} <= {model.threshold:g})"
            )
    suspicious = sorted({c for d in data for c in d.suspicious_classes})
    for d in data:
        if d.suspicious_classes:
            names = ", ".join(_name(c, class_names) for c in d.suspicious_classes)
            parts.append(f"{d.detector} flags {d.flagged} training samples in {names}")
    if data and not suspicious:
        parts.append(f"no training-data detector ({len(data)} run) flags a class")
    if model is not None and model.flagged_classes:
        return "trojaned", "; ".join(parts)
    return ("suspicious" if suspicious else "clean"), "; ".join(parts)


def backdoor_result(
    target: TorchTarget,
    x: Array,
    y: Labels,
    section: BackdoorSection,
    *,
    data_source: str,
    model: ModelInfo | None = None,
    class_names: Sequence[str] | None = None,
    seed: int = 0,
    seconds: float = 0.0,
) -> ScanResult:
    """A scan result with no evasion part: clean accuracy on ``(x, y)`` and the section."""
    xs, ys = validate_arrays(x, y, source=data_source, bounds=target.bounds)
    with target.session():
        logits = torch.cat(
            [
                target.logits(torch.as_tensor(xs[i : i + 512], device=target.device)).cpu()
                for i in range(0, len(xs), 512)
            ]
        )
    pred, conf32 = softmax_stats(logits)
    conf = conf32.astype(np.float64)  # as the scan's clean result computes it
    num_classes = int(logits.shape[1])
    correct = pred == ys
    names = {str(i): n for i, n in enumerate(class_names)} if class_names else {}
    clean = CleanResult(
        accuracy=accuracy(correct),
        ece=ece(conf, correct),
        reliability=reliability(conf, correct),
        per_class=group_accuracies(correct, ys, names),
        per_slice=[],
    )
    config = ScanConfig(
        norm=None,
        eps=[],
        suite="backdoor",
        attacks=[],
        minimal=None,
        seed=seed,
        batch_size=512,
        checks=False,
        check_samples=0,
    )
    return ScanResult(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        environment=_environment(target),
        target=_target_info(target, model, num_classes),
        data=_data_info(xs, ys, None, data_source, num_classes, class_names),
        config=config,
        clean=clean,
        eps=[],
        checks=[],
        examples=[],
        samples=Samples(
            label=ys.tolist(),
            clean_pred=pred.tolist(),
            min_distance=[None] * len(ys),
            broken_by=[],
        ),
        cost=Cost(forward=len(ys), backward=0, queries=0, seconds=seconds, stages={}),
        backdoor=section,
    )
