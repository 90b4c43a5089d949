"""Synthetic tables for the drift benchmark, in plain numpy so that the peer worker can
import this file inside a peer's venv (it never imports redline) and draw the very
same rows from the same seeds; each side checks a digest of what it drew.

A table has numeric columns of several kinds (continuous, heavy-tailed, skewed,
bimodal, counts and rounded values with ties) and categorical columns of 2 to 50
categories with skewed frequencies (rare categories included). A *shift* moves the
mean of chosen numeric columns by ``delta`` population standard deviations (counts:
the Poisson rate; rounded values: before rounding) and re-weights chosen categorical
columns: ``CAT_SHIFT`` moves frequency between its first two categories."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "CAT_SHIFT",
    "NO_SHIFT",
    "NUMERIC_KINDS",
    "Schema",
    "Shift",
    "Table",
    "concat",
    "digest",
    "draw",
    "draw_chunks",
    "feed",
]

NUMERIC_KINDS = (
    "normal",
    "lognormal",
    "exponential",
    "student-t",
    "uniform",
    "bimodal",
    "poisson",
    "rounded",
)
"""Numeric column ``j`` is of kind ``NUMERIC_KINDS[j % 8]``."""
_CARDINALITIES = (6, 2, 3, 4, 5, 8, 10, 12, 20, 50)
"""Categorical column ``k`` has ``_CARDINALITIES[k % 10]`` categories."""
_FIRST = np.array([0.30, 0.20, 0.15, 0.15, 0.10, 0.10])
"""Frequencies of categorical column 0, the one the power test re-weights."""
CAT_SHIFT = 0.05
"""The power test's category change: 0.30 -> 0.25 and 0.20 -> 0.25 (5 points of total
variation)."""
_POISSON_RATE = 3.0
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Schema:
    """How many columns of each type; column parameters follow from the index."""

    numeric: int
    categorical: int

    @property
    def names(self) -> tuple[list[str], list[str]]:
        """Numeric and categorical column names."""
        return [f"num{j}" for j in range(self.numeric)], [
            f"cat{k}" for k in range(self.categorical)
        ]

    def kind(self, j: int) -> str:
        return NUMERIC_KINDS[j % len(NUMERIC_KINDS)]

    def frequencies(self, k: int) -> Floats:
        """Category frequencies of categorical column ``k`` (Zipf-like past column 0)."""
        if k == 0:
            return _FIRST.copy()
        size = _CARDINALITIES[k % len(_CARDINALITIES)]
        p = 1.0 / np.arange(1, size + 1, dtype=np.float64) ** 1.1
        out: Floats = p / p.sum()
        return out


@dataclass(frozen=True)
class Shift:
    """Numeric columns moved by ``delta`` sigma; categorical columns re-weighted by
    ``cat_delta`` (moved from their first category to their second)."""

    numeric: tuple[int, ...] = ()
    delta: float = 0.0
    categorical: tuple[int, ...] = ()
    cat_delta: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON for the peer worker's spec."""
        return {
            "numeric": list(self.numeric),
            "delta": self.delta,
            "categorical": list(self.categorical),
            "cat_delta": self.cat_delta,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Shift:
        return cls(
            tuple(raw["numeric"]),
            float(raw["delta"]),
            tuple(raw["categorical"]),
            float(raw["cat_delta"]),
        )


NO_SHIFT = Shift()


@dataclass
class Table:
    """Numeric values ``(n, numeric)`` and category codes ``(n, categorical)``."""

    numeric: Floats
    categorical: Ints
    schema: Schema = field(repr=False)

    @property
    def n(self) -> int:
        return len(self.numeric)


def _sigma(kind: str) -> float:
    """Population standard deviation of a column kind (before its scale)."""
    return {
        "normal": 1.0,
        "lognormal": float(np.sqrt((np.e**0.25 - 1) * np.e**0.25)),  # sigma 0.5
        "exponential": 1.0,
        "student-t": float(np.sqrt(4 / 2)),  # 4 degrees of freedom
        "uniform": float(np.sqrt(1 / 12)),
        "bimodal": float(np.sqrt(1 + 1.5**2)),  # +-1.5 halves, unit spread
        "poisson": float(np.sqrt(_POISSON_RATE)),
        "rounded": 1.0,
    }[kind]


def _numeric(kind: str, n: int, move: float, rng: np.random.Generator) -> Floats:
    """``n`` draws of one kind, the mean moved by ``move`` of its own sigma."""
    shift = move * _sigma(kind)
    if kind == "normal":
        return rng.standard_normal(n) + shift
    if kind == "lognormal":
        return rng.lognormal(0.0, 0.5, n) + shift
    if kind == "exponential":
        return rng.exponential(1.0, n) + shift
    if kind == "student-t":
        return rng.standard_t(4, n) + shift
    if kind == "uniform":
        return rng.uniform(0.0, 1.0, n) + shift
    if kind == "bimodal":
        side = np.where(rng.uniform(size=n) < 0.5, -1.5, 1.5)
        return side + rng.standard_normal(n) + shift
    if kind == "poisson":
        return rng.poisson(_POISSON_RATE + shift, n).astype(np.float64)
    return np.round(rng.standard_normal(n) + shift, 1)  # rounded: ties


def draw(schema: Schema, n: int, seed: int, shift: Shift = NO_SHIFT) -> Table:
    """One window of ``n`` rows from seed ``seed`` (each column its own stream)."""
    streams = np.random.SeedSequence(seed).spawn(schema.numeric + schema.categorical)
    num = np.empty((n, schema.numeric))
    for j in range(schema.numeric):
        move = shift.delta if j in shift.numeric else 0.0
        num[:, j] = _numeric(schema.kind(j), n, move, np.random.default_rng(streams[j]))
    cat = np.empty((n, schema.categorical), dtype=np.int64)
    for k in range(schema.categorical):
        p = schema.frequencies(k)
        if k in shift.categorical:
            p[0] -= shift.cat_delta
            p[1] += shift.cat_delta
        rng = np.random.default_rng(streams[schema.numeric + k])
        cat[:, k] = rng.choice(len(p), size=n, p=p)
    return Table(num, cat, schema)


def draw_chunks(
    schema: Schema, n: int, chunk: int, seed: int, shift: Shift = NO_SHIFT
) -> Iterator[Table]:
    """A large window of ``n`` rows, ``chunk`` rows at a time (chunk ``i`` from seed
    ``seed * 100_003 + i``): redline profiles it chunk by chunk, a peer (which needs the
    whole window in memory) concatenates the same chunks."""
    for i, start in enumerate(range(0, n, chunk)):
        yield draw(schema, min(chunk, n - start), seed * 100_003 + i, shift)


def concat(parts: Iterable[Table]) -> Table:
    """One table of the parts' rows, in order."""
    items = list(parts)
    return Table(
        np.concatenate([p.numeric for p in items]),
        np.concatenate([p.categorical for p in items]),
        items[0].schema,
    )


def feed(hasher: Any, table: Table) -> None:
    """Add a table's rows to a running SHA-256 (chunks fed in order hash as the window)."""
    hasher.update(np.ascontiguousarray(table.numeric, dtype="<f8").tobytes())
    hasher.update(np.ascontiguousarray(table.categorical, dtype="<i8").tobytes())


def digest(*parts: Table) -> str:
    """SHA-256 prefix of the rows of the parts in order: both sides check that they
    drew the same window."""
    hasher = hashlib.sha256()
    for part in parts:
        feed(hasher, part)
    return hasher.hexdigest()[:16]
