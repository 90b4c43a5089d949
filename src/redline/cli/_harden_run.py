"""What ``redline harden`` does once parsed (imported lazily: heavy). Everything that can
be checked is checked before training starts; nothing is registered on failure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
import typer

from redline._atomic import atomic_writer
from redline.cli._harden_registry import register_and_scan, resolve_parent
from redline.cli._options import ModelSpec
from redline.cli._store_opts import out_file
from redline.datasets import Dataset, load_data
from redline.defenses import EpochLog, TrainConfig, TrainResult, adversarial_train, epoch_batches
from redline.errors import InputError
from redline.evaluation import parse_threat
from redline.registry import load_artifact

__all__ = ["HardenRequest", "run_harden"]


@dataclass(frozen=True)
class HardenRequest:
    """Every option of ``redline harden``."""

    data: str
    threat: str
    out: Path
    model: ModelSpec
    config: TrainConfig
    batch_size: int
    label_column: str
    checkpoint: Path | None
    resume: bool
    registry: str | None
    scan_data: str | None
    suite: str | None
    policy: Path | None
    report: Path
    store: str | None
    actor: str | None


def _config(req: HardenRequest) -> TrainConfig:
    threat = parse_threat(req.threat)
    if len(threat.eps) != 1:
        raise InputError(f"--threat {req.threat!r}: training takes one eps")
    config = replace(req.config, norm=threat.norm, eps=float(threat.eps[0]))
    config.check()
    if req.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {req.batch_size}")
    if req.resume and req.checkpoint is None:
        raise InputError("--resume needs --checkpoint")
    return config


def _split(data: Dataset, seed: int) -> tuple[Dataset, tuple[torch.Tensor, torch.Tensor]]:
    """Hold out a guard batch (10%, at most 256) for the per-epoch PGD check."""
    n_guard = min(256, max(1, len(data.y) // 10))
    if len(data.y) - n_guard < 1:
        raise InputError(f"{data.source}: too few samples to train on ({len(data.y)})")
    order = torch.randperm(len(data.y), generator=torch.Generator().manual_seed(seed))
    keep, held = order[n_guard:].numpy(), order[:n_guard].numpy()
    guard = (torch.as_tensor(data.x[held]), torch.as_tensor(data.y[held]).long())
    return Dataset(data.x[keep], data.y[keep], data.source), guard


def _show(log: EpochLog) -> None:
    guard = "" if log.guard_pgd_accuracy is None else f", guard PGD {log.guard_pgd_accuracy:.1%}"
    typer.echo(
        f"epoch {log.epoch + 1} [{log.method}]: loss {log.loss:.3f}, clean {log.clean_accuracy:.1%}"
        f", adversarial {log.adversarial_accuracy:.1%}{guard} ({log.seconds:.1f} s)",
        err=True,
    )


def _train(req: HardenRequest, spec: ModelSpec, config: TrainConfig) -> tuple[TrainResult, Dataset]:
    spec.check()
    target, _ = spec.load()
    data = load_data(req.data, label_column=req.label_column, bounds=target.bounds)
    train, guard = _split(data, config.seed)
    with target.session():
        target.logits(torch.as_tensor(train.x[:2]))  # a shape mismatch fails here, not later
    result = adversarial_train(
        target.module,
        epoch_batches(train.x, train.y, req.batch_size, config.seed),
        config=config,
        bounds=target.bounds,
        mean=target.mean,
        std=target.std,
        guard=guard,
        checkpoint=req.checkpoint,
        resume=req.resume,
        callback=_show,
    )
    with atomic_writer(req.out) as handle:
        torch.save(target.module.state_dict(), handle)
    return result, data


def run_harden(req: HardenRequest) -> int:
    """Validate, train, write the weights; with ``--registry`` register and scan them."""
    config = _config(req)
    out_file(req.out)
    parent = resolve_parent(req, config)
    spec = req.model
    if parent is not None:
        spec = spec.with_version(parent.version, load_artifact(parent.store, parent.version.ref)[1])
    result, data = _train(req, spec, config)
    stop = f" (stopped: {result.stopped})" if result.stopped else ""
    typer.echo(
        f"{len(result.history)} epoch(s) in {result.seconds:.1f} s{stop}; wrote {req.out}", err=True
    )
    if parent is None:
        return 0
    return register_and_scan(req, parent, spec, result, data)
