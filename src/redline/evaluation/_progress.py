"""A scan's progress in model passes, on stderr (so stdout stays machine-readable).

The bar's total is the work the scan expects, in weighted passes (see ``_budget``), known
before the first stage starts and corrected as stages reveal how many samples are left.
A running stage advances by the passes it really spends (read from the target's counters
when the bar redraws, a few times a second: nothing on the hot path); when it ends, the
budget its early-breaking samples left unspent is added at once. The time left is the
work left at the rate seen so far.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from types import TracebackType
from typing import NamedTuple, Protocol

__all__ = ["Display", "Progress", "Stage", "View", "make_display"]


class View(NamedTuple):
    """What the bar shows: the running stage's label, work done and expected, seconds."""

    label: str
    completed: int
    total: int
    elapsed: float
    remaining: float | None


class Stage(NamedTuple):
    """A finished stage: its budget, the work it really spent, and its wall time."""

    label: str
    budget: int
    spent: int
    seconds: float


class Display(Protocol):
    """Something that shows a :class:`View`; it pulls the view itself."""

    def start(self) -> None:
        """Start showing."""

    def stop(self) -> None:
        """Show the last view and stop."""


def make_display(source: Callable[[], View]) -> Display:
    """The rich bar on stderr, redrawn from ``source()`` four times a second."""
    from redline.evaluation._progress_rich import RichBar

    return RichBar(source)


class Progress:
    """One bar per scan, measured in weighted model passes; silent and free when disabled.

    ``plan(key, work)`` sets or corrects the expected work of a stage not started yet;
    ``start(label, key, budget)`` ends the running stage and starts the next one, whose
    budget replaces what was planned under ``key``. ``meter()`` is the work done so far;
    ``history`` lists the finished stages.
    """

    def __init__(
        self,
        enabled: bool,
        description: str,
        meter: Callable[[], int] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self._description = description
        self._meter = meter or (lambda: 0)
        self._clock = clock
        self._lock = threading.Lock()
        self._label = description
        self._planned: dict[Hashable, int] = {}
        self._pending = 0  # sum of _planned
        self._done = 0  # finished stages, their unspent budgets included
        self._budget = 0  # the running stage's budget
        self._mark: int | None = None  # meter at the running stage's start; None: no stage
        self._t0 = self._since = clock()
        self.history: list[Stage] = []
        self._display = make_display(self.view) if enabled else None

    def __enter__(self) -> Progress:
        self._t0 = self._clock()
        if self._display is not None:
            self._display.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.enabled:
            self.finish()
        if self._display is not None:
            self._display.stop()

    def plan(self, key: Hashable, work: int) -> None:
        """Set or correct the expected work of a stage that has not started (0 drops it)."""
        if not self.enabled:
            return
        with self._lock:
            work = max(0, int(work))
            self._pending += work - self._planned.pop(key, 0)
            if work:
                self._planned[key] = work

    def start(self, label: str, key: Hashable | None = None, budget: int | None = None) -> None:
        """End the running stage and start ``label``; ``budget`` defaults to the plan's."""
        if not self.enabled:
            return
        with self._lock:
            self._end()
            planned = self._planned.pop(key, 0) if key is not None else 0
            self._pending -= planned
            self._label = label
            self._budget = planned if budget is None else max(0, int(budget))
            self._mark, self._since = self._meter(), self._clock()

    def end(self) -> None:
        """End the running stage: the work it left unspent counts as done."""
        if self.enabled:
            with self._lock:
                self._end()

    def finish(self) -> None:
        """End the running stage; stages planned but never started count as skipped."""
        with self._lock:
            self._end()
            self._done += self._pending
            self._planned.clear()
            self._pending = 0
            self._label = f"{self._description}: done"

    def _end(self) -> None:
        if self._mark is not None:
            spent, seconds = self._meter() - self._mark, self._clock() - self._since
            self.history.append(Stage(self._label, self._budget, spent, seconds))
            self._done += max(self._budget, spent)
            self._mark, self._budget = None, 0

    def view(self) -> View:
        """The bar now; the time left is the work left at the average rate so far."""
        with self._lock:
            spent = 0 if self._mark is None else min(self._budget, self._meter() - self._mark)
            completed = self._done + max(0, spent)
            total = self._done + self._budget + self._pending
            label = self._label
        elapsed = max(0.0, self._clock() - self._t0)
        remaining = (total - completed) * elapsed / completed if completed and elapsed else None
        return View(label, completed, total, elapsed, remaining)
