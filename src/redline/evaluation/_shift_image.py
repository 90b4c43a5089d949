"""The natural-shift stage for image models: accuracy under the common corruptions of
Hendrycks & Dietterich (2019) at five severities (``redline.datasets.corrupt``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.datasets import corruption_names
from redline.datasets._corruptions import SEVERITIES, corrupt
from redline.errors import InputError
from redline.evaluation._shift_common import Cell, build_section
from redline.results import NaturalShiftSection
from redline.targets import Target, predict_labels

__all__ = ["check_image_batch", "image_shift"]


def check_image_batch(shape: Sequence[int]) -> None:
    """Corruptions need images ``(n, c, h, w)`` with 1 or 3 channels: one line otherwise."""
    if len(shape) != 4 or shape[1] not in (1, 3):
        raise InputError(
            "--corruptions on an image model needs images (n, c, h, w) with 1 or 3 channels, "
            f"got data of shape {tuple(shape)}; tabular data gets the tabular shifts"
        )


def image_shift(
    target: Target,
    x: npt.NDArray[Any],
    y: npt.NDArray[Any],
    *,
    corruptions: Sequence[str] | None = None,
    severities: Sequence[int] = SEVERITIES,
    groups: npt.NDArray[Any] | None = None,
    seed: int = 0,
    batch_size: int = 256,
) -> NaturalShiftSection:
    """Accuracy of ``target`` on ``x`` under each corruption (all ten by default) at each
    severity; cell ``k`` draws its noise from ``seed + k`` (same seed, same images)."""
    names = tuple(corruption_names() if corruptions is None else corruptions)
    check_image_batch(np.shape(x))
    images = np.asarray(x, dtype=np.float32)
    labels = np.asarray(y, dtype=np.int64)
    clean = predict_labels(target, images, batch_size=batch_size) == labels
    cells = []
    for k, (name, severity) in enumerate((n, s) for n in names for s in severities):
        shifted = corrupt(images, name, int(severity), seed=seed + k, bounds=target.bounds)
        correct = predict_labels(target, shifted, batch_size=batch_size) == labels
        cells.append(Cell(name, int(severity), str(severity), correct))
    return build_section(
        "image",
        clean,
        cells,
        groups=groups,
        seed=seed,
        description=(
            "Common corruptions of Hendrycks & Dietterich (2019) with the severities of "
            "the imagecorruptions package, scaled to the image size; noise drawn per "
            f"corruption and severity from seed {seed} on."
        ),
    )
