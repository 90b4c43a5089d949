"""What the natural-shift stages share: folding the per-sample outcomes of every
(shift, severity) cell into the result's rows, mean and slices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from redline.results import (
    Accuracy,
    NaturalShiftSection,
    ShiftLevel,
    ShiftRow,
    SliceShift,
    slice_gap,
    wilson,
)
from redline.results.metrics import accuracy

__all__ = ["Cell", "build_section", "share_accuracy"]

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Cell:
    """One shift at one severity: which samples the model still got right."""

    shift: str
    severity: int
    level: str
    correct: Mask


def share_accuracy(shares: npt.NDArray[np.float64]) -> Accuracy:
    """Mean of per-sample shares of correct cells: ``value`` is that mean, ``correct`` its
    rounding, the Wilson interval is over the samples (wider than the shares' own)."""
    n = int(shares.size)
    k = round(float(shares.sum()))
    return Accuracy(value=float(shares.mean()) if n else 0.0, n=n, correct=k, ci=wilson(k, n))


def _rows(cells: Sequence[Cell], notes: dict[str, str]) -> list[ShiftRow]:
    names = list(dict.fromkeys(c.shift for c in cells))
    return [
        ShiftRow(
            name=name,
            levels=[
                ShiftLevel(severity=c.severity, level=c.level, accuracy=accuracy(c.correct))
                for c in cells
                if c.shift == name
            ],
            note=notes.get(name),
        )
        for name in names
    ]


def _slices(
    clean: Mask, shares: npt.NDArray[np.float64], groups: npt.NDArray[Any] | None
) -> list[SliceShift]:
    if groups is None:
        return []
    keys = np.asarray(groups)
    return [
        SliceShift(
            name=str(key),
            clean=accuracy(clean[keys == key]),
            shifted=share_accuracy(shares[keys == key]),
        )
        for key in np.unique(keys)
    ]


def build_section(
    kind: Literal["image", "tabular"],
    clean: Mask,
    cells: Sequence[Cell],
    *,
    groups: npt.NDArray[Any] | None,
    seed: int,
    description: str,
    notes: dict[str, str] | None = None,
    features: Sequence[Any] = (),
) -> NaturalShiftSection:
    """The section from the clean outcome and every cell's outcome (same sample order)."""
    shares = np.mean([c.correct for c in cells], axis=0) if cells else clean.astype(float)
    per_slice = _slices(clean, shares, groups)
    return NaturalShiftSection(
        kind=kind,
        clean=accuracy(clean),
        rows=_rows(cells, notes or {}),
        mean_accuracy=share_accuracy(np.asarray(shares, dtype=np.float64)),
        features=list(features),
        per_slice=per_slice,
        slice_gap=slice_gap([(s.name, s.shifted) for s in per_slice]),
        seed=seed,
        description=description,
    )
