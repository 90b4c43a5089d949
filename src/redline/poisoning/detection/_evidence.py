"""Label evidence that does not need poison to be a minority of its class.

A backdoor relabels samples of *other* classes into the target class. However large the
poison share of the target class (about half at a 10% rate on ten classes), each poisoned
sample is still a minority among the samples that look like it: its source class. So,
once the feature that sets it apart from the rest of its class (the trigger) is ignored,
its nearest neighbours mostly carry *another* label, while a clean sample's carry its own.
Ignoring that feature is what tells poison from a clean class with two styles: for a
style, ignoring the style direction brings the sample back among its own class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["NeighbourLabels"]

Floats = npt.NDArray[np.float64]

_CHUNK = 512


@dataclass(frozen=True)
class NeighbourLabels:
    """A labelled reference set of features, searched by Euclidean nearest neighbours
    (brute force, in chunks), optionally ignoring one direction."""

    features: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]
    k: int

    @classmethod
    def fit(
        cls, features: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], k: int
    ) -> NeighbourLabels:
        """Keep the reference set; ``k`` is capped at its size minus one."""
        k = max(1, min(k, len(labels) - 1))
        return cls(np.ascontiguousarray(features, np.float32), labels.copy(), k)

    def _neighbours(
        self,
        query: npt.NDArray[np.float32],
        ignore: Floats | None,
        rows: npt.NDArray[np.intp] | None,
    ) -> npt.NDArray[np.intp]:
        ref = self.features
        ref_sq = np.einsum("ij,ij->i", ref, ref)
        ref_along = None if ignore is None else ref @ ignore.astype(np.float32)
        out = np.empty((len(query), self.k), np.intp)
        for start in range(0, len(query), _CHUNK):
            q = query[start : start + _CHUNK].astype(np.float32)
            d2 = np.einsum("ij,ij->i", q, q)[:, None] + ref_sq[None, :] - 2 * (q @ ref.T)
            if ref_along is not None and ignore is not None:
                d2 -= ((q @ ignore.astype(np.float32))[:, None] - ref_along[None, :]) ** 2
            if rows is not None:  # leave one out: a sample is not its own neighbour
                d2[np.arange(len(q)), rows[start : start + _CHUNK]] = np.inf
            out[start : start + len(q)] = np.argpartition(d2, self.k - 1, axis=1)[:, : self.k]
        return out

    def disagreement(
        self,
        features: npt.NDArray[np.float32],
        labels: npt.NDArray[np.int64],
        *,
        ignore: Floats | None = None,
        rows: npt.NDArray[np.intp] | None = None,
    ) -> Floats:
        """Share of each sample's ``k`` nearest reference neighbours whose label differs
        from its own, in [0, 1]. ``ignore`` is a unit direction left out of the distance;
        ``rows`` are the samples' own rows in the reference set (left out)."""
        if not len(labels):
            return np.zeros(0)
        idx = self._neighbours(features, ignore, rows)
        return np.asarray((self.labels[idx] != labels[:, None]).mean(axis=1), np.float64)
