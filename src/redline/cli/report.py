"""``redline report`` (re-render / re-judge a saved scan) and ``redline attacks`` (list)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer

__all__ = ["attacks", "report"]


def report(
    scan_json: Annotated[Path, typer.Argument(help="A scan.json written by redline scan.")],
    out: Annotated[Path, typer.Option(help="Report folder to write.")] = Path("redline-report"),
    policy: Annotated[Path | None, typer.Option(help="Policy to apply (redline.toml).")] = None,
) -> int:
    """Rebuild the HTML/JUnit/SARIF reports from a scan.json, optionally under a new policy."""
    from redline.cli._common import print_summary
    from redline.cli._run import judge_and_write
    from redline.evaluation import ScanResult
    from redline.policy import load_policy
    from redline.reports._bundle import check_output_dir

    result = ScanResult.from_json(scan_json)
    rules = load_policy(policy) if policy is not None else None
    check_output_dir(out)
    result = judge_and_write(result, rules, out)
    print_summary(result, str(out))
    return 1 if result.policy is not None and not result.policy.passed else 0


def attacks() -> None:
    """List the attacks and suites redline knows."""
    from rich.console import Console
    from rich.table import Table

    from redline.attacks import Attack
    from redline.attacks._registry import ATTACKS
    from redline.evaluation import SUITES

    console = Console()
    table = Table(title="attacks")
    for col in ("name", "norms", "access", "kind"):
        table.add_column(col)
    for name, factory in ATTACKS.items():
        cls = cast("type[Attack]", getattr(factory, "func", factory))
        table.add_row(
            name,
            ", ".join(cls.norms),
            "white-box" if cls.needs_gradients else "black-box",
            "minimum-norm" if cls.minimum_norm else "fixed eps",
        )
    console.print(table)
    for suite in SUITES.values():
        console.print(f"[bold]{suite.name}[/]: {suite.description}")
