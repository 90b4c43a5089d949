"""The tabular section of a scan result: what the feature schema allowed, and what the
attacks changed, in the features' own units (a schema-space row means nothing to a
reader)."""

from __future__ import annotations

from redline.results._common import Accuracy, _Model

__all__ = [
    "FeatureChange",
    "SchemaSummary",
    "TabularExample",
    "TabularSection",
    "UnconstrainedPoint",
]


class SchemaSummary(_Model):
    """The schema the scan ran under, as a reader needs it."""

    source: str
    columns: int
    immutable: list[str]
    increase_only: list[str]
    decrease_only: list[str]
    budgets: dict[str, float]
    """Per feature with a finite budget: the largest change, in its units, at eps 1."""
    onehot_groups: list[list[str]]
    relations: list[str]
    """Each relation written out, e.g. ``total_debt = card_debt + loan_debt``."""


class FeatureChange(_Model):
    """One feature of an adversarial example that differs from the clean row."""

    feature: str
    clean: float
    adversarial: float


class TabularExample(_Model):
    """A clean row and the adversarial one the attack found, as changed features."""

    index: int
    eps: float
    attack: str
    label: int
    clean_pred: int
    adv_pred: int
    changes: list[FeatureChange]


class UnconstrainedPoint(_Model):
    """The same suite with only the budgets kept (``--unconstrained``): what an attack that
    ignores kinds, immutables, directions, bounds and relations would report, and how many
    of its examples no real input could be."""

    eps: float
    robust: Accuracy
    invalid: int
    """Of the samples broken up to this eps, those whose example breaks the schema."""
    broken: int
    """Samples the unconstrained suite broke up to this eps."""


class TabularSection(_Model):
    """How the tabular model was attacked (schema 1.4)."""

    model_kind: str
    """onnx, xgboost, lightgbm, sklearn (skops), torch, http endpoint..."""
    threat: str
    schema_info: SchemaSummary
    examples: list[TabularExample]
    changed: dict[str, int]
    """Per feature: in how many of the examples it changed."""
    queries: int | None = None
    """Rows sent to a black-box endpoint, in all (None for a local model)."""
    query_budget: int | None = None
    unconstrained: list[UnconstrainedPoint] | None = None
