"""A short Markdown summary of a scan for terminals and pull-request comments."""

from __future__ import annotations

from pathlib import Path

from redline.evaluation._result import ScanResult
from redline.reports._format import (
    fmt_ci,
    fmt_eps,
    fmt_pct,
    fmt_value,
    norm_label,
    sorted_checks,
    status_counts,
    write_text,
)

__all__ = ["render_markdown", "write_markdown"]


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (no pipes or line breaks)."""
    return text.replace("|", "\\|").replace("\n", " ")


def _headline(result: ScanResult) -> list[str]:
    """The accuracy table: clean, then robust at every eps, with Wilson intervals."""
    clean = result.clean.accuracy
    lines = [
        "| | accuracy | 95% CI (Wilson) | attack success | n |",
        "|---|---:|---:|---:|---:|",
        f"| clean | {fmt_pct(clean.value)} | {fmt_ci(clean)} | — | {clean.n} |",
    ]
    norm = norm_label(result.config.norm)
    for r in result.eps:
        lines.append(
            f"| {norm} ε = {fmt_eps(r.eps)} | **{fmt_pct(r.robust.value)}** | "
            f"{fmt_ci(r.robust)} | {fmt_pct(r.attack_success_rate)} | {r.robust.n} |"
        )
    return lines


def _checks(result: ScanResult) -> list[str]:
    """Checks as a table, FAIL and WARN first, with the fix for the ones that need one."""
    if not result.checks:
        return ["No sanity checks were run."]
    counts = status_counts(result.checks)
    tally = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    lines = [f"**Sanity checks:** {tally}", "", "| status | check | summary |", "|---|---|---|"]
    for c in sorted_checks(result.checks):
        summary = c.summary + (f" *Fix:* {c.fix}" if c.fix and c.status in ("FAIL", "WARN") else "")
        lines.append(f"| {c.status} | `{c.id}` {_cell(c.title)} | {_cell(summary)} |")
    return lines


def _policy(result: ScanResult) -> list[str]:
    """The policy verdict and every failed rule."""
    policy = result.policy
    if policy is None:
        return ["**Policy:** none given."]
    failed = [f for f in policy.findings if not f.passed]
    verdict = "PASS" if policy.passed else "FAIL"
    source = f" ({policy.source})" if policy.source else ""
    lines = [f"**Policy{source}:** {verdict}, {len(failed)} of {len(policy.findings)} rules failed"]
    for f in failed:
        actual = f" (actual {fmt_value(f.actual)}, threshold {fmt_value(f.threshold)})"
        lines.append(f"- `{f.rule}`: {f.message}{actual}")
    return lines


def render_markdown(result: ScanResult) -> str:
    """Headline table, checks and policy verdict as GitHub-flavoured Markdown."""
    name = result.target.source or result.target.kind
    title = (
        f"### redline scan: `{name}` on `{result.data.source}`\n\n"
        f"{result.config.suite} suite, {norm_label(result.config.norm)}, "
        f"{result.data.n_samples} samples, seed {result.config.seed}, "
        f"{result.cost.seconds:.1f} s"
    )
    blocks = [title, "\n".join(_headline(result)), "\n".join(_policy(result))]
    blocks.append("\n".join(_checks(result)))
    sha = result.target.sha256
    blocks.append(
        f"<sub>model sha256 `{sha[:16] if sha else 'n/a'}` · data sha256 "
        f"`{result.data.sha256[:16]}` · redline {result.environment.redline}</sub>"
    )
    return "\n\n".join(blocks) + "\n"


def write_markdown(result: ScanResult, path: Path) -> None:
    """Write the Markdown summary to ``path`` (folders created as needed)."""
    write_text(Path(path), render_markdown(result))
