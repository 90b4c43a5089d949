"""Collect trees given as per-tree child arrays into one :class:`TreeEnsemble`."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from redline.errors import InputError
from redline.targets._trees import Link, TreeEnsemble

__all__ = ["ForestBuilder"]


class ForestBuilder:
    """Appends trees in pre-order (children after parents), whatever the source's order.

    A tree comes as arrays over its own node ids, root 0, ``left[i] == -1`` at leaves;
    ``value`` is ``(nodes, outputs)`` and only read at leaves.
    """

    def __init__(self, n_outputs: int) -> None:
        self.n_outputs = n_outputs
        self._feature: list[int] = []
        self._threshold: list[float] = []
        self._left: list[int] = []
        self._right: list[int] = []
        self._default_left: list[bool] = []
        self._value: list[npt.NDArray[np.float64]] = []
        self._roots: list[int] = []

    def add_tree(
        self,
        left: npt.ArrayLike,
        right: npt.ArrayLike,
        feature: npt.ArrayLike,
        threshold: npt.ArrayLike,
        default_left: npt.ArrayLike,
        value: npt.ArrayLike,
    ) -> None:
        """Append one tree, renumbered depth-first from its root."""
        lft, rgt = np.asarray(left, np.int64), np.asarray(right, np.int64)
        feat, thr = np.asarray(feature, np.int64), np.asarray(threshold, np.float64)
        dflt = np.asarray(default_left, bool)
        val = np.asarray(value, np.float64).reshape(len(lft), self.n_outputs)
        self._roots.append(len(self._feature))
        stack: list[tuple[int, int, bool]] = [(0, -1, True)]
        seen = 0
        while stack:
            node, parent, is_left = stack.pop()
            seen += 1
            if not 0 <= node < len(lft) or seen > len(lft):
                raise InputError("a tree's child ids do not form a tree")
            idx = len(self._feature)
            if parent >= 0:
                (self._left if is_left else self._right)[parent] = idx
            leaf = lft[node] < 0
            self._feature.append(-1 if leaf else int(feat[node]))
            self._threshold.append(0.0 if leaf else float(thr[node]))
            self._left.append(-1)
            self._right.append(-1)
            self._default_left.append(bool(dflt[node]))
            self._value.append(val[node] if leaf else np.zeros(self.n_outputs))
            if not leaf:
                stack.append((int(rgt[node]), idx, False))
                stack.append((int(lft[node]), idx, True))

    def build(
        self,
        *,
        base: npt.ArrayLike,
        link: Link,
        n_features: int,
        float32_inputs: bool,
        scale: float = 1.0,
    ) -> TreeEnsemble:
        """The ensemble of every tree added so far."""
        if not self._roots:
            raise InputError("the model has no trees")
        return TreeEnsemble(
            feature=np.asarray(self._feature, np.int64),
            threshold=np.asarray(self._threshold, np.float64),
            left=np.asarray(self._left, np.int64),
            right=np.asarray(self._right, np.int64),
            default_left=np.asarray(self._default_left, bool),
            value=np.stack(self._value).astype(np.float64),
            roots=np.asarray(self._roots, np.int64),
            base=np.asarray(base, np.float64).reshape(self.n_outputs),
            link=link,
            n_features=int(n_features),
            float32_inputs=float32_inputs,
            scale=float(scale),
        )
