"""The rich rendering of :class:`~redline.evaluation._progress.Progress` (imported lazily)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Column

from redline.evaluation._progress import View

__all__ = ["RichBar"]


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class RichBar(RichProgress):
    """A one-task rich progress bar that copies ``source()`` into its task on every redraw.

    The time left is the view's own (rich's estimate restarts whenever the total changes,
    and a scan corrects its total as it learns how many samples are left).
    """

    def __init__(self, source: Callable[[], View]) -> None:
        self._source = source
        self._task: TaskID | None = None  # rich draws once while it is being built
        super().__init__(
            TextColumn("[bold]{task.description}", table_column=Column(width=42, no_wrap=True)),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("left {task.fields[left]}"),
            console=Console(stderr=True),
            refresh_per_second=4,
            transient=False,
        )
        self._task = self.add_task("scan", total=None, left=_clock(None))

    def get_renderables(self) -> Iterable[RenderableType]:
        """Pull the view, then draw it (called by rich's refresh thread)."""
        if self._task is None:
            return
        view = self._source()
        self.update(
            self._task,
            description=view.label,
            completed=view.completed,
            total=view.total or None,
            left=_clock(view.remaining),
        )
        yield from super().get_renderables()
