"""Root-to-leaf paths of a tree ensemble, padded into arrays for per-sample pruning."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from redline.targets import TreeEnsemble

__all__ = ["Paths"]

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Paths:
    """For each leaf its ancestors (``-1`` padded) and the side taken at each (+1 left)."""

    leaf: Ints
    tree: Ints
    ancestor: Ints
    side: Ints

    @classmethod
    def of(cls, ensemble: TreeEnsemble) -> Paths:
        """Walk every tree once (children come after their parents)."""
        n = len(ensemble.feature)
        parent = np.full(n, -1, np.int64)
        side = np.zeros(n, np.int64)
        inner = np.flatnonzero(ensemble.feature >= 0)
        parent[ensemble.left[inner]], side[ensemble.left[inner]] = inner, 1
        parent[ensemble.right[inner]], side[ensemble.right[inner]] = inner, -1
        tree = np.zeros(n, np.int64)
        tree[ensemble.roots] = np.arange(ensemble.n_trees)
        for node in range(n):
            if parent[node] >= 0:
                tree[node] = tree[parent[node]]
        leaves = np.flatnonzero(ensemble.feature < 0)
        chains: list[list[tuple[int, int]]] = []
        for leaf in leaves:
            chain, node = [], int(leaf)
            while parent[node] >= 0:
                chain.append((int(parent[node]), int(side[node])))
                node = int(parent[node])
            chains.append(chain)
        depth = max((len(c) for c in chains), default=0)
        anc = np.full((len(leaves), max(depth, 1)), -1, np.int64)
        sides = np.zeros_like(anc)
        for i, chain in enumerate(chains):
            if chain:
                anc[i, : len(chain)], sides[i, : len(chain)] = np.array(chain).T
        return cls(leaves.astype(np.int64), tree[leaves], anc, sides)
