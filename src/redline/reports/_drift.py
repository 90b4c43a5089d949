"""The drift report: ``drift.json`` (the source of truth), a self-contained HTML page
with the alarms first and a chart per feature that matters, and ``summary.md``; the
folder is written atomically like a scan's."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from redline._atomic import umask
from redline.errors import InputError
from redline.reports._svg import COLORS, figure, plain
from redline.results import DriftFinding, DriftResult

__all__ = [
    "DRIFT_FILES",
    "check_drift_dir",
    "render_drift_html",
    "render_drift_markdown",
    "write_drift_dir",
]

DRIFT_FILES = ("drift.json", "report.html", "summary.md")
CHARTS = 12
"""Features drawn: the alarms first, then the most significant."""
_EFFECT_UNITS = {
    "wasserstein": "σ (W1)",
    "tvd": "total variation",
    "missing-share": "share",
    "auc": "AUC − 0.5",
    "mmd2": "MMD²",
}


@dataclass(frozen=True)
class FindingView:
    """A finding as the page shows it."""

    f: DriftFinding
    effect: str
    ci: str
    threshold: str
    chart: Markup | None


def _num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if value != 0 and abs(value) < 10 ** (-digits):
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def _view(f: DriftFinding, chart: Markup | None) -> FindingView:
    e = f.effect
    if e is None:
        return FindingView(f, "—", "", "", chart)
    ci = "" if e.ci is None else f"[{_num(e.ci.low)}, {_num(e.ci.high)}]"
    return FindingView(f, _num(e.value), ci, _num(e.threshold), chart)


def _chart(f: DriftFinding, name: str) -> Markup | None:
    d = f.distribution
    if d is None:
        return None
    with figure(name, f"{f.key}: reference vs current", 3.3, 1.9) as chart:
        ax = chart.axes[0]
        if d.quantiles:
            levels = [i / (len(d.quantiles) - 1) for i in range(len(d.quantiles))]
            ax.plot(d.reference_quantiles, levels, color=COLORS["clean"], label="reference")
            ax.plot(d.quantiles, levels, color=COLORS["accent"], label="current")
            ax.set_ylabel("CDF")
        else:
            xs = list(range(len(d.categories)))
            ax.bar(
                [x - 0.2 for x in xs],
                d.reference_shares,
                0.4,
                color=COLORS["clean"],
                label="reference",
            )
            ax.bar([x + 0.2 for x in xs], d.shares, 0.4, color=COLORS["accent"], label="current")
            ax.set_xticks(
                xs, [plain(c[:10]) for c in d.categories], rotation=45 if len(xs) > 5 else 0
            )
            ax.set_ylabel("share")
        ax.set_title(plain(f.key[:40]))
        ax.legend(loc="best")
    return Markup(chart.svg)


def _ordered(result: DriftResult) -> list[DriftFinding]:
    rank = {"drift": 0, "significant": 1, "stable": 2, "not-tested": 3}
    return sorted(
        result.findings,
        key=lambda f: (rank[f.status], f.q_value if f.q_value is not None else 2.0, f.key),
    )


def _context(result: DriftResult) -> dict[str, object]:
    ordered = _ordered(result)
    charted = {id(f) for f in ordered[:CHARTS] if f.distribution is not None}
    views = [
        _view(f, _chart(f, f"drift-{i}") if id(f) in charted else None)
        for i, f in enumerate(ordered)
    ]
    counts = {
        s: sum(f.status == s for f in result.findings)
        for s in ("drift", "significant", "stable", "not-tested")
    }
    return {
        "r": result,
        "views": views,
        "alarms": [v for v in views if v.f.alarm],
        "charts": [v for v in views if v.chart is not None],
        "counts": counts,
        "units": _EFFECT_UNITS,
        "tested": _tested(result),
    }


def render_drift_html(result: DriftResult) -> str:
    """The drift page as one self-contained HTML string."""
    from redline.reports._html import jinja_environment

    env = jinja_environment(num=_num)
    return env.get_template("drift.html.j2").render(**_context(result))


def _tested(result: DriftResult) -> int:
    return sum(f.p_value is not None for f in result.findings)


def render_drift_markdown(result: DriftResult) -> str:
    """Alarms first, then the counts and the rules, as GitHub-flavoured Markdown."""
    s = result.settings
    lines = [
        f"### redline drift: `{result.current.source}` vs `{result.reference.source}`",
        "",
        f"{result.current.n_rows:,} rows against {result.reference.n_rows:,}; "
        f"{len(result.alarms)} alarm(s) among {_tested(result)} tests "
        f"(Benjamini-Hochberg FDR {s.alpha:g}, effect thresholds: "
        + ", ".join(f"{k} {v:g}" for k, v in s.thresholds.items())
        + ").",
    ]
    if result.alarms:
        lines += [
            "",
            "| feature | slice | test | q-value | effect | threshold |",
            "|---|---|---|---|---|---|",
        ]
        for f in result.alarms:
            e = f.effect
            effect = "—" if e is None else f"{_num(e.value)} {_EFFECT_UNITS.get(e.name, e.name)}"
            thr = "—" if e is None else _num(e.threshold)
            where = f.slice or "all"
            lines.append(
                f"| {f.feature} | {where} | {f.test} | {_num(f.q_value)} | {effect} | {thr} |"
            )
    else:
        lines += ["", "**No drift alarm.**"]
    if result.performance is not None:
        p = result.performance
        lines += [
            "",
            f"Estimated accuracy without labels: {p.estimated:.1%} "
            f"({p.ci.low:.1%}–{p.ci.high:.1%}); {p.note}",
        ]
    if result.policy is not None:
        lines += ["", f"**Policy:** {'PASS' if result.policy.passed else 'FAIL'}"]
        lines += [f"- {f.rule}: {f.message}" for f in result.policy.findings if not f.passed]
    return "\n".join(lines) + "\n"


def check_drift_dir(out: Path) -> None:
    """Fail early if ``out`` cannot be (re)placed by a drift folder."""
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; choose another --out")
    if any(out.iterdir()) and not (out / "drift.json").is_file():
        raise InputError(
            f"{out}: folder is not empty and is not a redline drift report; choose another --out"
        )


def write_drift_dir(result: DriftResult, out: Path) -> None:
    """Write drift.json, report.html and summary.md into a temp folder, then swap it in."""
    from redline.reports._bundle import swap_into_place

    check_drift_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        tmp.chmod(0o777 & ~umask())
        result.to_json(tmp / "drift.json")
        (tmp / "report.html").write_text(render_drift_html(result), encoding="utf-8")
        (tmp / "summary.md").write_text(render_drift_markdown(result), encoding="utf-8")
        swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
