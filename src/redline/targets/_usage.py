"""Work counters: how many samples went forward and backward through a target."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Usage"]


@dataclass
class Usage:
    """Running totals kept by a target; attacks report the difference over their run.

    Counts are per sample (a batch of 32 through the model is 32 forward passes),
    so work saved by early exit and batch compaction shows up in the numbers.
    """

    forward: int = 0
    backward: int = 0
    calls: int = 0

    def snapshot(self) -> Usage:
        """A frozen copy, to subtract from later."""
        return Usage(self.forward, self.backward, self.calls)

    def since(self, start: Usage) -> Usage:
        """The work done after ``start`` was taken."""
        return Usage(
            self.forward - start.forward,
            self.backward - start.backward,
            self.calls - start.calls,
        )
