"""A uniform sample of rows that merges: each row gets a random key and the sample keeps
the rows with the largest keys, so the merge of two samples is a uniform sample of the
union (the multivariate tests, MMD and the classifier two-sample test, read it)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["SAMPLE_SIZE", "Reservoir"]

SAMPLE_SIZE = 2000
"""Rows kept per profile for the multivariate tests."""
Floats = npt.NDArray[np.float64]


def _encode(a: npt.NDArray[Any]) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f8").tobytes()).decode("ascii")


def _decode(text: str, shape: tuple[int, ...]) -> Floats:
    flat = np.frombuffer(base64.b64decode(text), dtype="<f8").astype(np.float64)
    if flat.size != int(np.prod(shape)):
        raise ValueError(f"{flat.size} numbers for a sample of shape {shape}")
    return flat.reshape(shape)


@dataclass(frozen=True)
class Reservoir:
    """``rows`` (n, d) with their random ``keys``; at most ``size`` rows."""

    rows: Floats = field(compare=False)
    keys: Floats = field(compare=False)
    size: int = SAMPLE_SIZE

    @classmethod
    def of(
        cls, rows: npt.ArrayLike, rng: np.random.Generator, size: int = SAMPLE_SIZE
    ) -> Reservoir:
        data = np.asarray(rows, dtype=np.float64)
        data = data.reshape(len(data), -1)
        keys = rng.uniform(0.0, 1.0, len(data))
        return cls(data, keys, size)._top()

    @classmethod
    def of_columns(
        cls, columns: list[Floats], n: int, rng: np.random.Generator, size: int = SAMPLE_SIZE
    ) -> Reservoir:
        """The sample of ``n`` rows given as columns, stacking only the rows kept (a
        chunk of 100,000 x 200 is never copied whole)."""
        keys = rng.uniform(0.0, 1.0, n)
        keep = np.sort(np.argsort(-keys, kind="stable")[:size])
        rows = np.column_stack([c[keep] for c in columns]) if columns else np.zeros((len(keep), 0))
        return cls(rows.astype(np.float64), keys[keep], size)

    @property
    def n(self) -> int:
        return len(self.rows)

    def _top(self) -> Reservoir:
        if len(self.keys) <= self.size:
            return self
        keep = np.argsort(-self.keys, kind="stable")[: self.size]
        keep.sort()
        return Reservoir(self.rows[keep], self.keys[keep], self.size)

    def merge(self, other: Reservoir) -> Reservoir:
        if self.rows.shape[1:] != other.rows.shape[1:]:
            raise ValueError(f"samples of {self.rows.shape[1]} and {other.rows.shape[1]} columns")
        rows = np.concatenate([self.rows, other.rows])
        keys = np.concatenate([self.keys, other.keys])
        return Reservoir(rows, keys, min(self.size, other.size))._top()

    def to_dict(self) -> dict[str, Any]:
        return {"shape": list(self.rows.shape), "rows": _encode(self.rows),
                "keys": _encode(self.keys), "size": self.size}  # fmt: skip

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Reservoir:
        shape = tuple(int(v) for v in raw["shape"])
        rows = _decode(raw["rows"], shape)
        return cls(rows, _decode(raw["keys"], (shape[0],)), int(raw["size"]))
