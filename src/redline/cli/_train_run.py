"""What ``redline train`` does once parsed (imported lazily: heavy). Options, data and the
model's fit to the data are checked before training starts; the weights are written
atomically at the end, so a failure leaves no file."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from redline._atomic import atomic_writer
from redline.cli._options import ModelSpec
from redline.datasets import Dataset, load_data
from redline.errors import InputError
from redline.targets import TorchTarget, in_input_space, predict_labels
from redline.zoo import train_classifier

__all__ = ["TrainOutcome", "TrainRequest", "run_train"]


@dataclass(frozen=True)
class TrainRequest:
    """Every option of ``redline train``."""

    data: str
    model: ModelSpec
    out: Path
    epochs: int
    lr: float
    batch_size: int
    seed: int
    val: str | None
    label_column: str
    progress: bool


@dataclass(frozen=True)
class TrainOutcome:
    """What was trained on and how well it fits (accuracies in [0, 1])."""

    train_accuracy: float
    val_accuracy: float | None
    n_train: int
    n_val: int
    seconds: float


def _val_fraction(text: str | None) -> float | None:
    """``--val`` as a held-out share, or None when it names a data set (or is absent)."""
    if text is None:
        return None
    try:
        share = float(text)
    except ValueError:
        return None
    if not 0.0 < share < 1.0:
        raise InputError(f"--val {text}: a held-out share must be between 0 and 1 (exclusive)")
    return share


def _check_options(req: TrainRequest) -> None:
    """Cheap checks, before anything is loaded: numbers, the input contract, ``--out``."""
    if req.epochs < 1:
        raise InputError(f"--epochs must be >= 1, got {req.epochs}")
    if not (math.isfinite(req.lr) and req.lr > 0):
        raise InputError(f"--lr must be a positive number, got {req.lr}")
    if req.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {req.batch_size}")
    _val_fraction(req.val)
    req.model.check()
    out = req.out
    if out.is_dir():
        raise InputError(f"--out {out}: is a directory, not a weights file")
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK):
        raise InputError(f"--out {out}: folder {out.parent} is not writable")


def _split(data: Dataset, share: float, seed: int) -> tuple[Dataset, Dataset]:
    """A seeded random ``share`` of ``data`` held out for validation."""
    n_val = round(len(data) * share)
    if n_val < 1 or n_val >= len(data):
        raise InputError(
            f"--val {share:g}: holds out {n_val} of {len(data)} samples; both parts need one"
        )
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed)).numpy()
    held, keep = np.sort(order[:n_val]), np.sort(order[n_val:])
    part = Dataset(data.x[keep], data.y[keep], data.source, class_names=data.class_names)
    val = Dataset(data.x[held], data.y[held], f"{data.source} (held out)", None, data.class_names)
    return part, val


def _load_sets(req: TrainRequest, bounds: tuple[float, float]) -> tuple[Dataset, Dataset | None]:
    """The training set and the validation set (held out of it, or loaded), validated."""
    data = load_data(req.data, label_column=req.label_column, bounds=bounds)
    share = _val_fraction(req.val)
    if share is not None:
        return _split(data, share, req.seed)
    if req.val is None:
        return data, None
    val = load_data(req.val, label_column=req.label_column, bounds=bounds)
    if val.x.shape[1:] != data.x.shape[1:]:
        raise InputError(
            f"--val {val.source}: inputs of shape {val.x.shape[1:]}, but the training data's "
            f"are {data.x.shape[1:]}"
        )
    return data, val


def _check_fit(target: TorchTarget, data: Dataset, val: Dataset | None, name: str) -> None:
    """One forward pass on two samples: the inputs fit the model and it scores every class."""
    try:
        with target.session(), torch.no_grad():
            logits = target.logits(torch.as_tensor(data.x[:2]).to(target.device))
    except Exception as exc:
        problem = " ".join(str(exc).split())[:300]
        raise InputError(f"{data.source} does not fit {name}: {problem}") from exc
    if logits.dim() != 2:
        raise InputError(f"{name}: outputs shape {tuple(logits.shape)}, not (batch, classes)")
    classes = max(d.num_classes for d in (data, val) if d is not None)
    if logits.shape[1] < classes:
        raise InputError(
            f"{data.source}: has {classes} classes but {name} outputs "
            f"{logits.shape[1]} scores per sample"
        )


BatchHook = Callable[[float], None]
EpochHook = Callable[[int, float], None]


@contextmanager
def _progress(req: TrainRequest, n: int) -> Iterator[tuple[BatchHook, EpochHook]]:
    """A rich bar on stderr over every batch of every epoch: epoch, loss, ETA."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    per_epoch = math.ceil(n / req.batch_size)
    columns = (
        TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("batches, loss {task.fields[loss]}"),
        TimeRemainingColumn(),
    )
    console = Console(stderr=True)
    with Progress(*columns, console=console, disable=not req.progress, transient=True) as bar:
        task = bar.add_task(
            "train", total=per_epoch * req.epochs, epoch=1, epochs=req.epochs, loss="-"
        )

        def on_batch(loss: float) -> None:
            done = int(bar.tasks[task].completed) + 1
            epoch = min(req.epochs, (done - 1) // per_epoch + 1)
            bar.update(task, advance=1, loss=f"{loss:.3f}", epoch=epoch)

        def on_epoch(epoch: int, loss: float) -> None:
            bar.update(task, loss=f"{loss:.3f} (epoch {epoch + 1} mean)")

        yield on_batch, on_epoch


def _accuracy(target: TorchTarget, data: Dataset) -> float:
    return float((predict_labels(target, data.x) == data.y).mean())


def run_train(req: TrainRequest) -> TrainOutcome:
    """Check, load, train (seeded), measure, and write the state_dict atomically."""
    _check_options(req)
    name = str(req.model.model)
    torch.manual_seed(req.seed)  # the initial weights
    target, _ = req.model.load()
    data, val = _load_sets(req, target.bounds)
    _check_fit(target, data, val, name)
    start = time.perf_counter()
    with _progress(req, len(data)) as (on_batch, on_epoch):
        train_classifier(
            in_input_space(target),
            data.x,
            data.y,
            epochs=req.epochs,
            lr=req.lr,
            batch_size=req.batch_size,
            seed=req.seed,
            on_batch=on_batch,
            on_epoch=on_epoch,
        )
    outcome = TrainOutcome(
        train_accuracy=_accuracy(target, data),
        val_accuracy=None if val is None else _accuracy(target, val),
        n_train=len(data),
        n_val=0 if val is None else len(val),
        seconds=time.perf_counter() - start,
    )
    with atomic_writer(req.out) as handle:
        torch.save(target.module.state_dict(), handle)
    return outcome
