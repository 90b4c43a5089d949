"""An evaluation set in memory: inputs, labels, optional slice groups, provenance."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["Dataset", "fingerprint"]


def fingerprint(
    x: npt.NDArray[np.float32], y: npt.NDArray[np.int64], groups: npt.NDArray[np.str_] | None = None
) -> str:
    """SHA-256 over shapes, dtypes and bytes of the arrays: same data, same hash."""
    h = hashlib.sha256()
    for arr in (x, y) if groups is None else (x, y, groups.astype(np.str_)):
        a = np.ascontiguousarray(arr)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class Dataset:
    """Inputs ``x`` (float32, shape ``(n, ...)``), integer labels ``y`` and optional ``groups``.

    ``source`` names where it came from (a path or ``bundled:digits``); ``sha256`` is
    :func:`fingerprint` of the arrays, recorded in every report.
    """

    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.int64]
    source: str
    groups: npt.NDArray[np.str_] | None = None
    class_names: tuple[str, ...] | None = None
    sha256: str = field(default="", compare=False)
    feature_names: tuple[str, ...] | None = field(default=None, compare=False)
    """Column names of a table (a CSV header), for the feature schema."""

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", fingerprint(self.x, self.y, self.groups))

    def __len__(self) -> int:
        return len(self.y)

    @property
    def num_classes(self) -> int:
        """Number of classes: from the class names if known, else from the labels."""
        if self.class_names is not None:
            return len(self.class_names)
        return int(self.y.max()) + 1 if len(self.y) else 0

    def take(self, n: int | None) -> Dataset:
        """The first ``n`` samples (all when ``n`` is None), as a new dataset."""
        if n is None or n >= len(self):
            return self
        groups = None if self.groups is None else self.groups[:n]
        return Dataset(
            self.x[:n],
            self.y[:n],
            self.source,
            groups,
            self.class_names,
            feature_names=self.feature_names,
        )
