"""The feature schema as written by a user (TOML): column kinds, bounds, what may move.

A schema says what a real input can be: each column's kind (continuous, integer,
binary, categorical codes), its bounds, whether an attacker can change it at all
(immutable), in which direction (a customer can add income, not age) and by how much
(a budget in the feature's units or in standard deviations of the data), which columns
form one one-hot group, and linear relations (``total = sum of parts``).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from redline.errors import InputError

__all__ = ["Column", "ColumnKind", "Direction", "FeatureSchema", "OneHot", "Relation"]

ColumnKind = Literal["continuous", "integer", "binary", "categorical"]
Direction = Literal["any", "increase", "decrease"]
_KINDS = ("continuous", "integer", "binary", "categorical")
_DIRECTIONS = ("any", "increase", "decrease")
_COLUMN_KEYS = {"kind", "min", "max", "immutable", "direction", "budget", "budget_std", "values"}


@dataclass(frozen=True)
class Column:
    """One feature column and what an attacker may do to it."""

    name: str
    kind: ColumnKind = "continuous"
    low: float = -math.inf
    high: float = math.inf
    immutable: bool = False
    direction: Direction = "any"
    budget: float | None = None
    """Largest change in the feature's own units (None: only the bounds limit it)."""
    budget_std: float | None = None
    """Largest change in standard deviations of the reference data."""
    values: tuple[float, ...] | None = None
    """The allowed codes of a categorical column."""


@dataclass(frozen=True)
class OneHot:
    """Columns that one-hot encode one categorical feature: exactly one of them is 1."""

    name: str
    columns: tuple[str, ...]
    immutable: bool = False


@dataclass(frozen=True)
class Relation:
    """``target = constant + sum(weight * column)``: the target is derived, never attacked."""

    target: str
    terms: tuple[tuple[str, float], ...]
    constant: float = 0.0


@dataclass(frozen=True)
class FeatureSchema:
    """Columns, one-hot groups and relations; :meth:`bind` fixes them to a data set."""

    columns: tuple[Column, ...]
    groups: tuple[OneHot, ...] = ()
    relations: tuple[Relation, ...] = ()
    source: str = "schema"

    @classmethod
    def load(cls, path: str | Path) -> FeatureSchema:
        """Read a TOML schema file (see docs/tabular.md); bad files raise one-line errors."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{p}: schema file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{p}: not valid TOML ({exc})") from None
        return cls.from_dict(data, source=str(p))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "schema") -> FeatureSchema:
        """Build from the TOML tables ``columns``, ``onehot`` and the list ``relations``."""
        unknown = set(data) - {"columns", "onehot", "relations"}
        if unknown:
            raise InputError(f"{source}: unknown top-level keys {sorted(unknown)}")
        columns = tuple(
            _column(name, spec, source) for name, spec in _table(data, "columns", source).items()
        )
        groups = tuple(
            _onehot(name, spec, source) for name, spec in _table(data, "onehot", source).items()
        )
        raw = data.get("relations", [])
        if not isinstance(raw, list):
            raise InputError(f"{source}: relations must be an array of tables ([[relations]])")
        schema = cls(columns, groups, tuple(_relation(r, source) for r in raw), source)
        schema.check_consistent()
        return schema

    def check_consistent(self) -> None:
        """Refuse a schema that contradicts itself (names twice, relations that clash)."""
        names = [c.name for c in self.columns] + [m for g in self.groups for m in g.columns]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InputError(f"{self.source}: columns declared twice: {twice}")
        known = set(names)
        targets = [r.target for r in self.relations]
        for r in self.relations:
            missing = [n for n in (r.target, *(t for t, _ in r.terms)) if n not in known]
            if missing:
                raise InputError(f"{self.source}: relation on unknown columns {missing}")
            if r.target in (t for t, _ in r.terms):
                raise InputError(f"{self.source}: relation for {r.target!r} uses itself")
            chained = [t for t, _ in r.terms if t in targets]
            if chained:
                raise InputError(
                    f"{self.source}: relation for {r.target!r} uses derived columns "
                    f"{chained}; write each derived column from free ones only"
                )
        if len(set(targets)) != len(targets):
            raise InputError(f"{self.source}: a column is the target of two relations")
        kinds = {c.name: c.kind for c in self.columns}
        for r in self.relations:
            if kinds.get(r.target, "binary") not in ("continuous", "integer"):
                raise InputError(f"{self.source}: derived column {r.target!r} must be numeric")


def _table(data: Mapping[str, Any], key: str, source: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise InputError(f"{source}: [{key}] must be a table")
    return value


def _number(value: Any, what: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InputError(f"{source}: {what} must be a number, got {value!r}")
    return float(value)


def _column(name: str, spec: Any, source: str) -> Column:
    where = f"column {name!r}"
    if not isinstance(spec, dict):
        raise InputError(f"{source}: {where} must be a table")
    unknown = set(spec) - _COLUMN_KEYS
    if unknown:
        raise InputError(f"{source}: {where} has unknown keys {sorted(unknown)}")
    kind = spec.get("kind", "continuous")
    if kind not in _KINDS:
        raise InputError(f"{source}: {where} kind must be one of {list(_KINDS)}, got {kind!r}")
    direction = spec.get("direction", "any")
    if direction not in _DIRECTIONS:
        raise InputError(f"{source}: {where} direction must be one of {list(_DIRECTIONS)}")
    low = _number(spec.get("min", -math.inf), f"{where} min", source)
    high = _number(spec.get("max", math.inf), f"{where} max", source)
    if kind == "binary":
        low, high = max(low, 0.0), min(high, 1.0)
    if not low < high:
        raise InputError(f"{source}: {where} needs min < max, got {low} and {high}")
    budget = _budget(spec, "budget", where, source)
    budget_std = _budget(spec, "budget_std", where, source)
    if budget is not None and budget_std is not None:
        raise InputError(f"{source}: {where} has both budget and budget_std; give one")
    values = _values(spec.get("values"), kind, where, source)
    immutable = spec.get("immutable", False)
    if not isinstance(immutable, bool):
        raise InputError(f"{source}: {where} immutable must be true or false")
    return Column(
        name, cast(ColumnKind, kind), low, high, immutable,
        cast(Direction, direction), budget, budget_std, values,
    )  # fmt: skip


def _budget(spec: Mapping[str, Any], key: str, where: str, source: str) -> float | None:
    if key not in spec:
        return None
    value = _number(spec[key], f"{where} {key}", source)
    if value < 0:
        raise InputError(f"{source}: {where} {key} must be >= 0, got {value}")
    return value


def _values(raw: Any, kind: str, where: str, source: str) -> tuple[float, ...] | None:
    if kind != "categorical":
        if raw is not None:
            raise InputError(f"{source}: {where} has values but is not categorical")
        return None
    if not isinstance(raw, list) or len(raw) < 2:
        raise InputError(f"{source}: categorical {where} needs values = [at least two codes]")
    codes = tuple(_number(v, f"{where} value", source) for v in raw)
    if len(set(codes)) != len(codes):
        raise InputError(f"{source}: {where} lists a value twice")
    return tuple(sorted(codes))


def _onehot(name: str, spec: Any, source: str) -> OneHot:
    where = f"onehot group {name!r}"
    if not isinstance(spec, dict) or set(spec) - {"columns", "immutable"}:
        raise InputError(f"{source}: {where} takes columns = [...] and immutable only")
    cols = spec.get("columns")
    if not isinstance(cols, list) or len(cols) < 2 or not all(isinstance(c, str) for c in cols):
        raise InputError(f"{source}: {where} needs columns = [at least two column names]")
    immutable = spec.get("immutable", False)
    if not isinstance(immutable, bool):
        raise InputError(f"{source}: {where} immutable must be true or false")
    return OneHot(name, tuple(cols), immutable)


def _relation(spec: Any, source: str) -> Relation:
    if not isinstance(spec, dict) or set(spec) - {"target", "terms", "constant"}:
        raise InputError(f"{source}: a relation takes target, terms and constant only")
    target, terms = spec.get("target"), spec.get("terms")
    if not isinstance(target, str) or not isinstance(terms, dict) or not terms:
        raise InputError(f'{source}: a relation needs target = "col" and terms = {{col = w}}')
    weights = tuple(
        (str(k), _number(v, f"relation {target!r} weight", source)) for k, v in terms.items()
    )
    constant = _number(spec.get("constant", 0.0), f"relation {target!r} constant", source)
    return Relation(target, weights, constant)
