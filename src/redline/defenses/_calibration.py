"""Temperature scaling (Guo et al. 2017): one scalar T fitted on validation logits by
minimising the negative log-likelihood; the calibrated model returns ``logits / T``.
Accuracy is unchanged (argmax is invariant); only the confidences move."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from redline.errors import InputError
from redline.targets import TorchTarget

if TYPE_CHECKING:  # redline.evaluation imports redline.defenses: import it lazily
    from redline.results import Reliability

__all__ = [
    "CalibrationMetrics",
    "CalibrationResult",
    "TemperatureScaled",
    "calibrate",
    "calibration_metrics",
    "fit_temperature",
]


class TemperatureScaled(nn.Module):
    """``module``'s logits divided by a fixed temperature (a buffer, saved with it)."""

    def __init__(self, module: nn.Module, temperature: float) -> None:
        super().__init__()
        self.module = module
        self.register_buffer("temperature", torch.tensor(float(temperature)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled logits."""
        out: torch.Tensor = self.module(x) / self.temperature
        return out


@dataclass(frozen=True)
class CalibrationMetrics:
    """How calibrated a set of logits is: ECE (15 bins), NLL, accuracy, and the
    reliability diagram's bins (10)."""

    ece: float
    nll: float
    accuracy: float
    reliability: Reliability


@dataclass(frozen=True)
class CalibrationResult:
    """The fitted temperature and the metrics before and after, on the data given."""

    temperature: float
    n: int
    before: CalibrationMetrics
    after: CalibrationMetrics


def calibration_metrics(logits: torch.Tensor, y: torch.Tensor) -> CalibrationMetrics:
    """ECE, NLL, accuracy and reliability bins of ``logits`` against labels ``y``."""
    from redline.results.metrics import ece, reliability

    probs = F.softmax(logits.double(), dim=1)
    conf, pred = probs.max(dim=1)
    correct = (pred == y).numpy()
    confidence = conf.numpy().astype(np.float64)
    nll = float(F.cross_entropy(logits.double(), y))
    return CalibrationMetrics(
        ece=ece(confidence, correct),
        nll=nll,
        accuracy=float(correct.mean()),
        reliability=reliability(confidence, correct),
    )


def fit_temperature(logits: torch.Tensor, y: torch.Tensor, *, max_iter: int = 200) -> float:
    """The T > 0 minimising NLL(logits / T, y), by L-BFGS on log T (deterministic)."""
    if len(y) < 2:
        raise InputError("temperature scaling needs at least 2 validation samples")
    z, labels = logits.detach().double(), y.long()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), labels)
        torch.autograd.backward(loss)
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    temperature = float(log_t.detach().exp())
    if not np.isfinite(temperature) or temperature <= 0:
        raise InputError("temperature scaling diverged (are the logits constant?)")
    return temperature


def _logits(target: TorchTarget, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    with target.session(), torch.no_grad():
        parts = [target.logits(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return torch.cat(parts).cpu()


def calibrate(
    target: TorchTarget, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 256
) -> tuple[TemperatureScaled, CalibrationResult]:
    """Fit T on ``(x, y)`` and return the scaled module (wrapping ``target.module``:
    normalisation stays outside, as for the original) with before/after metrics."""
    logits, labels = _logits(target, x, batch_size), y.long().cpu()
    temperature = fit_temperature(logits, labels)
    result = CalibrationResult(
        temperature=temperature,
        n=len(labels),
        before=calibration_metrics(logits, labels),
        after=calibration_metrics(logits / temperature, labels),
    )
    return TemperatureScaled(target.module, temperature), result
