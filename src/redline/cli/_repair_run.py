"""What ``redline backdoor repair`` does once its options are parsed (imported lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from redline._atomic import atomic_writer
from redline.cli._backdoor_run import check_layer, load_training
from redline.cli._options import ModelSpec
from redline.datasets import Dataset, load_data
from redline.defenses import RepairResult, evaluate_repair, fine_prune, retrain_without
from redline.errors import InputError
from redline.evaluation._backdoor import (
    BackdoorOptions,
    backdoor_result,
    check_clean,
    scan_backdoor,
)
from redline.evaluation._backdoor_parts import repair_summary
from redline.poisoning import PoisonedData, load_mask, load_poisoned, triggered_test_set
from redline.poisoning.detection import DATA_DETECTORS, CombinedDetector
from redline.reports._bundle import check_output_dir
from redline.results import ScanResult
from redline.targets import InputSpace, TorchTarget, in_input_space

__all__ = ["METHODS", "RepairRequest", "run_repair"]

METHODS = ("fine-prune", "retrain")
Array = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]


@dataclass(frozen=True)
class RepairRequest:
    """Every option of ``redline backdoor repair``."""

    model: ModelSpec
    clean: str
    method: str
    out: Path
    data: str | None
    exclude: Path | None
    flagged_by: str
    poisoned: Path | None
    test: str | None
    layer: str
    epochs: int | None
    report: Path | None
    seed: int


def _unwrapped(module: nn.Module) -> nn.Module:
    return module.inner if isinstance(module, InputSpace) else module


def _check(req: RepairRequest) -> None:
    if req.method not in METHODS:
        raise InputError(f"--method {req.method!r}: choose from {', '.join(METHODS)}")
    if req.method == "retrain" and req.data is None:
        raise InputError("--method retrain needs --data (the training set to clean)")
    if req.exclude is None and req.flagged_by not in (*DATA_DETECTORS, "combined"):
        raise InputError(
            f"--flagged-by {req.flagged_by!r}: choose from {', '.join(DATA_DETECTORS)}, combined"
        )
    if req.out.suffix not in (".pt", ".pth"):
        raise InputError(f"--out {req.out}: repaired weights are written as .pt or .pth")
    if not req.out.parent.is_dir() or req.out.is_dir():
        raise InputError(f"--out {req.out}: not a file path in an existing folder")
    if req.epochs is not None and req.epochs < 1:
        raise InputError(f"--epochs must be >= 1, got {req.epochs}")
    if req.report is not None:
        check_output_dir(req.report)
    req.model.check()


def _split_clean(clean: Dataset, test: Dataset | None, seed: int) -> tuple[Dataset, Dataset]:
    """Clean data for the repair and for its evaluation: ``--test`` when given, else a
    seeded half of ``--clean`` each."""
    if test is not None:
        return clean, test
    order = np.random.default_rng(seed).permutation(len(clean.y))
    parts = np.sort(order[: len(order) // 2]), np.sort(order[len(order) // 2 :])
    return _rows(clean, parts[0], "repair"), _rows(clean, parts[1], "evaluation")


def _rows(data: Dataset, idx: npt.NDArray[np.intp], role: str) -> Dataset:
    groups = None if data.groups is None else data.groups[idx]
    return Dataset(
        data.x[idx], data.y[idx], f"{data.source} ({role} half)", groups, data.class_names
    )


def _flags(req: RepairRequest, target: TorchTarget, train: Dataset) -> npt.NDArray[np.bool_]:
    if req.exclude is not None:
        return load_mask(req.exclude, len(train.y))
    if req.flagged_by == "combined":
        combined = CombinedDetector(layer=req.layer, random_state=req.seed)
        return combined.fit(target, train.x, train.y).flagged_.copy()
    detector = DATA_DETECTORS[req.flagged_by](layer=req.layer, random_state=req.seed)
    return detector.fit(target, train.x, train.y).flagged_.copy()


def _repair(req: RepairRequest, target: TorchTarget, repair_set: Dataset) -> RepairResult:
    module = in_input_space(target)
    if req.method == "fine-prune":
        _check_prunable(target.module, req.layer)
        extra = {} if req.epochs is None else {"finetune_epochs": req.epochs}
        wrapped = module is not target.module
        layer = f"inner.{req.layer}" if wrapped and req.layer != "auto" else req.layer
        return fine_prune(module, repair_set.x, repair_set.y, layer=layer, seed=req.seed, **extra)
    assert req.data is not None
    train, _ = load_training(req.data, target.bounds, "label")
    flagged = _flags(req, target, train)
    extra = {} if req.epochs is None else {"epochs": req.epochs}
    return retrain_without(module, train.x, train.y, flagged, seed=req.seed, **extra)


def _check_prunable(module: nn.Module, layer: str) -> None:
    """A named layer must be conv or linear (said with the user's name, not the wrapper's)."""
    found = dict(module.named_modules()).get(layer) if layer != "auto" else None
    if found is not None and not isinstance(found, nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.Linear):
        raise InputError(
            f"--layer {layer!r} is a {type(found).__name__}; fine-pruning needs a conv or "
            "linear layer"
        )


def _triggered(
    poisoned: PoisonedData | None, evaluation: Dataset
) -> tuple[Array | None, Labels | None]:
    if poisoned is None or poisoned.trigger is None or poisoned.params.get("mode") == "random":
        return None, None
    x, wanted = triggered_test_set(poisoned, evaluation.x, evaluation.y)
    return x, wanted


def _save(module: nn.Module, out: Path) -> None:
    with atomic_writer(out) as handle:
        torch.save(_unwrapped(module).state_dict(), handle)


def run_repair(req: RepairRequest) -> tuple[RepairResult, ScanResult | None]:
    """Repair, evaluate on clean (and triggered) data, write the weights and the report."""
    _check(req)
    bounds = req.model.parsed_bounds()
    clean = load_data(req.clean, bounds=bounds)
    test = load_data(req.test, bounds=bounds) if req.test is not None else None
    poisoned = load_poisoned(req.poisoned) if req.poisoned is not None else None
    target, info = req.model.load()
    check_layer(target, req.layer)
    repair_set, evaluation = _split_clean(clean, test, req.seed)
    if req.report is not None:
        check_clean((evaluation.x, evaluation.y), BackdoorOptions(seed=req.seed))
    before = in_input_space(target)
    result = _repair(req, target, repair_set)
    x_trig, wanted = _triggered(poisoned, evaluation)
    result = evaluate_repair(
        before, result, evaluation.x, evaluation.y, x_triggered=x_trig, y_target=wanted
    )
    report = None
    if req.report is not None:
        repaired = TorchTarget(
            _unwrapped(result.module), bounds=bounds, mean=target.mean, std=target.std
        )
        section = scan_backdoor(
            repaired, clean=(evaluation.x, evaluation.y), options=BackdoorOptions(seed=req.seed)
        )
        section = section.model_copy(update={"repair": repair_summary(result)})
        report = backdoor_result(
            repaired,
            evaluation.x,
            evaluation.y,
            section,
            data_source=evaluation.source,
            model=info,
            class_names=evaluation.class_names,
            seed=req.seed,
        )
    _save(result.module, req.out)
    return result, report
