"""What ``redline backdoor scan-data|scan-model`` and ``redline scan --backdoor`` do once
their options are parsed (imported lazily: heavy)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from redline.cli._options import ModelSpec
from redline.datasets import Dataset, load_data, validate_arrays
from redline.errors import InputError
from redline.evaluation._backdoor import (
    BackdoorOptions,
    BackdoorRun,
    backdoor_result,
    run_backdoor,
)
from redline.poisoning import PoisonedData, layer_names, load_mask, load_poisoned
from redline.policy import load_policy
from redline.reports._bundle import check_output_dir
from redline.results import ScanResult
from redline.targets import TorchTarget

__all__ = [
    "BackdoorRequest",
    "check_layer",
    "load_training",
    "run_backdoor_scan",
    "scores_csv",
]


@dataclass(frozen=True)
class BackdoorRequest:
    """Every option of ``redline backdoor scan-data`` / ``scan-model``."""

    model: ModelSpec
    data: str | None
    clean: str | None
    mask: Path | None
    poisoned: Path | None
    options: BackdoorOptions
    out: Path
    policy: Path | None
    label_column: str


def is_poisoned_file(spec: str) -> bool:
    """True for an ``.npz`` written by ``redline poison`` (it carries its ground truth)."""
    path = Path(spec)
    if path.suffix != ".npz" or not path.is_file() or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    return {"meta.npy", "mask.npy", "original_labels.npy"} <= names


def load_training(
    spec: str, bounds: tuple[float, float], label_column: str
) -> tuple[Dataset, PoisonedData | None]:
    """The training set, with its ground truth when it is a ``redline poison`` file."""
    if is_poisoned_file(spec):
        poisoned = load_poisoned(spec)
        data = poisoned.data  # validated as any data set is, without reading the file again
        validate_arrays(data.x, data.y, source=spec, bounds=bounds, groups=data.groups)
        return data, poisoned
    return load_data(spec, label_column=label_column, bounds=bounds), None


def check_layer(target: TorchTarget, layer: str) -> None:
    """A layer name the model does not have is an input error listing a few it has."""
    if layer == "auto":
        return
    names = layer_names(target.module)
    if layer not in names:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise InputError(f"--layer {layer!r}: the model has no such layer (layers: {shown})")


def _mask(req: BackdoorRequest, train: Dataset | None) -> npt.NDArray[np.bool_] | None:
    if req.mask is None:
        return None
    if train is None:
        raise InputError("--mask needs --data (the mask marks training samples)")
    return load_mask(req.mask, len(train.y))


def _ground_truth(req: BackdoorRequest, found: PoisonedData | None) -> PoisonedData | None:
    if req.poisoned is None:
        return found
    return load_poisoned(req.poisoned)


def run_backdoor_scan(req: BackdoorRequest) -> tuple[ScanResult, bytes | None]:
    """Validate, load, run the backdoor checks; returns the result and, when training
    data was inspected, scores.csv. The caller judges and writes."""
    req.options.check()
    req.model.check()
    if req.policy is not None:
        load_policy(req.policy)
    check_output_dir(req.out)
    if req.data is None and req.clean is None:
        raise InputError("give --data (training set), --clean (clean held-out set), or both")
    bounds = req.model.parsed_bounds()
    train, found = (None, None)
    if req.data is not None:
        train, found = load_training(req.data, bounds, req.label_column)
    clean = load_data(req.clean, bounds=bounds) if req.clean is not None else None
    mask = _mask(req, train)
    poisoned = _ground_truth(req, found)
    if poisoned is not None and train is not None and len(poisoned.mask) != len(train.y):
        raise InputError(
            f"{req.poisoned}: the poisoned file has {len(poisoned.mask)} samples but the "
            f"training data has {len(train.y)}"
        )
    target, info = req.model.load()
    check_layer(target, req.options.layer)
    shown = clean if clean is not None else train
    assert shown is not None  # run_backdoor refuses neither, but only after loading
    run = run_backdoor(
        target,
        train=None if train is None else (train.x, train.y),
        clean=None if clean is None else (clean.x, clean.y),
        options=req.options,
        poisoned=poisoned,
        mask=mask,
        class_names=shown.class_names,
    )
    result = backdoor_result(
        target,
        shown.x,
        shown.y,
        run.section,
        data_source=shown.source,
        model=info,
        class_names=shown.class_names,
        seed=req.options.seed,
    )
    if train is None or not run.detectors:
        return result, None
    truth = poisoned.mask if poisoned is not None else mask
    return result, scores_csv(run, train.y, truth)


def scores_csv(
    run: BackdoorRun, y: npt.NDArray[np.int64], truth: npt.NDArray[np.bool_] | None
) -> bytes:
    """Per training sample: label, each detector's score and flag, and the ground truth."""
    names = list(run.detectors)
    header = ["index", "label"] + [f"{n}_{k}" for n in names for k in ("score", "flagged")]
    header += [] if truth is None else ["poisoned"]
    out = io.StringIO()
    out.write(",".join(header) + "\n")
    for i in range(len(y)):
        row = [str(i), str(int(y[i]))]
        for n in names:
            det = run.detectors[n]
            row += [f"{det.scores_[i]:.6g}", str(int(det.flagged_[i]))]
        if truth is not None:
            row.append(str(int(truth[i])))
        out.write(",".join(row) + "\n")
    return out.getvalue().encode()
