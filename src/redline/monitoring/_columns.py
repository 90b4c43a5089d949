"""Mergeable summaries of one column: numeric (moments, exact values up to a limit, then
an Apache DataSketches KLL quantile sketch) and categorical (counts per value).

Small windows stay exact, so their tests are exact; past ``EXACT_LIMIT`` values a column
keeps a KLL sketch whose rank error (``rank_error``, 99% confidence) every test built on
it accounts for. Summaries serialise to plain JSON (numbers, strings, base64 bytes):
never a pickle."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.errors import InputError

__all__ = [
    "EXACT_LIMIT",
    "KLL_K",
    "MAX_CATEGORIES",
    "CategoricalColumn",
    "Moments",
    "NumericColumn",
]

EXACT_LIMIT = 10_000
"""Values a numeric column keeps exactly before it switches to a KLL sketch."""
KLL_K = 1000
"""KLL accuracy parameter: single-rank error 0.28% at 99% confidence."""
MAX_CATEGORIES = 1000
"""Distinct values counted per categorical column; the rarest beyond it are pooled."""
OTHER = "\x00other"
"""The pooled count of values beyond ``MAX_CATEGORIES`` (never a real category)."""
Floats = npt.NDArray[np.float64]
_DENSE = np.linspace(0.0, 1.0, 4001)
"""Levels of the quantile function a sketched column draws bootstrap samples from."""


def _kll() -> Any:
    from redline.targets._optional import optional_import

    return optional_import("datasketches", "monitoring").kll_doubles_sketch


@dataclass(frozen=True)
class Moments:
    """Count, mean, sum of squared deviations, min and max (Chan et al.'s merge)."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    @classmethod
    def of(cls, values: Floats) -> Moments:
        if values.size == 0:
            return cls()
        mean = float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        return cls(int(values.size), mean, m2, float(values.min()), float(values.max()))

    def merge(self, other: Moments) -> Moments:
        n = self.count + other.count
        if n == 0:
            return self
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / n
        m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / n
        return Moments(n, mean, m2, min(self.low, other.low), max(self.high, other.high))

    @property
    def std(self) -> float:
        """Population standard deviation (0 for fewer than 2 values)."""
        return math.sqrt(self.m2 / self.count) if self.count > 1 else 0.0


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class NumericColumn:
    """A numeric column: ``values`` (exact, unsorted) or ``sketch`` (KLL bytes)."""

    name: str
    missing: int
    moments: Moments
    values: Floats | None = field(default=None, compare=False)
    """Exact values (compared through ``moments``: arrays have no single truth value)."""
    sketch: bytes | None = None
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, name: str, column: npt.ArrayLike) -> NumericColumn:
        """Summary of one chunk; NaN and infinities count as missing."""
        arr = np.asarray(column, dtype=np.float64).ravel()
        finite = arr[np.isfinite(arr)]
        out = cls(name, int(arr.size - finite.size), Moments.of(finite), finite.copy())
        return out._compacted()

    @property
    def count(self) -> int:
        return self.moments.count

    @property
    def exact(self) -> bool:
        return self.sketch is None

    def _compacted(self) -> NumericColumn:
        if self.values is None or self.values.size <= EXACT_LIMIT:
            return self
        sk = _kll()(KLL_K)
        sk.update(self.values)
        return NumericColumn(self.name, self.missing, self.moments, None, sk.serialize())

    def kll(self) -> Any:
        """The column as a KLL sketch (built from the exact values if need be)."""
        if "kll" not in self._cache:
            if self.sketch is not None:
                self._cache["kll"] = _kll().deserialize(self.sketch)
            else:
                sk = _kll()(KLL_K)
                if self.values is not None and self.values.size:
                    sk.update(self.values)
                self._cache["kll"] = sk
        return self._cache["kll"]

    def merge(self, other: NumericColumn) -> NumericColumn:
        """The summary of both windows' values (exact while the union fits)."""
        moments = self.moments.merge(other.moments)
        missing = self.missing + other.missing
        if self.exact and other.exact:
            values = np.concatenate([_or_empty(self.values), _or_empty(other.values)])
            return NumericColumn(self.name, missing, moments, values)._compacted()
        sk = _kll()(KLL_K)
        sk.merge(self.kll())
        sk.merge(other.kll())
        return NumericColumn(self.name, missing, moments, None, sk.serialize())

    @property
    def rank_error(self) -> float:
        """Largest error of any CDF value read from the summary (99%): 0 when exact."""
        return 0.0 if self.exact else float(self.kll().normalized_rank_error(False))

    def cdf(self, points: Floats) -> Floats:
        """Empirical CDF ``P(X <= t)`` at each point."""
        if self.exact:
            ordered = self._sorted()
            return np.searchsorted(ordered, points, side="right") / max(1, ordered.size)
        points = np.asarray(points, dtype=np.float64)
        if self.count == 0 or points.size == 0:
            return np.zeros(points.shape)
        split, back = np.unique(points, return_inverse=True)
        ranks = np.asarray(self.kll().get_cdf(list(map(float, split)), True), dtype=np.float64)
        return ranks[:-1][back.ravel()].reshape(points.shape)

    def quantiles(self, q: Floats) -> Floats:
        if self.count == 0:
            return np.full(len(q), np.nan)
        if self.exact:
            from redline.monitoring._univariate import sorted_quantiles

            return sorted_quantiles(self._sorted(), np.asarray(q, dtype=np.float64))
        return np.asarray(self.kll().get_quantiles(list(map(float, q))), dtype=np.float64)

    def support(self) -> Floats:
        """Points where the CDF can jump: the values, or the sketch's retained items."""
        if self.exact:
            return self._sorted()
        return np.unique(self.quantiles(np.linspace(0.0, 1.0, 2001)))

    def sample(self, n: int, rng: np.random.Generator) -> Floats:
        """``n`` draws from the column's empirical distribution (a bootstrap sample)."""
        if self.count == 0:
            return np.zeros(0)
        if self.exact:
            return rng.choice(self._sorted(), size=n, replace=True)
        if "dense" not in self._cache:
            self._cache["dense"] = self.quantiles(_DENSE)
        drawn: Floats = np.interp(rng.uniform(0.0, 1.0, n), _DENSE, self._cache["dense"])
        return drawn

    def _sorted(self) -> Floats:
        if "sorted" not in self._cache:
            self._cache["sorted"] = np.sort(_or_empty(self.values))
        result: Floats = self._cache["sorted"]
        return result

    def to_dict(self) -> dict[str, Any]:
        m = self.moments
        out: dict[str, Any] = {
            "kind": "numeric", "name": self.name, "missing": self.missing,
            "moments": [m.count, m.mean, m.m2, m.low, m.high],
        }  # fmt: skip
        if self.exact:
            out["values"] = _b64(_or_empty(self.values).astype("<f8").tobytes())
        else:
            assert self.sketch is not None
            out["sketch"] = _b64(self.sketch)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> NumericColumn:
        count, mean, m2, low, high = raw["moments"]
        moments = Moments(int(count), float(mean), float(m2), float(low), float(high))
        if "values" in raw:
            values = np.frombuffer(base64.b64decode(raw["values"]), dtype="<f8").astype(float)
            if values.size != moments.count:
                raise InputError(
                    f"column {raw['name']!r}: {values.size} values for a count of {count}"
                )
            return cls(str(raw["name"]), int(raw["missing"]), moments, values)
        sketch = base64.b64decode(raw["sketch"])
        column = cls(str(raw["name"]), int(raw["missing"]), moments, None, sketch)
        if int(column.kll().n) != moments.count:
            raise InputError(f"column {raw['name']!r}: its sketch does not match its count")
        return column


def _value_counts(column: Any) -> tuple[int, dict[str, int]]:
    """Missing values and counts per value (as text) of a column, through Arrow."""
    from redline.targets._optional import optional_import

    pa = optional_import("pyarrow", "monitoring")
    arr = column if isinstance(column, pa.Array | pa.ChunkedArray) else None
    if arr is None:
        raw = np.asarray(column).ravel()
        arr = pa.array(raw if raw.dtype != object else list(raw), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    missing = int(arr.null_count)
    if pa.types.is_floating(arr.type):
        nan = pa.compute.is_nan(arr).to_numpy(zero_copy_only=False)
        missing += int(np.nansum(nan.astype(float)))
        arr = pa.compute.filter(arr, pa.compute.invert(pa.compute.is_nan(arr)))
    counts = arr.drop_null().value_counts()
    table: dict[str, int] = {}
    for item in counts.to_pylist():
        key = _text(item["values"])
        table[key] = table.get(key, 0) + int(item["counts"])
    return missing, table


def _text(value: Any) -> str:
    """A category as text: integral floats as integers (a CSV's 3 and an array's 3.0
    are the same category)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _or_empty(values: Floats | None) -> Floats:
    return np.zeros(0) if values is None else values


@dataclass(frozen=True)
class CategoricalColumn:
    """A categorical column: how often each value was seen (strings)."""

    name: str
    missing: int
    counts: dict[str, int]
    pooled: bool = False
    """True once rare values beyond ``MAX_CATEGORIES`` were pooled into one count."""

    @classmethod
    def of(cls, name: str, column: Any) -> CategoricalColumn:
        """Counts of one chunk (a numpy or Arrow array); None and NaN count as missing."""
        missing, table = _value_counts(column)
        return cls(name, missing, {}, False)._with(table)

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def _with(self, table: dict[str, int]) -> CategoricalColumn:
        real = {k: v for k, v in table.items() if k != OTHER}
        pooled = self.pooled or OTHER in table or len(real) > MAX_CATEGORIES
        if len(real) > MAX_CATEGORIES:
            keep = sorted(real, key=lambda k: (-real[k], k))[:MAX_CATEGORIES]
            other = table.get(OTHER, 0) + sum(v for k, v in real.items() if k not in keep)
            table = {k: real[k] for k in keep} | {OTHER: other}
        return CategoricalColumn(self.name, self.missing, dict(sorted(table.items())), pooled)

    def merge(self, other: CategoricalColumn) -> CategoricalColumn:
        table = dict(self.counts)
        for key, value in other.counts.items():
            table[key] = table.get(key, 0) + value
        base = CategoricalColumn(
            self.name, self.missing + other.missing, {}, self.pooled or other.pooled
        )
        return base._with(table)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "categorical", "name": self.name, "missing": self.missing,
                "counts": self.counts, "pooled": self.pooled}  # fmt: skip

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CategoricalColumn:
        counts = {str(k): int(v) for k, v in raw["counts"].items()}
        return cls(str(raw["name"]), int(raw["missing"]), counts, bool(raw.get("pooled", False)))
