"""Optional rich progress bars for long scans (stderr, so stdout stays machine-readable)."""

from __future__ import annotations

from types import TracebackType

__all__ = ["Progress"]


class Progress:
    """One bar per scan; ``advance`` after each unit of work. Silent when disabled."""

    def __init__(self, enabled: bool, total: int, description: str) -> None:
        self._bar = None
        self._task = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task(description, total=total)

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, description: str | None = None) -> None:
        """Mark one unit done; optionally change the label (e.g. the current stage)."""
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=1, description=description)

    def add_total(self, extra: int) -> None:
        """Grow the total (the checks stage adds its own units)."""
        if self._bar is not None and self._task is not None:
            total = self._bar.tasks[0].total or 0
            self._bar.update(self._task, total=total + extra)
