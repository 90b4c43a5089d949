"""Label evidence when the trigger *replaces* pixels: the footprint left out of distances.

Synthetic, no training: two source "classes" drawn around two prototypes, and a third
class whose half is poison (source samples with a patch pasted over their content,
relabelled). Without the footprint, poisoned samples are each other's neighbours (same
label: no evidence); leaving the patch's coordinates out brings back their source class.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from redline.poisoning.detection._evidence import NeighbourLabels, footprint

D = 64
PATCH = np.arange(20, 29)  # nine coordinates over the "content", not the background


def _data(
    seed: int,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    rng = np.random.default_rng(seed)
    protos = rng.uniform(0, 1, (3, D))
    x = np.concatenate([protos[c] + 0.15 * rng.standard_normal((120, D)) for c in range(3)])
    y = np.repeat(np.arange(3), 120)
    poison = rng.choice(240, size=60, replace=False)  # from classes 0 and 1
    x[poison[:, None], PATCH[None, :]] = 1.0
    y[poison] = 2
    mask = np.zeros(len(y), bool)
    mask[poison] = True
    return x.astype(np.float32), y.astype(np.int64), mask


def test_footprint_is_the_pasted_patch_and_only_for_the_poison() -> None:
    x, y, mask = _data(0)
    poison_print = footprint(x, mask.astype(float))
    assert set(np.flatnonzero(poison_print)) == set(PATCH.tolist())
    clean_print = footprint(x, ((y == 2) & ~mask).astype(float))
    assert not clean_print.any()


def test_footprint_is_capped_and_ignores_constant_coordinates() -> None:
    x, _, _ = _data(1)
    x[:, :5] = 0.0  # constant everywhere: never a footprint
    one = np.zeros(len(x))
    one[:3] = 1.0  # three samples: flat on many coordinates by chance
    out = footprint(x, one)
    assert not out[:5].any()
    assert out.sum() <= 0.25 * D


def test_leaving_the_footprint_out_restores_the_source_labels() -> None:
    for seed in range(3):
        x, y, mask = _data(seed)
        ev = NeighbourLabels.fit(x, y, 10)
        rows = np.flatnonzero(mask)
        plain = ev.disagreement(x[rows], y[rows], rows=rows)
        left = ev.disagreement(x[rows], y[rows], rows=rows, leave_out=footprint(x, mask * 1.0))
        assert plain.mean() < 0.3  # neighbours are fellow poison
        assert left.mean() > 0.6  # mostly the source class (its poison is 1 in 5 look-alikes)
        clean = np.flatnonzero((y == 2) & ~mask)
        assert ev.disagreement(x[clean], y[clean], rows=clean).mean() < 0.2
