"""``--unconstrained``: the same attacks with only the budgets kept, side by side with the
schema-constrained result, and how many of their examples no real input could be. An
attack that ignores what a feature can be overstates the threat (TabularBench,
Simonetto et al. 2024); this shows by how much on the user's own model."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from redline.attacks import SchemaSpace
    from redline.datasets import BoundSchema
    from redline.evaluation import Suite
    from redline.results import UnconstrainedPoint

__all__ = ["relaxed_schema", "unconstrained_points"]


def relaxed_schema(schema: BoundSchema) -> BoundSchema:
    """Every feature continuous, mutable, unbounded and free in direction, with a budget
    equal to its attack-space unit (so the attack space is the same); no groups or
    relations."""
    n = schema.n_features
    return dataclasses.replace(
        schema,
        kind=np.zeros(n, np.int64),
        low=np.full(n, -np.inf),
        high=np.full(n, np.inf),
        mutable=np.ones(n, bool),
        direction=np.zeros(n, np.int64),
        budget=schema.scale(),
        codes=(None,) * n,
        groups=(),
        relations=(),
        source=f"{schema.source} (budgets only)",
    )


def unconstrained_points(
    space: SchemaSpace,
    relaxed: SchemaSpace,
    z: np.ndarray,
    y: np.ndarray,
    suite: Suite,
    fractions: tuple[float, ...],
    seed: int,
) -> list[UnconstrainedPoint]:
    """Robust accuracy per eps in ``relaxed`` (``space``'s model under
    :func:`relaxed_schema`; worst case over ``suite``, as the scan: a sample broken at a
    smaller eps stays broken) and how many of its examples break ``space``'s schema."""
    from redline.results import Accuracy, UnconstrainedPoint, wilson

    x0, labels = torch.as_tensor(z), torch.as_tensor(y)
    with relaxed.session():
        standing = relaxed.predict(x0) == labels
        correct_clean, n = int(standing.sum()), len(labels)
        invalid, out = 0, []
        for eps in fractions:  # cumulative, as the scan: broken at a smaller eps stays broken
            idx = standing.nonzero().squeeze(1)
            if len(idx):
                found = suite.run(relaxed, x0[idx], labels[idx], norm="linf", eps=eps, seed=seed)
                hit = found.broken_by >= 0
                standing[idx[hit]] = False
                invalid += int((~space.valid(x0[idx][hit], found.x_adv[hit], eps)).sum())
            correct = int(standing.sum())
            acc = Accuracy(
                value=correct / n if n else 0.0, n=n, correct=correct, ci=wilson(correct, n)
            )
            out.append(
                UnconstrainedPoint(
                    eps=eps, robust=acc, invalid=invalid, broken=correct_clean - correct
                )
            )
    return out
