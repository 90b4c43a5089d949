"""The verdict's detector: per class, the member detector whose evidence is strongest.

Each training-data detector maps a class's features to a different 1-D statistic
(spectral direction, cluster split, robust covariance, early loss), and each misses
some triggers: a statistic in which poison and clean samples do not separate gives two
modes with no label gap. The label evidence (:mod:`._evidence`) is comparable across
detectors (share of disagreeing neighbours, in [0, 1]), so the class-level choice needs
no ground truth: for every class, keep the member whose two modes are separated and
whose poison mode disagrees most with its labels (``gap``), preferring members that
call the class suspicious. A sample's score and flag are that member's.

A class is suspicious when at least ``min_votes`` members call it so (default 1: the
members' clean false-alarm rates are each 0 in the benchmark; see the README).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from redline.errors import InputError
from redline.poisoning._types import ClassFinding
from redline.poisoning.detection._base import Inputs, TrainingDataDetector
from redline.poisoning.detection.clustering import ActivationClustering
from redline.poisoning.detection.isolation import LossIsolation
from redline.poisoning.detection.robust import RobustCovariance
from redline.poisoning.detection.spectral import SpectralSignatures
from redline.targets import TorchTarget

__all__ = ["MEMBERS", "CombinedDetector"]

Floats = npt.NDArray[np.float64]

MEMBERS: dict[str, type[TrainingDataDetector]] = {
    "spectral": SpectralSignatures,
    "clustering": ActivationClustering,
    "robust": RobustCovariance,
    "isolation": LossIsolation,
}
"""The member detectors, by their CLI names."""


def _strength(det: TrainingDataDetector, label: int) -> tuple[bool, float]:
    """(suspicious, gap if the class is bimodal else -inf): how strong a member's case is."""
    model = det.models_.get(label)
    if model is None:
        return False, -math.inf
    return model.suspicious, model.gap if model.bimodal else -math.inf


class CombinedDetector:
    """Fit every member on the same data and keep, per class, the strongest member's
    reading (scikit-learn style: ``fit`` returns self, state in ``*_``).

    ``members`` are CLI names of :data:`MEMBERS`; the keyword arguments go to each member
    (``layer``, ``n_neighbors``, ``min_gap``, ``random_state``, ...). ``reuse`` holds
    members already fitted on the same data: ``fit`` takes them instead of refitting.
    ``layer_`` names the member and layer kept per class (``"3:robust@5, ..."``).
    """

    members_: dict[str, TrainingDataDetector]
    chosen_: dict[int, str]
    votes_: dict[int, int]
    classes_: list[ClassFinding]
    scores_: Floats
    flagged_: npt.NDArray[np.bool_]
    skipped_: dict[int, str]
    layer_: str

    def __init__(
        self,
        *,
        members: Sequence[str] = tuple(MEMBERS),
        min_votes: int = 1,
        reuse: Mapping[str, TrainingDataDetector] | None = None,
        **member_options: Any,
    ) -> None:
        self.members = tuple(members)
        self.min_votes = min_votes
        self.reuse = dict(reuse or {})
        self.member_options = member_options

    def _check(self) -> None:
        unknown = sorted(set(self.members) - set(MEMBERS))
        if unknown or not self.members:
            raise InputError(
                f"combined: unknown or no member detector(s) {unknown}; choose from "
                f"{', '.join(MEMBERS)}"
            )
        if not 1 <= self.min_votes <= len(self.members):
            raise InputError(
                f"combined: min_votes must be in 1..{len(self.members)}, got {self.min_votes}"
            )

    def fit(self, target: TorchTarget, x: Inputs, y: npt.ArrayLike) -> Self:
        """Fit every member on ``(x, y)`` through ``target``, then merge them per class."""
        self._check()
        fitted = {
            name: self.reuse[name]
            if name in self.reuse
            else MEMBERS[name](**self.member_options).fit(target, x, y)
            for name in self.members
        }
        return self.merge(fitted, y)

    def merge(self, fitted: Mapping[str, TrainingDataDetector], y: npt.ArrayLike) -> Self:
        """Merge members already fitted on the same data with labels ``y`` (what ``fit``
        does after fitting; lets a caller reuse fitted members)."""
        self.members = tuple(fitted)
        self._check()
        ya = np.asarray(y, np.int64)
        first = next(iter(fitted.values()))
        self.members_ = dict(fitted)
        self.skipped_ = dict(first.skipped_)
        self.scores_, self.flagged_ = np.zeros(len(ya)), np.zeros(len(ya), bool)
        self.chosen_, self.votes_, self.classes_ = {}, {}, []
        for finding in first.classes_:
            self._merge_class(finding.label, ya)
        self.layer_ = ", ".join(
            f"{c}:{n}@{self.members_[n].layer_}" for c, n in sorted(self.chosen_.items())
        )
        return self

    def _merge_class(self, label: int, y: npt.NDArray[np.int64]) -> None:
        name = max(self.members_, key=lambda n: _strength(self.members_[n], label))
        det, rows = self.members_[name], np.flatnonzero(y == label)
        votes = sum(_strength(d, label)[0] for d in self.members_.values())
        suspicious = votes >= self.min_votes
        self.chosen_[label], self.votes_[label] = name, votes
        self.scores_[rows] = det.scores_[rows]
        self.flagged_[rows] = det.flagged_[rows] if suspicious else False
        finding = next(f for f in det.classes_ if f.label == label)
        self.classes_.append(
            ClassFinding(
                label,
                finding.n,
                finding.contamination if suspicious else 0.0,
                int(self.flagged_[rows].sum()),
                suspicious,
                finding.statistic,
            )
        )

    @property
    def suspicious_classes_(self) -> list[int]:
        """Labels of the classes judged poisoned."""
        return [f.label for f in self.classes_ if f.suspicious]

    def fit_predict(
        self, target: TorchTarget, x: Inputs, y: npt.ArrayLike
    ) -> npt.NDArray[np.bool_]:
        """``fit`` then return ``flagged_``."""
        return self.fit(target, x, y).flagged_.copy()
