"""Adversarial-training checkpoints: weights, optimizer state and the run's history in
one file, written atomically each epoch and read back without unpickling code
(``torch.load(weights_only=True)``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from redline._atomic import atomic_writer
from redline.errors import InputError

__all__ = ["CHECKPOINT_KIND", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_KIND = "redline.adversarial_train/1"


def save_checkpoint(
    path: Path, module: nn.Module, optimizer: torch.optim.Optimizer, meta: dict[str, Any]
) -> None:
    """Replace ``path`` with the current state; a crash mid-write leaves the old file."""
    body = {
        "kind": CHECKPOINT_KIND,
        "model": module.state_dict(),
        "optimizer": optimizer.state_dict(),
        "meta": meta,
    }
    with atomic_writer(path) as handle:
        torch.save(body, handle)


def load_checkpoint(
    path: Path, module: nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Load weights and optimizer state into ``module``/``optimizer``; returns the run's
    metadata. A corrupt file or another architecture is a one-line input error."""
    try:
        body = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged archive
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{path}: not a readable checkpoint ({first[:200]})") from None
    if not isinstance(body, dict) or body.get("kind") != CHECKPOINT_KIND:
        raise InputError(f"{path}: not a redline adversarial-training checkpoint")
    try:
        module.load_state_dict(body["model"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"{path}: a checkpoint of another architecture ({first[:200]})") from None
    optimizer.load_state_dict(body["optimizer"])
    meta = body["meta"]
    if not isinstance(meta, dict) or "config" not in meta or "history" not in meta:
        raise InputError(f"{path}: the checkpoint has no run metadata")
    return meta
