"""The comparison as one self-contained HTML page (inline CSS and SVG, autoescaped
Jinja2), with robust accuracy against eps for both scans on one chart."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from jinja2 import Environment
from markupsafe import Markup
from matplotlib.ticker import PercentFormatter

from redline.reports._compare import Comparison, lineage_line, summary_line
from redline.reports._compare_format import fmt_ci_pair, fmt_delta, fmt_kind, fmt_side
from redline.reports._compare_parts import Change
from redline.reports._format import (
    fmt_eps,
    fmt_num,
    fmt_pct,
    fmt_value,
    fmt_when,
    norm_label,
    status_counts,
)
from redline.reports._html import jinja_environment
from redline.reports._svg import COLORS, figure, plain
from redline.results import ScanResult

__all__ = ["compare_chart", "compare_html"]

_SERIES = (("#7b8794", (0, (4, 2)), "s"), (COLORS["accent"], "-", "o"))
"""Colour, line style and marker of A (grey, dashed) and B (the accent)."""


@dataclass(frozen=True)
class CompareTile:
    """One headline number: B's value large, A's beside it, the change and its verdict."""

    label: str
    a: str
    b: str
    change: str
    tone: str


@cache
def _environment() -> Environment:
    return jinja_environment(
        pct=fmt_pct, eps=fmt_eps, num=fmt_num, value=fmt_value, when=fmt_when,
        side=fmt_side, delta=fmt_delta, cipair=fmt_ci_pair, kind=fmt_kind,
    )  # fmt: skip


def _series(r: ScanResult) -> tuple[list[float], list[float], list[list[float]]]:
    """Accuracy at eps 0 (clean) and every grid eps, with Wilson error-bar lengths."""
    ordered = sorted(r.eps, key=lambda e: e.eps)
    accs = [r.clean.accuracy, *(e.robust for e in ordered)]
    xs = [0.0, *(e.eps for e in ordered)]
    err = [[a.value - a.ci.low for a in accs], [a.ci.high - a.value for a in accs]]
    return xs, [a.value for a in accs], err


def compare_chart(c: Comparison) -> str:
    """Robust accuracy against eps, A and B on shared axes, Wilson 95% bars and chance."""
    data = [_series(r) for r in (c.a, c.b)]
    span = max(max(xs) for xs, _, _ in data) * 1.12 or 1.0
    label = f"Robust accuracy against perturbation budget, {c.labels[0]} and {c.labels[1]}"
    with figure("compare", label, 5.0, 2.9) as chart:
        ax = chart.axes[0]
        for k, ((xs, ys, err), name, (color, ls, marker)) in enumerate(
            zip(data, c.labels, _SERIES, strict=True)
        ):
            shift = (k - 0.5) * 0.012 * span  # side by side where both measured an eps
            ax.errorbar(
                [x + shift for x in xs], ys, yerr=err, color=color, ls=ls, marker=marker,
                ms=4.5, capsize=3, elinewidth=1.1, label=plain(name), zorder=3 + k,
            )  # fmt: skip
        chance = 1.0 / max(c.b.target.num_classes, 1)
        ax.axhline(chance, color=COLORS["chance"], ls=(0, (1, 2)), lw=1.1, zorder=1,
                   label=f"chance ({fmt_pct(chance, 0)})")  # fmt: skip
        ticks = sorted({x for xs, _, _ in data for x in xs})
        ax.set_xticks(ticks, [fmt_eps(t) for t in ticks])
        ax.set_xlim(-0.04 * span, span)
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel(f"ε ({norm_label(c.a.config.norm)})")
        ax.set_ylabel("accuracy")
        ax.legend(loc="upper right")
    return chart.svg


def _tile(label: str, change: Change) -> CompareTile:
    verdict = change.verdict if change.verdict != "n/a" else ""
    text = " · ".join(x for x in (fmt_delta(change), verdict) if x and x != "—")
    return CompareTile(label, fmt_side(change, "a"), fmt_side(change, "b"), text, change.tone)


def _checks_tile(c: Comparison) -> CompareTile:
    def worst(r: ScanResult) -> str:
        counts = status_counts(r.checks)
        tone = next((s for s in ("FAIL", "WARN") if counts[s]), "PASS")
        return "none" if not r.checks else (f"{counts[tone]} {tone}" if tone != "PASS" else "pass")

    n = len(c.regressions)
    sub = f"{n} regressed" if n else "none regressed"
    tone = "FAIL" if n else ("WARN" if any(x.b == "FAIL" for x in c.checks) else "neutral")
    return CompareTile("Sanity checks", worst(c.a), worst(c.b), sub, tone)


def _tiles(c: Comparison) -> list[CompareTile]:
    """Clean, the headline robust accuracy, ECE, checks and policy."""
    tiles = [_tile("Clean accuracy", c.clean)]
    if c.headline is not None:
        tiles.append(_tile(f"Robust · ε = {fmt_eps(c.headline.eps)}", c.headline.robust))
    tiles += [_tile("ECE (clean)", c.ece), _checks_tile(c)]
    p = c.policy
    tone = "FAIL" if p.b == "FAIL" else ("PASS" if p.b == "PASS" else "neutral")
    tiles.append(CompareTile("Policy", p.a, p.b, "" if p.a == p.b else "changed", tone))
    return tiles


def compare_html(c: Comparison) -> str:
    """The comparison as one self-contained HTML string."""
    template = _environment().get_template("compare.html.j2")
    return template.render(
        c=c,
        la=c.labels[0],
        lb=c.labels[1],
        norm=norm_label(c.a.config.norm),
        lede=summary_line(c),
        lineage=lineage_line(c),
        tiles=_tiles(c),
        chart=Markup(compare_chart(c)),
        same_data=c.a.data.sha256 == c.b.data.sha256,
    )
