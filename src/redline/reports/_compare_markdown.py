"""The comparison as GitHub-flavoured Markdown, fit for a pull-request comment: warnings
first, then the headline table, then the details folded away."""

from __future__ import annotations

import html

from redline.reports._compare import Comparison, lineage_line, summary_line
from redline.reports._compare_format import fmt_ci_pair, fmt_delta, fmt_side
from redline.reports._compare_parts import Change, CheckChange, PolicyChange, TrainingRow
from redline.reports._format import fmt_eps, fmt_value, norm_label, status_counts

__all__ = ["compare_markdown"]

_ALERTS = {"FAIL": "CAUTION", "WARN": "WARNING", "INFO": "NOTE"}
_VERDICT_MARKS = {"better": "✅ better", "worse": "🔻 worse", "unverified": "⚠️ unverified"}


def _md(text: object) -> str:
    """User text safe in Markdown and in a table cell: HTML-escaped, no pipes or breaks."""
    escaped = html.escape(str(text), quote=False)
    return " ".join(escaped.replace("|", "\\|").split())


def _code(text: object) -> str:
    """User text as inline code, safe in a table cell."""
    return "`" + " ".join(str(text).replace("`", "'").replace("|", "\\|").split()) + "`"


def _table(head: list[str], rows: list[list[str]], align: str) -> list[str]:
    """A GFM table; ``align`` has one letter per column: l(eft) or r(ight)."""
    rule = "|" + "".join("---:|" if x == "r" else "---|" for x in align)
    return ["| " + " | ".join(head) + " |", rule] + ["| " + " | ".join(r) + " |" for r in rows]


def _with_ci(change: Change, side: str) -> str:
    value = fmt_side(change, side)
    ci = fmt_ci_pair(change.ci_a if side == "a" else change.ci_b)
    return f"{value} <sub>{ci}</sub>" if ci else value


def _verdict(change: Change) -> str:
    return _VERDICT_MARKS.get(change.verdict, change.verdict)


def _row(label: str, change: Change) -> list[str]:
    cells = [_with_ci(change, "a"), _with_ci(change, "b"), fmt_delta(change), _verdict(change)]
    return [label, *cells]


def _checks_cell(c: Comparison, side: str) -> str:
    r = c.a if side == "a" else c.b
    counts = status_counts(r.checks)
    return " · ".join(f"{n} {s}" for s, n in counts.items() if n) or "none run"


def _headline(c: Comparison) -> list[str]:
    """Clean, robust at every shared eps (the headline in bold), ECE, checks, policy, time."""
    norm = norm_label(c.a.config.norm)
    rows = [_row("clean accuracy", c.clean)]
    for e in c.eps:
        label = f"robust {norm} ε = {fmt_eps(e.eps)}"
        rows.append(_row(f"**{label}**" if e is c.headline else label, e.robust))
    rows.append(_row("ECE (clean)", c.ece))
    regressed = len(c.regressions)
    mark = f"⚠️ {regressed} regressed" if regressed else ""
    rows.append(["sanity checks", _checks_cell(c, "a"), _checks_cell(c, "b"), "", mark])
    rows.append(["policy", c.policy.a, c.policy.b, "", ""])
    rows.append(_row("scan wall time", c.cost[0]))
    seconds = next((t for t in c.training if t.key == "seconds"), None)
    if seconds is not None:
        rows.append(["training wall time", *(_seconds(v) for v in (seconds.a, seconds.b)), "", ""])
    la, lb = c.labels
    return _table(["", f"{_code(la)}", f"{_code(lb)}", "change", "verdict"], rows, "lrrrl")


def _seconds(value: object) -> str:
    return f"{value:.1f} s" if isinstance(value, (int, float)) else "—"


def _context(c: Comparison) -> str:
    """Threat model, suites, data, and the lineage when the registry knows it."""
    a, b = c.a, c.b
    suites = (
        a.config.suite
        if a.config.suite == b.config.suite
        else (f"{a.config.suite} / {b.config.suite}")
    )
    data = f"{a.data.n_samples:,} samples of {_code(a.data.source)}"
    if a.data.sha256 != b.data.sha256:
        data = f"different data: {_code(a.data.source)} / {_code(b.data.source)}"
    parts = [f"{norm_label(a.config.norm)} threat model", f"{_md(suites)} suite", data]
    lineage = lineage_line(c)
    return " · ".join(parts) + (f" · {_md(lineage)}" if lineage else "")


def _details(summary: str, lines: list[str]) -> str:
    return "\n".join(["<details>", f"<summary>{summary}</summary>", "", *lines, "", "</details>"])


def _eps_table(c: Comparison) -> list[str]:
    rows = [
        [fmt_eps(e.eps), *_row("", e.robust)[1:], fmt_side(e.success, "a"),
         fmt_side(e.success, "b"), fmt_delta(e.success)]
        for e in c.eps
    ]  # fmt: skip
    head = ["ε", "robust A", "robust B", "change", "verdict", "attack success A", "B", "change"]
    lines = _table(head, rows, "lrrrlrrr")
    only = [(c.labels[i], e) for i, e in ((0, c.only_a), (1, c.only_b)) if e]
    for label, eps in only:
        lines += ["", f"ε only in {_code(label)}: {', '.join(fmt_eps(x) for x in eps)}"]
    return lines


def _certified_lines(c: Comparison) -> list[str]:
    sigmas = [f"σ = {r.certified.sigma:g}" if r.certified else "not certified" for r in (c.a, c.b)]
    lines = [
        f"Randomized smoothing ({sigmas[0]} → {sigmas[1]}): a guarantee about each smoothed "
        "classifier in L2, not comparable with the robust accuracies above.",
        "",
    ]
    rows = [[fmt_eps(x.radius), *_row("", x.accuracy)[1:]] for x in c.certified]
    return lines + _table(["L2 radius", "A", "B", "change", "verdict"], rows, "lrrrl")


def _check_row(x: CheckChange) -> list[str]:
    b = f"**{x.b}**" if x.regressed else (x.b or "—")
    note = "⚠️ regressed" if x.regressed else ("fixed" if x.fixed else "")
    return [f"{_code(x.id)} {_md(x.title)}", x.a or "—", b, note, _md(x.summary)]


def _policy_lines(p: PolicyChange) -> list[str]:
    def word(v: bool | None) -> str:
        return "—" if v is None else ("pass" if v else "**fail**")

    rows = [[_code(r.rule), word(r.a), word(r.b), _md(r.message)] for r in p.rules]
    head = f"Policy: {p.a} → {p.b}"
    return [head, "", *_table(["rule", "A", "B", "message"], rows, "llll")] if rows else [head]


def _cost_lines(c: Comparison, training: tuple[TrainingRow, ...]) -> list[str]:
    rows = [[x.label, fmt_side(x, "a"), fmt_side(x, "b"), fmt_delta(x)] for x in c.cost]
    lines = ["Scan cost", "", *_table(["", "A", "B", "change"], rows, "lrrr")]
    if training:
        rows = [[_md(t.label), _fact(t.a), _fact(t.b)] for t in training]
        lines += ["", "Training cost (registry)", "", *_table(["", "A", "B"], rows, "lrr")]
    return lines


def _fact(value: object) -> str:
    return "—" if value is None else _md(fmt_value(value))


def _sections(c: Comparison) -> list[str]:
    """The folded details: every eps, per class, checks, policy, cost."""
    out = [_details("Robust accuracy and attack success at every ε", _eps_table(c))]
    if c.certified:
        out.append(_details("Certified accuracy (randomized smoothing)", _certified_lines(c)))
    if c.per_class and c.headline is not None:
        rows = [_row(_md(x.label), x) for x in c.per_class]
        table = _table(["class", "A", "B", "change", "verdict"], rows, "lrrrl")
        out.append(_details(f"Robust accuracy per class at ε = {fmt_eps(c.headline.eps)}", table))
    if c.checks:
        rows = [_check_row(x) for x in c.checks]
        table = _table(["check", "A", "B", "", "summary (B)"], rows, "lllll")
        out.append(_details("Sanity checks", table))
    out.append(_details("Policy", _policy_lines(c.policy)))
    out.append(_details("Cost", _cost_lines(c, c.training)))
    return out


def _footer(c: Comparison) -> str:
    def sha(value: str | None) -> str:
        return _code(value[:12]) if value else "n/a"

    (la, lb), a, b = c.labels, c.a, c.b
    return (
        f"<sub>A = {_code(la)}, B = {_code(lb)} · model sha256 {sha(a.target.sha256)} / "
        f"{sha(b.target.sha256)} · data sha256 {sha(a.data.sha256)} / {sha(b.data.sha256)} · "
        f"redline {_md(a.environment.redline)} / {_md(b.environment.redline)}</sub>"
    )


def compare_markdown(c: Comparison, *, headline_only: bool = False) -> str:
    """Warnings, the summary sentence and the headline table; then (unless
    ``headline_only``, the terminal's view) every section folded in ``<details>``."""
    la, lb = c.labels
    blocks = [f"### redline compare: {_code(la)} → {_code(lb)}", _context(c)]
    blocks += [f"> [!{_ALERTS[n.level]}]\n> **{_md(n.title)}** {_md(n.text)}" for n in c.notices]
    blocks += [_md(summary_line(c)), "\n".join(_headline(c))]
    if not headline_only:
        blocks += [*_sections(c), _footer(c)]
    return "\n\n".join(blocks) + "\n"
