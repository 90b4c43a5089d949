"""Turn what a non-torch model returns (probabilities, margins, labels) into logits."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import torch

from redline.errors import InputError

__all__ = ["Scores", "labels_to_logits", "margins_to_logits", "probabilities_to_logits"]

Scores = Literal["probabilities", "logits", "labels"]
"""What a black-box model gives back: class probabilities, raw scores, or labels only."""

_FLOOR = 1e-12
"""Smallest probability kept before the log, so a hard 0 stays finite."""
LABEL_LOGIT = 1.0
"""Logit of the predicted class of a label-only model (the others get 0)."""


def probabilities_to_logits(p: npt.ArrayLike, source: str) -> torch.Tensor:
    """Log-probabilities (softmax gives ``p`` back); rows must be finite and sum to 1."""
    arr = _matrix(p, source)
    if (arr < -1e-6).any() or not np.allclose(arr.sum(axis=1), 1.0, atol=1e-3):
        raise InputError(f"{source}: returned probabilities that are negative or do not sum to 1")
    return torch.from_numpy(np.log(np.clip(arr, _FLOOR, None))).float()


def margins_to_logits(m: npt.ArrayLike, source: str) -> torch.Tensor:
    """Raw scores as logits; a binary model's single margin ``d`` becomes ``[0, d]``."""
    arr = np.asarray(m, dtype=np.float64)
    if arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1):
        arr = arr.reshape(-1)
        arr = np.stack([np.zeros_like(arr), arr], axis=1)
    return torch.from_numpy(_matrix(arr, source)).float()


def labels_to_logits(labels: npt.ArrayLike, n_classes: int, source: str) -> torch.Tensor:
    """One-hot rows (``LABEL_LOGIT`` on the predicted class) for a label-only model."""
    arr = np.asarray(labels).reshape(-1)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.mod(arr, 1) == 0):
            raise InputError(f"{source}: returned labels that are not class indices")
        arr = arr.astype(np.int64)
    if len(arr) and (arr.min() < 0 or arr.max() >= n_classes):
        raise InputError(f"{source}: returned a label outside 0..{n_classes - 1}")
    out = torch.zeros(len(arr), n_classes)
    out[torch.arange(len(arr)), torch.as_tensor(arr, dtype=torch.long)] = LABEL_LOGIT
    return out


def _matrix(a: npt.ArrayLike, source: str) -> npt.NDArray[np.float64]:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise InputError(f"{source}: expected scores of shape (n, classes >= 2), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError(f"{source}: returned scores that are not finite")
    return arr
