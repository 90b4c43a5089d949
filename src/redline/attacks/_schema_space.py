"""The attack space of a tabular model under a feature schema.

Features live in their own units (income in dollars, age in years), so one eps cannot
serve them all. :class:`SchemaSpace` rescales each feature by its schema budget: an L-inf
ball of radius 1 around a sample is then exactly the schema's budget box, and every
existing attack (PGD, APGD, Square, HopSkipJump) runs there unchanged. Its
:meth:`constrain` maps candidates back through the schema's projection, so every point
an attack proposes is one a real applicant could submit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

import numpy as np
import torch

from redline.datasets import BoundSchema
from redline.errors import InputError
from redline.targets import LossFn, Target, TreeEnsemble

__all__ = ["SchemaSpace"]


class SchemaSpace(Target):
    """``inner`` seen through ``schema``: inputs are ``x / scale`` (see the module doc).

    Use :meth:`to_space` / :meth:`from_space` to move data in and out. An attack's eps
    (L-inf) is the fraction of every continuous and integer budget it may spend: 1 is
    the schema's budgets. Binary, categorical and one-hot changes are allowed at every
    eps (a flip is the smallest change such a feature has) unless the column is
    immutable; derived columns follow their relation.
    """

    def __init__(self, inner: Target, schema: BoundSchema) -> None:
        super().__init__(bounds=(-float("inf"), float("inf")))
        self.inner = inner
        self.schema = schema
        self.scale = torch.as_tensor(schema.scale(), dtype=torch.float32, device=inner.device)

    @property
    def device(self) -> torch.device:
        return self.inner.device

    @property
    def differentiable(self) -> bool:
        return self.inner.differentiable

    @property
    def label_only(self) -> bool:
        return self.inner.label_only

    @contextmanager
    def session(self) -> Iterator[None]:
        with self.inner.session():
            yield

    def to_space(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Data in feature units -> attack space."""
        t = torch.as_tensor(x, dtype=torch.float32, device=self.device)
        self._check(t)
        return t / self.scale

    def from_space(self, z: torch.Tensor) -> torch.Tensor:
        """Attack space -> feature units."""
        self._check(z)
        return z * self.scale

    @property
    def judges_threat(self) -> bool:
        return True

    @cached_property
    def ensemble(self) -> TreeEnsemble | None:
        """The inner tree ensemble with its thresholds in this space (None if not trees),
        so the tree attacks search the schema's space; the verdict is still the inner
        model's own, on the mapped-back point."""
        inner = getattr(self.inner, "ensemble", None)
        if not isinstance(inner, TreeEnsemble):
            return None
        scale = self.scale.double().cpu().numpy()
        split = inner.feature >= 0
        threshold = inner.threshold.copy()
        threshold[split] = inner.threshold[split] / scale[inner.feature[split]]
        return dataclasses.replace(inner, threshold=threshold, float32_inputs=False)

    def tree_limits(self) -> dict[str, np.ndarray]:
        """Bounds, immutables and directions in this space, for the tree attacks."""
        s = self.schema
        # the bounds moved into this space exactly as to_space moves the data (float32),
        # so a sample at a bound never lands a rounding outside it
        low = (
            self.to_space(np.where(np.isfinite(s.low), s.low, 0.0)[None])[0].double().cpu().numpy()
        )
        high = (
            self.to_space(np.where(np.isfinite(s.high), s.high, 0.0)[None])[0]
            .double()
            .cpu()
            .numpy()
        )
        return {
            "lower": np.where(np.isfinite(s.low), low, -np.inf),
            "upper": np.where(np.isfinite(s.high), high, np.inf),
            "immutable": ~s.mutable,
            "direction": s.direction.astype(np.float64),
        }

    def constrain(
        self, x0: torch.Tensor, x: torch.Tensor, eps: float | None = None
    ) -> torch.Tensor:
        """The schema's projection with every budget scaled by ``eps`` (None: 1)."""
        scale = 1.0 if eps is None else float(eps)
        fixed = self.schema.project(self.from_space(x0), self.from_space(x), scale=scale)
        return self.to_space(fixed)

    def valid(self, x0: torch.Tensor, x: torch.Tensor, eps: float | None = None) -> torch.Tensor:
        counts = self.schema.violations(
            self.from_space(x0).cpu().numpy(),
            self.from_space(x).cpu().numpy(),
            scale=1.0 if eps is None else float(eps),
        )
        return torch.as_tensor(counts == 0, device=x.device)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner.logits(self.from_space(x))

    def logits_and_grad(
        self, x: torch.Tensor, loss_fn: LossFn
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, loss, grad = self.inner.logits_and_grad(self.from_space(x), loss_fn)
        self._count(len(x), len(x))
        return logits, loss, grad * self.scale

    def _check(self, t: torch.Tensor) -> None:
        if t.dim() != 2 or t.shape[1] != self.schema.n_features:
            raise InputError(
                f"expected rows of {self.schema.n_features} features, got shape {tuple(t.shape)}"
            )
