"""Shared shapes of the poisoning package: triggers, poisoned data, detector findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from redline.datasets import Dataset

__all__ = ["ClassFinding", "PoisonedData", "Trigger"]


@runtime_checkable
class Trigger(Protocol):
    """A backdoor trigger: a plain callable on a batch of inputs (numpy, in the bounds).

    ``to_dict`` returns plain JSON/npz-friendly data so that a poisoned file carries its
    trigger and ASR can be re-measured later.
    """

    def __call__(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PoisonedData:
    """A poisoned training set with its ground truth.

    ``mask[i]`` is True for the payload: every sample whose label the attack changed, or
    (clean label) whose input it triggered to plant the backdoor; what a detector must
    find. ``cover[i]`` is True for cover (regularisation) samples: triggered or warped
    but left with their true label (Adap-* conservatism, WaNet noise mode), harmless to
    keep or remove, so scores leave them out; None when the attack makes none. The two
    never overlap. ``original_labels`` are the labels before poisoning; ``target_class``
    is None for all-to-all and untargeted label flipping.
    """

    data: Dataset
    mask: npt.NDArray[np.bool_]
    original_labels: npt.NDArray[np.int64]
    attack: str
    rate: float
    target_class: int | None
    trigger: Trigger | None
    params: dict[str, Any] = field(default_factory=dict)
    cover: npt.NDArray[np.bool_] | None = None

    @property
    def n_poisoned(self) -> int:
        """Number of payload samples (cover samples not counted)."""
        return int(self.mask.sum())

    @property
    def n_cover(self) -> int:
        """Number of cover samples (0 when the attack makes none)."""
        return 0 if self.cover is None else int(self.cover.sum())

    def target_share(self) -> float | None:
        """Fraction of the target class's samples that are poison (None if no target).

        At a 10% rate on 10 balanced classes this is about one half: the regime where
        detectors that assume a small minority of poison collapse.
        """
        if self.target_class is None:
            return None
        in_target = self.data.y == self.target_class
        return float(self.mask[in_target].mean()) if in_target.any() else 0.0


@dataclass(frozen=True)
class ClassFinding:
    """A training-data detector's verdict on one class."""

    label: int
    n: int
    contamination: float
    """Estimated fraction of poison among the class's samples (0 when judged clean)."""
    flagged: int
    suspicious: bool
    statistic: float
    """The class-level test statistic the decision was based on (detector specific)."""
