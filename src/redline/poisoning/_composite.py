"""A trigger made of several triggers applied in order (Adap-Patch's test-time trigger:
every patch at once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.errors import InputError
from redline.poisoning._types import Trigger

__all__ = ["CompositeTrigger"]

Array = npt.NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class CompositeTrigger:
    """Apply ``triggers`` one after the other; each sees the previous one's output."""

    triggers: Sequence[Trigger]

    def __post_init__(self) -> None:
        parts = tuple(self.triggers)
        if not parts:
            raise InputError("a composite trigger needs at least one trigger")
        bad = [type(t).__name__ for t in parts if not isinstance(t, Trigger)]
        if bad:
            raise InputError(f"a composite trigger takes triggers (callable + to_dict), got {bad}")
        object.__setattr__(self, "triggers", parts)

    def __call__(self, x: Array) -> Array:
        out = np.asarray(x, dtype=np.float32)
        for trigger in self.triggers:
            out = np.asarray(trigger(out), dtype=np.float32)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"kind": "composite", "triggers": [each trigger's to_dict()]}``."""
        return {"kind": "composite", "triggers": [t.to_dict() for t in self.triggers]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CompositeTrigger:
        """Rebuild from :meth:`to_dict` output (each part through ``trigger_from_dict``)."""
        from redline.poisoning._triggers import trigger_from_dict

        parts = d.get("triggers")
        if not isinstance(parts, list | tuple):
            raise InputError(f"a composite trigger needs a list of triggers, got {parts!r}")
        return cls(tuple(trigger_from_dict(part) for part in parts))
