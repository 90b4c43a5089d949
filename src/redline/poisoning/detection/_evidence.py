"""Label evidence that does not need poison to be a minority of its class.

A backdoor relabels samples of *other* classes into the target class. However large the
poison share of the target class (about half at a 10% rate on ten classes), each poisoned
sample is still a minority among the samples that look like it: its source class. So,
once the feature that sets it apart from the rest of its class (the trigger) is ignored,
its nearest neighbours mostly carry *another* label, while a clean sample's carry its own.
Ignoring that feature is what tells poison from a clean class with two styles: for a
style, ignoring the style direction brings the sample back among its own class.

"The feature that sets it apart" has two forms. An additive trigger (a blended key) is a
shift: one direction, the difference of the two modes' centres. A *replacing* trigger (a
patch pasted over the image) is not a shift: it sets the same pixels to the same values
on every poisoned sample, whatever was there, so where it overlaps the digit the change
differs per sample. Two poisoned samples from one source class then match exactly on the
patch and closely elsewhere: each other's nearest neighbours, with the same (target)
label. Measured on 8x8 digits, BadNets 10%, target 3: 87% of a poisoned sample's 20
input-space neighbours were other poison, its disagreement 0.13 against 0.10 for clean
samples (no gap, class missed). :func:`footprint` finds those coordinates without ground
truth (where a mode is nearly constant while the data at large varies) and the distance
leaves them out: fellow poison 10%, disagreement 0.89 against 0.10.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["NeighbourLabels", "footprint"]

Floats = npt.NDArray[np.float64]

_CHUNK = 512
_FOOTPRINT_RATIO = 0.1
"""A coordinate is in a mode's footprint when the mode's spread there is under this share
of the whole data's spread (a pasted pattern: exactly 0)."""
_FOOTPRINT_MAX = 0.25
"""At most this share of the coordinates is left out (the flattest ones first)."""


def footprint(points: npt.NDArray[np.float32], weights: Floats) -> npt.NDArray[np.bool_]:
    """Coordinates a mode (``weights``: its posterior per row of ``points``) holds nearly
    constant where the data varies: what a replacing trigger writes. True = leave out."""
    x = points.astype(np.float64)
    spread = x.std(axis=0)
    w = weights / max(float(weights.sum()), 1e-12)
    mean = w @ x
    own = np.sqrt(np.maximum(w @ (x - mean) ** 2, 0.0))
    ratio = np.where(spread > 1e-6, own / np.maximum(spread, 1e-12), np.inf)
    out = ratio < _FOOTPRINT_RATIO
    cap = int(_FOOTPRINT_MAX * len(ratio))
    if out.sum() > cap:
        out = np.zeros(len(ratio), bool)
        out[np.argsort(ratio, kind="stable")[:cap]] = True
    return np.asarray(out)


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
        leave_out: npt.NDArray[np.bool_] | None = None,
    ) -> npt.NDArray[np.intp]:
        ref = self.features
        if leave_out is not None and leave_out.any():
            keep = ~leave_out
            ref, query = np.ascontiguousarray(ref[:, keep]), query[:, keep]
            if ignore is not None:
                ignore = ignore[keep] / max(float(np.linalg.norm(ignore[keep])), 1e-12)
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
        leave_out: npt.NDArray[np.bool_] | None = None,
    ) -> Floats:
        """Share of each sample's ``k`` nearest reference neighbours whose label differs
        from its own, in [0, 1]. ``ignore`` is a unit direction left out of the distance,
        ``leave_out`` coordinates left out of it (a :func:`footprint`); ``rows`` are the
        samples' own rows in the reference set (not their own neighbours)."""
        if not len(labels):
            return np.zeros(0)
        idx = self._neighbours(features, ignore, rows, leave_out)
        return np.asarray((self.labels[idx] != labels[:, None]).mean(axis=1), np.float64)
