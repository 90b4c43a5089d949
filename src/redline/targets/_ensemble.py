"""Ensembles as one model: the members' logits (or probabilities) averaged inside a
single ``nn.Module``, so every attack and every sanity check sees the ensemble as a
whole. Attacking one member and calling the result the ensemble's robustness would
overstate it: transferred examples are weaker than ones crafted on the ensemble."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from redline.errors import InputError
from redline.targets._loading import LoadedModel, load_model
from redline.targets._torch import TorchTarget

__all__ = ["Combine", "Ensemble", "ensemble_target", "load_ensemble"]

Combine = Literal["logits", "probs"]


class Ensemble(nn.Module):
    """Mean of the members' logits (``"logits"``), or the log of the mean of their
    softmax probabilities (``"probs"``: still logits, so cross-entropy and DLR apply)."""

    def __init__(self, members: Sequence[nn.Module], combine: Combine = "logits") -> None:
        super().__init__()
        if len(members) < 2:
            raise InputError(f"an ensemble needs at least 2 members, got {len(members)}")
        if combine not in ("logits", "probs"):
            raise InputError(f"combine {combine!r}: use 'logits' or 'probs'")
        self.members = nn.ModuleList(members)
        self.combine = combine

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The combined logits of one batch (every member sees the same input)."""
        outs = [m(x) for m in self.members]
        shapes = {tuple(o.shape) for o in outs}
        if len(shapes) != 1:
            raise InputError(f"ensemble members disagree on the output shape: {sorted(shapes)}")
        stacked = torch.stack(outs)
        if self.combine == "logits":
            return stacked.mean(dim=0)
        log_probs = F.log_softmax(stacked, dim=-1)
        return torch.logsumexp(log_probs, dim=0) - torch.log(torch.tensor(float(len(outs))))


def ensemble_target(
    members: Sequence[nn.Module],
    *,
    combine: Combine = "logits",
    bounds: tuple[float, float] = (0.0, 1.0),
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    eot: int = 1,
) -> TorchTarget:
    """A white-box target for the whole ensemble (members sharing one input contract)."""
    return TorchTarget(Ensemble(members, combine), bounds=bounds, mean=mean, std=std, eot=eot)


def load_ensemble(
    members: Sequence[tuple[str | None, str | Path]],
    *,
    combine: Combine = "logits",
    allow_pickle: bool = False,
    device: str = "cpu",
) -> LoadedModel:
    """Load each member (entry point or None, weights) as :func:`load_model` does and
    combine them into one :class:`Ensemble`. Its sha256 fingerprints the combine rule
    and every member's weights in order, so a scan names exactly what it measured."""
    if len(members) < 2:
        raise InputError(f"an ensemble needs at least 2 members, got {len(members)}")
    loaded = [load_model(m, w, allow_pickle=allow_pickle, device=device) for m, w in members]
    module = Ensemble([one.module for one in loaded], combine)
    digest = hashlib.sha256(f"redline-ensemble/{combine}".encode())
    for one in loaded:
        digest.update(f"\n{one.sha256 or one.source}".encode())
    source = f"ensemble of {len(loaded)} ({combine}): " + ", ".join(o.source for o in loaded)
    return LoadedModel(module, source, "ensemble", digest.hexdigest())
