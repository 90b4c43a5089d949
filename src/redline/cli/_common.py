"""Parsing and printing helpers shared by the commands (no heavy imports here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from redline.errors import InputError

if TYPE_CHECKING:
    from redline.evaluation import ScanResult

__all__ = ["parse_floats", "print_summary"]


def parse_floats(text: str | None, name: str, count: int | None = None) -> list[float] | None:
    """``"0.5,0.5,0.5"`` -> floats; None stays None. Wrong count or junk is an input error."""
    if text is None:
        return None
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"--{name} {text!r}: expected comma-separated numbers") from None
    if not values or (count is not None and len(values) != count):
        want = f"{count} numbers" if count else "at least one number"
        raise InputError(f"--{name} {text!r}: expected {want}")
    return values


def print_summary(result: ScanResult, out: str) -> None:
    """A compact table of the headline numbers, checks and policy, on stderr."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(stderr=True)
    acc = result.clean.accuracy
    table = Table(title=f"redline scan — {result.config.norm}, suite {result.config.suite}")
    for col in ("eps", "robust accuracy", "95% CI", "attack success"):
        table.add_column(col, justify="right")
    table.add_row("clean", f"{acc.value:.1%}", f"{acc.ci.low:.1%}–{acc.ci.high:.1%}", "")
    for r in result.eps:
        table.add_row(
            f"{r.eps:.4g}",
            f"{r.robust.value:.1%}",
            f"{r.robust.ci.low:.1%}–{r.robust.ci.high:.1%}",
            f"{r.attack_success_rate:.1%}",
        )
    console.print(table)
    colours = {"PASS": "green", "WARN": "yellow", "FAIL": "red", "SKIP": "dim"}
    for c in result.checks:
        console.print(
            f"  [{colours[c.status]}]{c.status:4}[/] {escape(c.title)}: {escape(c.summary)}"
        )
    if result.policy is not None:
        verdict = "[green]PASS[/]" if result.policy.passed else "[red]FAIL[/]"
        console.print(f"policy {escape(str(result.policy.source))}: {verdict}")
        for f in result.policy.findings:
            if not f.passed:
                console.print(f"  [red]✗[/] {escape(f.rule)}: {escape(f.message)}")
    console.print(
        f"report written to [bold]{out}[/] (report.html, scan.json, junit.xml, results.sarif)"
    )
