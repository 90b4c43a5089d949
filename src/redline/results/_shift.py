"""The natural-shift section of a scan result: accuracy under common corruptions (images)
or natural tabular shifts (feature noise, missing values, quantile shifts), per shift and
severity, with the features whose shift hurts most and the accuracy of every slice."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from redline.results._common import Accuracy, _Model
from redline.results._slices import SliceGap

__all__ = [
    "FeatureHarm",
    "NaturalShiftSection",
    "ShiftLevel",
    "ShiftRow",
    "SliceShift",
]


class ShiftLevel(_Model):
    """Accuracy under one shift at one severity."""

    severity: int
    """1 (mild) .. 5 (severe)."""
    level: str
    """What the severity means for this shift: ``"3"`` for an image corruption,
    ``"σ 0.5"`` or ``"20%"`` for a tabular one."""
    accuracy: Accuracy


class ShiftRow(_Model):
    """One shift (a corruption) at every severity: a row of the heat map."""

    name: str
    levels: list[ShiftLevel]
    note: str | None = None
    """How the shift reached the model where that matters (e.g. an imputer filled NaN)."""

    @property
    def mean(self) -> float:
        """Mean accuracy over the severities."""
        return sum(lv.accuracy.value for lv in self.levels) / max(1, len(self.levels))


class FeatureHarm(_Model):
    """What shifting one feature alone does (tabular), worst shift first."""

    feature: str
    worst: str
    """The shift of this feature that hurt most, e.g. ``quantile +0.25``."""
    accuracy: Accuracy
    """Accuracy under that worst shift."""
    drop: float
    """Clean accuracy minus ``accuracy`` (a share, not points)."""
    shifts: dict[str, float]
    """Accuracy under each single-feature shift tried."""


class SliceShift(_Model):
    """One slice of the data: clean and mean shifted accuracy."""

    name: str
    clean: Accuracy
    shifted: Accuracy
    """Mean over every shift and severity; the interval is over the slice's samples
    (each sample scored by its share of correct cells), which is conservative."""


class NaturalShiftSection(_Model):
    """Robustness to natural distribution shift (schema 1.5), kept apart from the
    worst-case attacks: a model can be robust to one and not the other."""

    kind: Literal["image", "tabular"]
    clean: Accuracy
    """Clean accuracy on the same samples."""
    rows: list[ShiftRow]
    mean_accuracy: Accuracy
    """Mean corruption accuracy over every row and severity (interval as for slices)."""
    features: list[FeatureHarm] = Field(default_factory=list)
    """Tabular: every feature shifted alone, most harmful first."""
    per_slice: list[SliceShift] = Field(default_factory=list)
    slice_gap: SliceGap | None = None
    """Best minus worst slice in mean shifted accuracy, with its interval."""
    seed: int
    description: str
    """How the shifts were drawn, in a sentence (their source and parameters)."""

    @property
    def drop(self) -> float:
        """Clean accuracy minus the mean corruption accuracy (a share)."""
        return self.clean.value - self.mean_accuracy.value

    def row(self, name: str) -> ShiftRow | None:
        """The row of shift ``name``, if it was run."""
        return next((r for r in self.rows if r.name == name), None)
