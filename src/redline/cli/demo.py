"""``redline demo``: train a small CNN on the bundled digits, scan it, write a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["demo"]


def demo(
    out: Annotated[Path, typer.Option(help="Report folder to write.")] = Path("redline-report"),
    quick: Annotated[bool, typer.Option(help="Quick suite and fewer samples (smoke run).")] = False,
    seed: Annotated[int, typer.Option(help="Seed for training and attacks.")] = 0,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> int:
    """Train a small CNN on scikit-learn's 8x8 digits, red-team it, write the report folder."""
    from redline.cli._common import print_summary
    from redline.cli._demo import demo_notes, run_demo

    result = run_demo(out, quick=quick, seed=seed, progress=progress)
    print_summary(result, str(out))
    typer.echo("\n" + "\n".join(demo_notes(result, out)), err=True)
    return 0
