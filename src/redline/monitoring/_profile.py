"""A profile: the mergeable, serialisable summary of one window of data (and of what a
model made of it), from which every drift test runs without the raw rows.

A window, a day and a shard merge (``a.merge(b)``); a profile file is versioned JSON
with a SHA-256 of its body, read back only by :meth:`Profile.load` (never a pickle)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.errors import InputError
from redline.monitoring._columns import CategoricalColumn, NumericColumn
from redline.monitoring._predictions import Predictions
from redline.monitoring._reservoir import Reservoir

__all__ = ["FORMAT", "MAX_SLICES", "PROFILE_VERSION", "Column", "Profile", "table_columns"]

FORMAT = "redline-profile"
PROFILE_VERSION = 1
"""Bumped when the file layout changes; a newer file is refused with a clear line."""
MAX_SLICES = 50
Column = NumericColumn | CategoricalColumn


def table_columns(
    data: Any, names: Sequence[str] | None = None, categorical: Sequence[str] = ()
) -> list[tuple[str, bool, Any]]:
    """``(name, is_categorical, values)`` per column of a 2-D array, a mapping of names
    to 1-D arrays, or an Arrow table; text and booleans are categorical, as is every
    column named in ``categorical``."""
    if hasattr(data, "column_names") and hasattr(data, "column"):  # an Arrow table
        return [(n, _arrow_categorical(data.column(n)) or n in categorical, data.column(n))
                for n in data.column_names]  # fmt: skip
    if isinstance(data, Mapping):
        items = [(str(k), np.asarray(v)) for k, v in data.items()]
    else:
        arr = np.asarray(data)
        if arr.ndim != 2:
            raise InputError(f"a profile takes rows (n, columns), got shape {arr.shape}")
        labels = list(names) if names is not None else [f"x{j}" for j in range(arr.shape[1])]
        if len(labels) != arr.shape[1]:
            raise InputError(f"{len(labels)} names for {arr.shape[1]} columns")
        items = [(labels[j], arr[:, j]) for j in range(arr.shape[1])]
    unknown = set(categorical) - {n for n, _ in items}
    if unknown:
        raise InputError(f"categorical column {sorted(unknown)[0]!r} is not in the data")
    return [(n, a.dtype.kind in "OUSb" or n in categorical, a) for n, a in items]


def _arrow_categorical(column: Any) -> bool:
    import pyarrow as pa

    t = column.type
    numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    return not (numeric or pa.types.is_null(t))  # an all-empty chunk of a numeric column


@dataclass(frozen=True)
class Profile:
    """Columns in order, a uniform sample of the numeric columns, the model's
    predictions if one was given, and one profile per slice."""

    n_rows: int
    columns: tuple[Column, ...]
    sample: Reservoir
    predictions: Predictions | None = None
    slices: dict[str, Profile] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def from_arrays(
        cls,
        data: Any,
        *,
        names: Sequence[str] | None = None,
        categorical: Sequence[str] = (),
        groups: npt.ArrayLike | None = None,
        probs: npt.ArrayLike | None = None,
        features: npt.ArrayLike | None = None,
        labels: npt.ArrayLike | None = None,
        seed: int = 0,
        source: str = "",
    ) -> Profile:
        """The profile of one window: ``data`` as for :func:`table_columns`, ``groups``
        one slice key per row, ``probs`` the model's class probabilities, ``features``
        its penultimate features, ``labels`` the true classes where known."""
        cols = table_columns(data, names, categorical)
        n = len(cols[0][2]) if cols else 0
        if any(len(c[2]) != n for c in cols):
            raise InputError("every column must have the same number of rows")
        rng = np.random.default_rng(seed)
        model = _Model(probs, features, labels)
        whole = cls._plain(cols, n, rng, model, source)
        if groups is None:
            return whole
        keys = np.asarray(groups).astype(str)
        if len(keys) != n:
            raise InputError(f"{len(keys)} group values for {n} rows")
        return replace(whole, slices=cls._slices(cols, keys, rng, model, source))

    @classmethod
    def _plain(cls, cols: list[tuple[str, bool, Any]], n: int, rng: np.random.Generator,
               model: _Model, source: str) -> Profile:  # fmt: skip
        summaries: list[Column] = [
            CategoricalColumn.of(name, values) if cat else NumericColumn.of(name, _floats(values))
            for name, cat, values in cols
        ]
        numeric = [v for _, cat, v in cols if not cat]
        sample = Reservoir.of_columns([_floats(v) for v in numeric], n, rng)
        preds = None
        if model.probs is not None:
            preds = Predictions.of(_rows(model.probs, n), rng, model.features, model.labels)
        return cls(n, tuple(summaries), sample, preds, {}, source)

    @classmethod
    def _slices(cls, cols: list[tuple[str, bool, Any]], keys: npt.NDArray[Any],
                rng: np.random.Generator, model: _Model, source: str,
                ) -> dict[str, Profile]:  # fmt: skip
        distinct = np.unique(keys)
        if len(distinct) > MAX_SLICES:
            raise InputError(
                f"the groups have {len(distinct)} values (at most {MAX_SLICES} slices)"
            )
        out = {}
        for key in distinct:
            sel = np.flatnonzero(keys == key)
            part = [(name, cat, _take(values, sel)) for name, cat, values in cols]
            out[str(key)] = cls._plain(part, len(sel), rng, model.take(sel), source)
        return out

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise InputError(f"no column {name!r} in the profile")

    def merge(self, other: Profile) -> Profile:
        """The profile of both windows together (no raw rows needed)."""
        kinds = [(c.name, type(c).__name__) for c in self.columns]
        if kinds != [(c.name, type(c).__name__) for c in other.columns]:
            raise InputError("profiles of different columns or column kinds cannot be merged")
        if (self.predictions is None) != (other.predictions is None):
            raise InputError("one profile has the model's predictions and the other has not")
        preds = None
        if self.predictions is not None and other.predictions is not None:
            preds = self.predictions.merge(other.predictions)
        slices = dict(self.slices)
        for key, part in other.slices.items():
            slices[key] = slices[key].merge(part) if key in slices else part
        columns = tuple(a.merge(b) for a, b in zip(self.columns, other.columns, strict=True))  # type: ignore[arg-type]
        source = self.source if self.source == other.source else "merged"
        return Profile(self.n_rows + other.n_rows, columns, self.sample.merge(other.sample),
                       preds, slices, source)  # fmt: skip

    # --- files -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_rows": self.n_rows,
            "source": self.source,
            "columns": [c.to_dict() for c in self.columns],
            "sample": self.sample.to_dict(),
            "predictions": None if self.predictions is None else self.predictions.to_dict(),
            "slices": {k: v.to_dict() for k, v in self.slices.items()},
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Profile:
        columns: list[Column] = [
            NumericColumn.from_dict(c) if c["kind"] == "numeric" else CategoricalColumn.from_dict(c)
            for c in raw["columns"]
        ]
        preds = raw.get("predictions")
        return cls(
            int(raw["n_rows"]),
            tuple(columns),
            Reservoir.from_dict(raw["sample"]),
            None if preds is None else Predictions.from_dict(preds),
            {str(k): cls.from_dict(v) for k, v in raw.get("slices", {}).items()},
            str(raw.get("source", "")),
        )

    def save(self, path: str | Path) -> None:
        """Write the profile as versioned JSON with the SHA-256 of its body (atomically)."""
        from redline._atomic import atomic_writer

        body = json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)
        head = {"format": FORMAT, "version": PROFILE_VERSION, "sha256": _digest(body)}
        with atomic_writer(Path(path)) as handle:
            handle.write((json.dumps(head) + "\n" + body + "\n").encode("utf-8"))

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        """Read a profile written by :meth:`save`: its format, version and hash checked."""
        p = Path(path)
        try:
            head_line, body = p.read_text(encoding="utf-8").split("\n", 1)
            head = json.loads(head_line)
        except FileNotFoundError:
            raise InputError(f"{p}: no such profile") from None
        except (OSError, UnicodeDecodeError, ValueError):
            raise InputError(f"{p}: not a redline profile file") from None
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            raise InputError(f"{p}: not a redline profile file")
        version = head.get("version")
        if not isinstance(version, int) or version > PROFILE_VERSION:
            raise InputError(
                f"{p}: profile format {version} was written by a newer redline "
                f"(this one reads up to {PROFILE_VERSION})"
            )
        body = body.strip()
        if head.get("sha256") != _digest(body):
            raise InputError(f"{p}: the profile is corrupt (its SHA-256 does not match)")
        try:
            return cls.from_dict(json.loads(body))
        except (KeyError, TypeError, ValueError, InputError) as exc:
            raise InputError(f"{p}: the profile is corrupt ({exc})") from None


@dataclass(frozen=True)
class _Model:
    """What the model made of the rows: probabilities, features, true labels."""

    probs: Any = None
    features: Any = None
    labels: Any = None

    def take(self, sel: npt.NDArray[np.intp]) -> _Model:
        pick = [
            None if v is None else np.asarray(v)[sel]
            for v in (self.probs, self.features, self.labels)
        ]
        return _Model(*pick)


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _floats(values: Any) -> npt.NDArray[np.float64]:
    if hasattr(values, "to_numpy"):  # Arrow: nulls become NaN
        values = values.to_numpy(zero_copy_only=False)
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("a numeric column holds values that are not numbers") from None


def _rows(probs: Any, n: int) -> npt.NDArray[np.float64]:
    p = np.asarray(probs, dtype=np.float64)
    if len(p) != n:
        raise InputError(f"{len(p)} prediction rows for {n} data rows")
    return p


def _take(values: Any, sel: npt.NDArray[np.intp]) -> Any:
    if hasattr(values, "take") and not isinstance(values, np.ndarray):
        return values.take(sel)
    return np.asarray(values)[sel]
