"""The outcome of a backdoor repair and how to score it (BackdoorBench's DER)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from torch import nn

from redline.datasets import validate_arrays
from redline.errors import InputError
from redline.targets import predict_labels

__all__ = [
    "RepairResult",
    "defense_effectiveness_rating",
    "evaluate_repair",
    "predict_labels",
]


@dataclass(frozen=True)
class RepairResult:
    """A repaired model with the evidence that the repair worked.

    ``acc_*`` are clean accuracies of the input model (before) and the repaired one
    (after) on ``evaluated_on``: the repair's own held-out clean split until
    :func:`evaluate_repair` replaces them with test-set numbers. ``asr_*`` (attack success
    rates on triggered inputs) are None until a triggered test set is given.
    """

    module: nn.Module
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    pruned: int = 0
    """Channels (conv) or units (linear) masked to zero; 0 for methods that do not prune."""
    acc_before: float | None = None
    acc_after: float | None = None
    asr_before: float | None = None
    asr_after: float | None = None
    evaluated_on: str = "holdout"

    @property
    def der(self) -> float | None:
        """Defense effectiveness rating in [0, 1] (0.5 = no effect), None until both
        accuracies and both attack success rates are known."""
        values = (self.asr_before, self.asr_after, self.acc_before, self.acc_after)
        if any(v is None for v in values):
            return None
        asr_b, asr_a, acc_b, acc_a = (float(v) for v in values if v is not None)
        return defense_effectiveness_rating(asr_b, asr_a, acc_b, acc_a)


def defense_effectiveness_rating(
    asr_before: float, asr_after: float, acc_before: float, acc_after: float
) -> float:
    """DER = (max(0, ASR drop) - max(0, accuracy drop) + 1) / 2, as in BackdoorBench.

    1 means the backdoor is gone at no accuracy cost, 0.5 no change, 0 the worst trade.
    """
    named = {
        "asr_before": asr_before,
        "asr_after": asr_after,
        "acc_before": acc_before,
        "acc_after": acc_after,
    }
    for name, value in named.items():
        if not isinstance(value, int | float) or math.isnan(value) or not 0.0 <= value <= 1.0:
            raise InputError(f"{name} must be a rate in [0, 1], got {value!r}")
    d_asr = asr_before - asr_after
    d_acc = acc_before - acc_after
    return (max(0.0, d_asr) - max(0.0, d_acc) + 1.0) / 2.0


def _wanted(y_target: int | Any, n: int) -> npt.NDArray[np.int64]:
    if isinstance(y_target, int | np.integer):
        return np.full(n, int(y_target), dtype=np.int64)
    wanted = np.asarray(y_target)
    if wanted.shape != (n,) or wanted.dtype.kind not in "iu":
        raise InputError(
            f"y_target must be one class index or {n} integer labels, got shape {wanted.shape}"
        )
    return wanted.astype(np.int64)


def evaluate_repair(
    before: nn.Module,
    result: RepairResult,
    x_test: Any,
    y_test: Any,
    *,
    x_triggered: Any = None,
    y_target: int | Any = None,
) -> RepairResult:
    """``result`` with test-set accuracies and, given triggered inputs and the label the
    attacker wants (one class or one per sample), attack success rates before and after.

    Pass only triggered inputs the attack could move (for an all-to-one backdoor, those
    whose true class is not the target), as ``redline.poisoning`` builds them.
    """
    x, y = validate_arrays(x_test, y_test, source="clean test set")
    changes: dict[str, Any] = {
        "acc_before": float((predict_labels(before, x) == y).mean()),
        "acc_after": float((predict_labels(result.module, x) == y).mean()),
        "evaluated_on": f"test (n={len(y)})",
    }
    if x_triggered is not None:
        if y_target is None:
            raise InputError("x_triggered needs y_target (the label the attacker wants)")
        n = len(np.asarray(x_triggered))
        xt, wanted = validate_arrays(x_triggered, _wanted(y_target, n), source="triggered test set")
        changes["asr_before"] = float((predict_labels(before, xt) == wanted).mean())
        changes["asr_after"] = float((predict_labels(result.module, xt) == wanted).mean())
    return replace(result, **changes)
