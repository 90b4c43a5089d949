"""The model under test, seen from an attack: a batch in input space in, logits out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from redline.errors import InputError
from redline.targets._usage import Usage

__all__ = ["LossFn", "Target"]

LossFn = Callable[[torch.Tensor], torch.Tensor]
"""Maps a batch of logits to one loss value per sample (higher = more adversarial)."""


class Target(ABC):
    """A classifier under test. Attacks work in input space; the target owns the rest.

    Subclasses implement :meth:`_forward`; white-box targets also allow gradients.
    Every call is counted in :attr:`usage`.
    """

    def __init__(self, *, bounds: tuple[float, float]) -> None:
        lo, hi = float(bounds[0]), float(bounds[1])
        if not lo < hi:
            raise InputError(f"bounds must satisfy low < high, got {bounds}")
        self.bounds = (lo, hi)
        self.usage = Usage()

    @property
    @abstractmethod
    def device(self) -> torch.device:
        """Where inputs must live."""

    @property
    def differentiable(self) -> bool:
        """Whether :meth:`logits_and_grad` works (white-box access)."""
        return False

    @property
    def label_only(self) -> bool:
        """Whether the model answers with labels only (its logits are one-hot rows):
        score-based attacks refuse such a target, decision-based ones run."""
        return False

    @property
    def judges_threat(self) -> bool:
        """True when :meth:`valid` alone decides whether an example respects the threat
        (a feature schema: eps scales its budgets, and kinds and relations replace the
        eps ball); False for plain targets, where the eps ball and the bounds decide."""
        return False

    def constrain(
        self, x0: torch.Tensor, x: torch.Tensor, eps: float | None = None
    ) -> torch.Tensor:
        """Map candidates ``x`` (changes of the clean ``x0`` at threat size ``eps``) to
        inputs the model can really receive. Identity here; a tabular target under a
        feature schema makes every candidate valid. Attacks call it after each projection
        onto their ball."""
        return x

    def valid(self, x0: torch.Tensor, x: torch.Tensor, eps: float | None = None) -> torch.Tensor:
        """Per sample, whether ``x`` is an allowed change of ``x0`` under the target's own
        rules at threat size ``eps`` (see :attr:`judges_threat`); all True here."""
        return torch.ones(len(x), dtype=torch.bool, device=x.device)

    @abstractmethod
    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for ``x`` (input space); may build a graph when grad is enabled."""

    @contextmanager
    def session(self) -> Iterator[None]:
        """Put the model in the state attacks need (eval mode) and restore it after."""
        yield

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits without gradients; counted as ``len(x)`` forward passes."""
        with torch.no_grad():
            out = self._forward(x)
        self._count(len(x), 0)
        return out.detach()

    def logits_and_grad(
        self, x: torch.Tensor, loss_fn: LossFn
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(logits, loss, grad)`` with the gradient of the summed loss wrt ``x`` only."""
        raise InputError(f"{type(self).__name__} is black-box: it gives no gradients")

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted labels."""
        return self.logits(x).argmax(dim=1)

    def _count(self, forward: int, backward: int) -> None:
        self.usage.forward += forward
        self.usage.backward += backward
        self.usage.calls += 1
