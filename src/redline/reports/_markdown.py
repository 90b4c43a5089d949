"""A short Markdown summary of a scan for terminals and pull-request comments."""

from __future__ import annotations

from pathlib import Path

from redline.reports._format import (
    class_name,
    fmt_ci,
    fmt_eps,
    fmt_num,
    fmt_pct,
    fmt_value,
    norm_label,
    sorted_checks,
    status_counts,
    write_text,
)
from redline.reports._headline import headline
from redline.reports._shift import shift_markdown
from redline.reports._tabular import tabular_markdown
from redline.results import BackdoorSection, CertifiedSection, ScanResult

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


def _certified(section: CertifiedSection) -> list[str]:
    """The certified curve, labelled as a guarantee about the smoothed classifier."""
    lines = [
        f"**Certified robustness** (randomized smoothing, σ = {section.sigma:g}, n = "
        f"{section.n:,}, α = {section.alpha:g}): a guarantee about the smoothed classifier "
        "in L2, not comparable with the robust accuracies above. Abstained on "
        f"{fmt_pct(section.abstention_rate)}.",
        "",
        "| L2 radius | certified accuracy | 95% CI (Wilson) |",
        "|---:|---:|---:|",
    ]
    for p in section.curve:
        lines.append(
            f"| {fmt_eps(p.radius)} | {fmt_pct(p.accuracy.value)} | {fmt_ci(p.accuracy)} |"
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


def _classes(result: ScanResult, labels: list[int]) -> str:
    return ", ".join(f"**{_cell(class_name(result, c))}**" for c in labels) or "none"


def _detectors(result: ScanResult, section: BackdoorSection) -> list[str]:
    """One table row per training-data detector: flagged count, suspicious classes, AUROC."""
    if not section.data:
        return []
    lines = [
        "| data detector | layer | flagged | suspicious classes | AUROC | TPR @ 5% FPR |",
        "|---|---|---:|---|---:|---:|",
    ]
    for d in section.data:
        auroc = "—" if d.auroc is None else f"{d.auroc:.3f}"
        lines.append(
            f"| `{d.detector}` | {_cell(d.layer or '—')} | {d.flagged:,} of {d.n:,} | "
            f"{_classes(result, d.suspicious_classes)} | {auroc} | {fmt_pct(d.tpr_at_5_fpr)} |"
        )
    return lines


def _backdoor_facts(result: ScanResult, section: BackdoorSection) -> list[str]:
    """Model detector, STRIP, repair and ground truth as one bullet each."""
    lines = []
    if (m := section.model) is not None:
        top = max(m.anomaly_index, default=0.0)
        lines.append(
            f"- Model (`{m.detector}`): flagged {_classes(result, m.flagged_classes)}; "
            f"highest anomaly index {top:.2f}, threshold {fmt_num(m.threshold)}"
        )
    if (st := section.strip) is not None:
        auroc = "" if st.auroc is None else f", AUROC {st.auroc:.3f}"
        lines.append(
            f"- STRIP: entropy threshold {fmt_num(st.threshold)}, FRR {fmt_pct(st.frr)} "
            f"(measured {fmt_pct(st.clean_frr_measured)}), FAR {fmt_pct(st.far)}{auroc}"
        )
    if (rp := section.repair) is not None:
        der = "—" if rp.der is None else f"{rp.der:.3f}"
        lines.append(
            f"- Repair (`{rp.method}`): attack success {fmt_pct(rp.asr_before)} → "
            f"{fmt_pct(rp.asr_after)}, clean accuracy {fmt_pct(rp.accuracy_before)} → "
            f"{fmt_pct(rp.accuracy_after)}, DER **{der}**"
        )
    if (p := section.poison) is not None:
        target = "" if p.target_class is None else f", target {_classes(result, [p.target_class])}"
        lines.append(
            f"- Ground truth: `{p.attack}`, {fmt_pct(p.rate)} poisoned "
            f"({p.n_poisoned:,} samples){target}"
        )
    return lines


def _blind_spots(section: BackdoorSection) -> list[str]:
    """What the checks that ran are known to miss: what a clean verdict covers."""
    if not section.blind_spots:
        return []
    return ["Known blind spots (redline's backdoor family benchmark):"] + [
        f"- `{b.check}`: {b.misses}" for b in section.blind_spots
    ]


def _backdoor(result: ScanResult, section: BackdoorSection) -> str:
    """The backdoor verdict, then per-detector findings, STRIP, repair, ground truth and
    the checks' known blind spots."""
    parts = [
        [f"**Backdoor: {section.verdict.upper()}.** {section.summary}"],
        _detectors(result, section),
        _backdoor_facts(result, section),
        _blind_spots(section),
    ]
    return "\n\n".join("\n".join(lines) for lines in parts if lines)


def _title(result: ScanResult) -> str:
    """The heading and one line on what was run."""
    name = result.target.source or result.target.kind
    c = result.config
    what = f"{c.suite} suite, {norm_label(c.norm)}" if c.norm is not None else "backdoor checks"
    return (
        f"### redline scan: `{name}` on `{result.data.source}`\n\n"
        f"{what}, {result.data.n_samples} samples, seed {c.seed}, {result.cost.seconds:.1f} s"
    )


def render_markdown(result: ScanResult) -> str:
    """Headline sentence and table, backdoor verdict, policy and checks as GitHub-flavoured
    Markdown."""
    blocks = [_title(result)]
    if result.config.norm is not None and result.eps:
        blocks.append(headline(result))
    blocks.append("\n".join(_headline(result)))
    if result.certified is not None:
        blocks.append("\n".join(_certified(result.certified)))
    if result.tabular is not None:
        blocks.append("\n".join(tabular_markdown(result.tabular)))
    if result.natural_shift is not None:
        blocks.append("\n".join(shift_markdown(result.natural_shift)))
    if result.backdoor is not None:
        blocks.append(_backdoor(result, result.backdoor))
    blocks.append("\n".join(_policy(result)))
    if result.config.norm is not None:
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
