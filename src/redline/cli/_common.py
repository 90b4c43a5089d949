"""Parsing and printing helpers shared by the commands (no heavy imports here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redline.errors import InputError

if TYPE_CHECKING:
    from pathlib import Path

    from redline.defenses import RepairResult
    from redline.results import BackdoorSection, ScanResult

__all__ = ["parse_floats", "print_backdoor", "print_repair", "print_summary"]


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
    if (cert := result.certified) is not None:
        at = min(cert.curve, key=lambda p: abs(p.radius - cert.sigma))
        console.print(
            f"certified (guarantee for the smoothed model, L2, sigma {cert.sigma:g}): "
            f"{at.accuracy.value:.1%} at radius {at.radius:.4g}, abstained "
            f"{cert.abstention_rate:.1%}; not an empirical robust accuracy",
            soft_wrap=True,
        )
    if (ns := result.natural_shift) is not None:
        what = "corruptions" if ns.kind == "image" else "natural shift"
        worst = min(ns.rows, key=lambda row: row.mean, default=None)
        tail = "" if worst is None else f"; worst {worst.name} {worst.mean:.1%}"
        console.print(
            f"{what}: mean accuracy {ns.mean_accuracy.value:.1%} "
            f"(clean {ns.clean.value:.1%}, drop {100 * ns.drop:.1f} pts{tail})",
            soft_wrap=True,
        )
    if result.backdoor is not None:
        _backdoor_lines(console, result.backdoor)
    colours = {"PASS": "green", "WARN": "yellow", "FAIL": "red", "SKIP": "dim"}
    for c in result.checks:
        console.print(
            f"  [{colours[c.status]}]{c.status:4}[/] {escape(c.title)}: {escape(c.summary)}"
        )
    _policy_lines(console, result)
    console.print(f"report written to [bold]{escape(out)}[/] ({', '.join(_written(out))})")


def _written(out: str) -> list[str]:
    """The files of the report folder: the report's own in their usual order, then the rest."""
    from pathlib import Path

    from redline.reports._bundle import REPORT_FILES

    folder = Path(out)
    found = folder.iterdir() if folder.is_dir() else iter(())
    names = sorted(p.name for p in found if not p.name.startswith("."))
    return [n for n in REPORT_FILES if n in names] + [n for n in names if n not in REPORT_FILES]


def _policy_lines(console: Any, result: ScanResult) -> None:
    """The policy verdict and each failed rule (nothing without a policy)."""
    from rich.markup import escape

    if result.policy is None:
        return
    verdict = "[green]PASS[/]" if result.policy.passed else "[red]FAIL[/]"
    console.print(f"policy {escape(str(result.policy.source))}: {verdict}")
    for f in result.policy.findings:
        if not f.passed:
            console.print(f"  [red]✗[/] {escape(f.rule)}: {escape(f.message)}")


_VERDICT_COLOURS = {"clean": "green", "suspicious": "yellow", "trojaned": "red"}


def _backdoor_lines(console: Any, section: BackdoorSection) -> None:
    from rich.markup import escape

    colour = _VERDICT_COLOURS[section.verdict]
    console.print(f"backdoor: [{colour}]{section.verdict.upper()}[/] — {escape(section.summary)}")
    if section.poison is not None:
        p = section.poison
        asr = "" if p.asr is None else f", attack success {p.asr:.1%}"
        console.print(f"  ground truth: {p.attack} at {p.rate:g}, {p.n_poisoned} samples{asr}")
    for d in section.data:
        auc = "" if d.auroc is None else f", AUROC {d.auroc:.3f}, TPR@5%FPR {d.tpr_at_5_fpr:.3f}"
        console.print(
            f"  {d.detector:10} layer {d.layer}: {d.flagged} flagged, suspicious classes "
            f"{d.suspicious_classes or 'none'}{auc}; most suspicious rows {d.top[:8]}"
        )
    if section.strip is not None:
        s = section.strip
        far = "" if s.far is None else f", FAR {s.far:.1%} of {s.hijacked} hijacked inputs"
        far += "" if s.auroc is None else f", AUROC {s.auroc:.3f}"
        console.print(
            f"  STRIP: threshold {s.threshold:.3f} (FRR asked {s.frr:.1%}, measured "
            f"{s.clean_frr_measured:.1%}{far})"
        )
    if section.repair is not None:
        r = section.repair
        line = _repair_line(
            r.method, (r.asr_before, r.asr_after), (r.accuracy_before, r.accuracy_after), r.der
        )
        console.print(f"  repair: {escape(line)}")


def _repair_line(
    method: str,
    asr: tuple[float | None, float | None],
    acc: tuple[float | None, float | None],
    der: float | None,
) -> str:
    parts = [method + ":"]
    if asr[0] is not None and asr[1] is not None:
        parts.append(f"ASR {asr[0]:.1%} -> {asr[1]:.1%},")
    if acc[0] is not None and acc[1] is not None:
        parts.append(f"clean accuracy {acc[0]:.1%} -> {acc[1]:.1%}")
    if der is not None:
        parts.append(f"(DER {der:.3f})")
    return " ".join(parts)


def print_backdoor(result: ScanResult, out: str) -> None:
    """The backdoor verdict, per-detector lines and the policy, on stderr."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True)
    if (ns := result.natural_shift) is not None:
        what = "corruptions" if ns.kind == "image" else "natural shift"
        worst = min(ns.rows, key=lambda row: row.mean, default=None)
        tail = "" if worst is None else f"; worst {worst.name} {worst.mean:.1%}"
        console.print(
            f"{what}: mean accuracy {ns.mean_accuracy.value:.1%} "
            f"(clean {ns.clean.value:.1%}, drop {100 * ns.drop:.1f} pts{tail})",
            soft_wrap=True,
        )
    if result.backdoor is not None:
        _backdoor_lines(console, result.backdoor)
    _policy_lines(console, result)
    console.print(f"report written to [bold]{escape(out)}[/]")


def print_repair(result: RepairResult, out: Path) -> None:
    """Before/after of a repair and where the weights went, on stderr."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True)
    r = result
    line = _repair_line(r.method, (r.asr_before, r.asr_after), (r.acc_before, r.acc_after), r.der)
    console.print(f"{escape(line)} on {escape(r.evaluated_on)}")
    console.print(f"repaired weights written to [bold]{escape(str(out))}[/]")
