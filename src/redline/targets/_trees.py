"""Additive ensembles of axis-aligned binary trees as plain arrays, evaluated in numpy.

One representation for scikit-learn forests and gradient boosting, XGBoost and LightGBM,
so that exact and heuristic tree attacks read the splits themselves (white-box), not
only the scores. Every split is ``go left iff x[feature] <= threshold``; each
constructor converts its library's own rule (XGBoost's ``<``) into that form exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from redline.errors import InputError

__all__ = ["Link", "TreeEnsemble"]

Link = Literal["logistic", "softmax", "identity"]
"""How margins become probabilities: sigmoid of one margin (binary boosting), softmax of
one margin per class (multiclass boosting), or the margins are already probabilities
(averaged leaf class frequencies: decision trees and random forests)."""

_FLOOR = 1e-12
"""Smallest probability kept before the log of an ``identity`` ensemble's logits."""

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class TreeEnsemble:
    """A forest in flat node arrays: ``margin(x) = base + sum over trees of value[leaf]``.

    Node ``i`` is a leaf where ``feature[i] == -1``; otherwise a sample goes to
    ``left[i]`` iff ``x[feature[i]] <= threshold[i]`` and to ``left[i]`` when the value is
    missing (NaN) iff ``default_left[i]``. Children come after their parent; ``roots``
    holds each tree's first node. ``value`` is ``(nodes, outputs)``: one margin for binary
    boosting, one per class otherwise (a random forest's leaves hold class frequencies
    divided by the number of trees). ``float32_inputs``: the library compares features
    cast to float32 (scikit-learn, XGBoost), not as float64 (LightGBM). ``scale``
    multiplies margins before the link (LightGBM's sigmoid parameter, scikit-learn's
    exponential loss); it never changes the predicted class.
    """

    feature: Ints
    threshold: Floats
    left: Ints
    right: Ints
    default_left: npt.NDArray[np.bool_]
    value: Floats
    roots: Ints
    base: Floats
    link: Link
    n_features: int
    float32_inputs: bool = True
    scale: float = 1.0

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return len(self.roots)

    @property
    def n_outputs(self) -> int:
        """Margins per sample: 1 for binary boosting, else the number of classes."""
        return int(self.value.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes the ensemble predicts."""
        return 2 if self.n_outputs == 1 else self.n_outputs

    def inputs(self, x: npt.ArrayLike) -> Floats:
        """``x`` as the library sees it: ``(n, n_features)`` float64, float32-rounded
        where the library compares in float32."""
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != self.n_features:
            raise InputError(
                f"the tree ensemble expects (n, {self.n_features}) features, got shape {arr.shape}"
            )
        return arr.astype(np.float32).astype(np.float64) if self.float32_inputs else arr

    def leaves(self, x: npt.ArrayLike) -> Ints:
        """The leaf each sample reaches in each tree, ``(n, trees)`` node indices."""
        arr = self.inputs(x)
        walk = self._walk
        flat = arr.ravel()
        node = np.repeat(self.roots[None, :], len(arr), axis=0)
        offset = (np.arange(len(arr)) * self.n_features)[:, None]
        missing = bool(np.isnan(flat).any())
        for _ in range(walk.depth):
            val = flat.take(offset + walk.feature.take(node))
            go_right = val > walk.threshold.take(node)
            if missing:
                go_right = np.where(np.isnan(val), ~walk.default_left.take(node), go_right)
            node = walk.child.take(2 * node + go_right)
        return node

    @cached_property
    def _walk(self) -> _Walk:
        return _Walk.of(self)

    def margin(self, x: npt.ArrayLike) -> Floats:
        """Raw margins ``(n, outputs)``: XGBoost's ``output_margin``, LightGBM's
        ``raw_score``, scikit-learn's ``decision_function`` (forests: ``predict_proba``)."""
        leaves = self.leaves(x)
        columns = [self.value[:, k].take(leaves).sum(axis=1) for k in range(self.n_outputs)]
        out: Floats = self.base + np.stack(columns, axis=1)
        return out

    def predict_proba(self, x: npt.ArrayLike) -> Floats:
        """Class probabilities ``(n, classes)`` through the ensemble's link."""
        m = self.margin(x) * self.scale
        if self.link == "identity":
            return m
        if self.link == "logistic":
            p = 1.0 / (1.0 + np.exp(-m[:, 0]))
            return np.stack([1.0 - p, p], axis=1)
        z = np.exp(m - m.max(axis=1, keepdims=True))
        out: Floats = z / z.sum(axis=1, keepdims=True)
        return out

    def logits(self, x: npt.ArrayLike) -> Floats:
        """Scores whose softmax is :meth:`predict_proba` and whose argmax is the class:
        ``[0, m]`` for one binary margin, the margins for softmax, log-probabilities for
        averaged forests."""
        m = self.margin(x) * self.scale
        if self.link == "identity":
            return np.log(np.clip(m, _FLOOR, None))
        if self.link == "logistic":
            return np.concatenate([np.zeros_like(m), m], axis=1)
        return m

    def class_values(self) -> tuple[Floats, Floats]:
        """``(leaf scores (nodes, classes), base (classes,))``: scores linear in the leaves
        whose argmax is the predicted class (the form an exact attack optimises)."""
        if self.n_outputs == 1:
            zeros = np.zeros_like(self.value)
            return np.concatenate([zeros, self.value], axis=1), np.array([0.0, self.base[0]])
        return self.value, self.base

    @classmethod
    def from_sklearn(cls, estimator: Any) -> TreeEnsemble:
        """A fitted DecisionTree, RandomForest, ExtraTrees or GradientBoosting classifier."""
        from redline.targets._tree_sklearn import from_sklearn

        return from_sklearn(estimator)

    @classmethod
    def from_xgboost(cls, booster: Any) -> TreeEnsemble:
        """An ``xgboost.Booster`` (or XGBClassifier) with tree boosters and numeric splits."""
        from redline.targets._tree_xgboost import from_xgboost

        return from_xgboost(booster)

    @classmethod
    def from_lightgbm(cls, booster: Any) -> TreeEnsemble:
        """A ``lightgbm.Booster`` (or LGBMClassifier) with numerical splits only."""
        from redline.targets._tree_lightgbm import from_lightgbm

        return from_lightgbm(booster)

    @classmethod
    def from_model(cls, model: Any) -> TreeEnsemble:
        """Any of the above, recognised by its API (XGBoost, LightGBM, then scikit-learn)."""
        if hasattr(model, "save_raw") or hasattr(model, "get_booster"):
            return cls.from_xgboost(model)
        if hasattr(model, "dump_model") or hasattr(model, "booster_"):
            return cls.from_lightgbm(model)
        return cls.from_sklearn(model)


@dataclass(frozen=True)
class _Walk:
    """The node arrays with every leaf pointing to itself, for branch-free traversal."""

    feature: Ints
    threshold: Floats
    child: Ints
    """``(left, right)`` of node ``i`` at ``2 i`` and ``2 i + 1``."""
    default_left: npt.NDArray[np.bool_]
    depth: int

    @classmethod
    def of(cls, e: TreeEnsemble) -> _Walk:
        leaf = e.feature < 0
        me = np.arange(len(e.feature))
        depth = np.zeros(len(e.feature), np.int64)
        for node in np.flatnonzero(~leaf):  # children come after parents
            depth[[e.left[node], e.right[node]]] = depth[node] + 1
        return cls(
            np.where(leaf, 0, e.feature),
            np.where(leaf, np.inf, e.threshold),
            np.stack([np.where(leaf, me, e.left), np.where(leaf, me, e.right)], axis=1).ravel(),
            np.where(leaf, True, e.default_left),
            int(depth.max(initial=0)),
        )


def _validate(e: TreeEnsemble) -> None:
    """Shapes agree, children point forwards (so evaluation ends), links are known."""
    n = len(e.feature)
    arrays = (e.threshold, e.left, e.right, e.default_left)
    if any(a.shape != (n,) for a in arrays) or e.value.ndim != 2 or len(e.value) != n:
        raise InputError("tree ensemble arrays disagree on the number of nodes")
    if e.base.shape != (e.value.shape[1],) or e.value.shape[1] < 1:
        raise InputError("tree ensemble base score must have one entry per output")
    if e.link not in ("logistic", "softmax", "identity"):
        raise InputError(f"unknown link {e.link!r}")
    if (e.link == "logistic") != (e.value.shape[1] == 1):
        raise InputError("a logistic ensemble has exactly one output, the others >= 2")
    if not len(e.roots) or e.roots.min() < 0 or e.roots.max() >= n:
        raise InputError("tree ensemble roots must index its nodes")
    inner = np.flatnonzero(e.feature >= 0)
    if len(inner) and (e.feature[inner].max() >= e.n_features):
        raise InputError(f"a split uses a feature beyond the model's {e.n_features}")
    ahead = (e.left[inner] > inner) & (e.right[inner] > inner) & (e.right[inner] < n)
    if not ahead.all() or (len(inner) and e.left[inner].max() >= n):
        raise InputError("tree children must come after their parent node")
    if np.isnan(e.threshold[inner]).any() or not np.isfinite(e.value).all():
        raise InputError("tree thresholds must be numbers and leaf values finite")
    if not e.scale > 0:
        raise InputError(f"the margin scale must be > 0, got {e.scale}")
