"""The tabular section of a scan: the schema as a reader needs it, and the examples
moved back from the attack space to the features' own units."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from redline.attacks import SchemaSpace
    from redline.results import Example, SchemaSummary, TabularExample, TabularSection

__all__ = ["tabular_section"]


def tabular_section(
    space: SchemaSpace, examples: list[Example], kind: str, threat: str
) -> TabularSection:
    """Summarise ``space.schema`` and turn ``examples`` (attack-space rows) into changes."""
    from redline.results import TabularSection
    from redline.targets import HttpTarget

    shown = [_example(space, ex) for ex in examples]
    changed: dict[str, int] = {}
    for ex in shown:
        for c in ex.changes:
            changed[c.feature] = changed.get(c.feature, 0) + 1
    http = space.inner if isinstance(space.inner, HttpTarget) else None
    return TabularSection(
        model_kind=kind,
        threat=threat,
        schema_info=_summary(space),
        examples=shown,
        changed=dict(sorted(changed.items(), key=lambda kv: -kv[1])),
        queries=None if http is None else http.queries,
        query_budget=None if http is None else http.budget,
    )


def _summary(space: SchemaSpace) -> SchemaSummary:
    from redline.results import SchemaSummary

    s = space.schema
    names = s.names
    rel = []
    for t, terms, w, c in s.relations:
        parts = [
            f"{'' if abs(wi - 1) < 1e-12 else f'{wi:g} * '}{names[j]}"
            for j, wi in zip(terms, w, strict=True)
        ]
        rel.append(f"{names[t]} = " + " + ".join(parts) + (f" + {c:g}" if c else ""))
    return SchemaSummary(
        source=s.source,
        columns=s.n_features,
        immutable=[n for n, m in zip(names, s.mutable, strict=True) if not m],
        increase_only=[n for n, d in zip(names, s.direction, strict=True) if d > 0],
        decrease_only=[n for n, d in zip(names, s.direction, strict=True) if d < 0],
        budgets={n: float(b) for n, b in zip(names, s.budget, strict=True) if np.isfinite(b)},
        onehot_groups=[[names[m] for m in members] for members, _ in s.groups],
        relations=rel,
    )


def _example(space: SchemaSpace, ex: Example) -> TabularExample:
    from redline.results import FeatureChange, TabularExample

    rows = torch.as_tensor(np.asarray([ex.clean, ex.adversarial], dtype=np.float32))
    clean, adv = space.from_space(rows).double().numpy()
    changes = [
        FeatureChange(
            feature=n, clean=round(float(a), 6) + 0.0, adversarial=round(float(b), 6) + 0.0
        )
        for n, a, b in zip(space.schema.names, clean, adv, strict=True)
        if not np.isclose(a, b, rtol=1e-6, atol=1e-9)
    ]
    return TabularExample(
        index=ex.index, eps=ex.eps, attack=ex.attack, label=ex.label,
        clean_pred=ex.clean_pred, adv_pred=ex.adv_pred, changes=changes,
    )  # fmt: skip
