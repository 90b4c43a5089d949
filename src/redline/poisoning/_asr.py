"""Attack success rate: how often the trigger sends a test input where the attacker wants.

The test set holds only samples the attack could move: for an all-to-one backdoor the
inputs whose true label is not the target (a target-class input predicted as the target
is no success), for all-to-all every input (wanted label ``(y + 1) % K``), for targeted
label flipping the untouched ``source_class`` inputs (the flipped-class rate). Random
label flipping has no attack target: its ASR is NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from torch import nn

from redline.datasets import validate_arrays
from redline.errors import InputError
from redline.poisoning._poisoner import AttackSpec, Poisoner
from redline.poisoning._types import PoisonedData
from redline.targets import Target, predict_labels

__all__ = ["attack_spec", "attack_success_rate", "triggered_test_set"]

Array = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]


def attack_spec(
    source: PoisonedData | Poisoner, sample_shape: tuple[int, ...], num_classes: int
) -> AttackSpec:
    """The test-time goal of a poisoned set (as recorded) or of a poisoner (default trigger
    resolved for ``sample_shape``, label range ``num_classes``)."""
    if isinstance(source, Poisoner):
        return source.spec(sample_shape, num_classes)
    if not isinstance(source, PoisonedData):
        raise InputError(f"expected PoisonedData or a Poisoner, got {type(source).__name__}")
    params = source.params
    mode = params.get("mode", "all-to-one" if source.target_class is not None else "random")
    if mode not in ("all-to-one", "all-to-all", "targeted", "random"):
        raise InputError(f"{source.attack}: unknown attack mode {mode!r} in the poisoned data")
    k = int(params.get("num_classes", num_classes))
    return AttackSpec(mode, source.trigger, source.target_class, params.get("source_class"), k)


def triggered_test_set(
    source: PoisonedData | Poisoner, x_test: Any, y_test: Any, *, num_classes: int | None = None
) -> tuple[Array, Labels]:
    """The ASR test set: eligible test inputs with the trigger applied, and the label the
    attacker wants for each. ``num_classes`` defaults to the poisoned data's, else
    ``max(y_test) + 1``."""
    x, y = validate_arrays(x_test, y_test, source="ASR test set", num_classes=num_classes)
    k = int(y.max()) + 1 if num_classes is None else num_classes
    spec = attack_spec(source, x.shape[1:], k)
    keep = spec.eligible(y)
    if not keep.any():
        raise InputError(f"the ASR test set is empty: no test sample is eligible ({spec.mode})")
    x_keep = x[keep]
    if spec.trigger is not None:
        x_keep = np.asarray(spec.trigger(x_keep), dtype=np.float32)
    return x_keep, spec.wanted(y[keep])


def attack_success_rate(
    model: Target | nn.Module,
    x_test: Any,
    y_test: Any,
    poisoned: PoisonedData | Poisoner,
    *,
    num_classes: int | None = None,
    batch_size: int = 512,
) -> float:
    """Fraction of the ASR test set (see :func:`triggered_test_set`) that ``model`` predicts
    as the attacker's label; NaN for random label flipping, which has no attack target."""
    _, y = validate_arrays(x_test, y_test, source="ASR test set", num_classes=num_classes)
    k = int(y.max()) + 1 if num_classes is None else num_classes
    x_shape = np.shape(x_test)[1:]
    if attack_spec(poisoned, tuple(x_shape), k).mode == "random":
        return float("nan")
    x_t, wanted = triggered_test_set(poisoned, x_test, y_test, num_classes=num_classes)
    return float((predict_labels(model, x_t, batch_size=batch_size) == wanted).mean())
