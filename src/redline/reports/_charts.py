"""Report charts: one function per chart, each returning an inline-ready SVG string."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap, to_hex
from matplotlib.ticker import PercentFormatter

from redline.reports._format import fmt_eps, fmt_pct, norm_label
from redline.reports._svg import ATTACK_COLORS, COLORS, figure, plain
from redline.results import (
    EpsResult,
    GroupAccuracy,
    MinimalPerturbation,
    Reliability,
    ScanResult,
)

__all__ = [
    "MAX_CLASSES",
    "broken_by_chart",
    "calibration_eps",
    "calibration_note",
    "eps_colors",
    "minimal_histogram",
    "per_class_chart",
    "reliability_chart",
    "render_charts",
    "robustness_chart",
]

MAX_CLASSES = 20


def eps_colors(n: int) -> list[str]:
    """One shade of the accent per eps, light (small eps) to dark (large eps)."""
    ramp = LinearSegmentedColormap.from_list("eps", ["#90cdf4", COLORS["accent"], "#1a365d"])
    if n == 1:
        return [COLORS["accent"]]
    return [to_hex(ramp(0.15 + 0.85 * i / (n - 1))) for i in range(n)]


def _eps_ticks(ax: Axes, values: Sequence[float], span: float) -> None:
    """Ticks at the eps grid, dropping labels that would collide with their left neighbour."""
    ticks: list[float] = []
    for v in sorted(values):
        if not ticks or v - ticks[-1] >= 0.07 * span:
            ticks.append(v)
    ax.set_xticks(ticks, [fmt_eps(v) for v in ticks])


def _percent_axis(ax: Axes, top: float = 1.0) -> None:
    ax.set_ylim(0, top)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))


def _plot_suite(ax: Axes, result: ScanResult) -> list[float]:
    """The suite's accuracy at eps 0 (clean) and every grid eps, Wilson intervals as bars."""
    accs = [result.clean.accuracy] + [r.robust for r in result.eps]
    xs = [0.0] + [r.eps for r in result.eps]
    err = [[a.value - a.ci.low for a in accs], [a.ci.high - a.value for a in accs]]
    ax.errorbar(
        xs,
        [a.value for a in accs],
        yerr=err,
        color=COLORS["accent"],
        marker="o",
        ms=4.5,
        capsize=3,
        elinewidth=1.1,
        label="attack suite (Wilson 95%)",
        zorder=3,
    )
    return xs


def _chance_line(ax: Axes, result: ScanResult, label: str) -> None:
    """A dashed horizontal line at chance accuracy, 1 / number of classes."""
    chance = 1.0 / max(result.target.num_classes, 1)
    ax.axhline(chance, color=COLORS["chance"], ls=(0, (4, 3)), lw=1.1, zorder=1,
               label=label.format(fmt_pct(chance, 0)))  # fmt: skip


def robustness_chart(result: ScanResult) -> str:
    """Robust accuracy vs eps with Wilson 95% error bars, the minimum-norm curve and chance."""
    with figure("robust", "Robust accuracy against perturbation budget", 5.0, 2.9) as chart:
        ax = chart.axes[0]
        if result.minimal is not None and result.minimal.curve:
            curve = sorted(result.minimal.curve, key=lambda p: p.eps)
            label = f"minimum-norm ({plain(result.minimal.attack)})"
            eps, acc = [p.eps for p in curve], [p.accuracy for p in curve]
            ax.plot(eps, acc, color=COLORS["minimal"], lw=1.4, label=label, zorder=2)
        xs = _plot_suite(ax, result)
        _chance_line(ax, result, "chance ({})")
        span = max(xs) * 1.12 or 1.0
        ax.set_xlim(-0.025 * span, span)
        _eps_ticks(ax, xs, span)
        _percent_axis(ax, 1.02)
        ax.set_xlabel(f"ε ({norm_label(result.config.norm)})")
        ax.set_ylabel("accuracy")
        ax.legend(loc="upper right")
    return chart.svg


def _weakest_classes(result: ScanResult) -> list[str]:
    """Class names to chart: all of them, or the MAX_CLASSES weakest at the largest eps."""
    names = [g.name for g in result.clean.per_class]
    if len(names) <= MAX_CLASSES or not result.eps:
        return names
    worst = _by_name(result.eps[-1].per_class)
    return sorted(names, key=lambda n: worst[n].accuracy.value if n in worst else 1.0)[:MAX_CLASSES]


def _by_name(groups: list[GroupAccuracy]) -> dict[str, GroupAccuracy]:
    return {g.name: g for g in groups}


def per_class_chart(result: ScanResult) -> str | None:
    """Grouped bars per class: clean accuracy beside robust accuracy at every eps."""
    names = _weakest_classes(result)
    if not names:
        return None
    series = [("clean", _by_name(result.clean.per_class), COLORS["clean"])]
    for r, color in zip(result.eps, eps_colors(len(result.eps)), strict=True):
        series.append((f"ε = {fmt_eps(r.eps)}", _by_name(r.per_class), color))
    width = 0.82 / len(series)
    fig_w = min(8.2, 2.6 + 0.13 * len(names) * len(series))
    with figure("perclass", "Accuracy per class, clean and under attack", fig_w, 2.7) as chart:
        ax = chart.axes[0]
        for k, (label, groups, color) in enumerate(series):
            xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(names))]
            ys = [groups[n].accuracy.value if n in groups else 0.0 for n in names]
            ax.bar(xs, ys, width=width * 0.92, color=color, label=label, lw=0)
        _chance_line(ax, result, "chance")
        rotate = max(len(n) for n in names) * len(names) > 6 * fig_w
        ax.set_xticks(
            range(len(names)),
            [plain(n) for n in names],
            rotation=35 if rotate else 0,
            ha="right" if rotate else "center",
        )
        ax.set_xlim(-0.6, len(names) - 0.4)
        _percent_axis(ax)
        ax.set_ylabel("accuracy")
        handles, labels = ax.get_legend_handles_labels()
        order = sorted(range(len(labels)), key=lambda i: labels[i] == "chance")
        ax.legend(
            [handles[i] for i in order],
            [labels[i] for i in order],
            loc="lower left",
            bbox_to_anchor=(0, 1.0),
            ncol=len(series) + 1,
            handlelength=1.2,
            columnspacing=1.2,
        )
    return chart.svg


def _reliability_panel(ax: Axes, rel: Reliability, color: str, title: str) -> None:
    """One reliability diagram: accuracy per confidence bin against the diagonal."""
    for lo, hi, acc, count in zip(
        rel.bin_edges[:-1], rel.bin_edges[1:], rel.accuracy, rel.count, strict=True
    ):
        if acc is None or count == 0:
            continue
        ax.bar((lo + hi) / 2, acc, width=(hi - lo) * 0.9, color=color, lw=0, alpha=0.85)
    ax.plot([0, 1], [0, 1], color=COLORS["chance"], ls=(0, (4, 3)), lw=1.0)
    ax.set_xlim(0, 1)
    _percent_axis(ax)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("confidence")
    ax.set_title(title, color=COLORS["ink"])


def calibration_eps(result: ScanResult) -> tuple[EpsResult | None, list[EpsResult]]:
    """The eps whose reliability diagram is drawn (the largest at which a sample survives)
    and the larger eps with no survivor, whose diagrams would be empty."""
    surviving = [r for r in result.eps if r.robust.correct > 0]
    shown = surviving[-1] if surviving else None
    empty = [r for r in result.eps if r.robust.correct == 0 and (not shown or r.eps > shown.eps)]
    return shown, empty


def calibration_note(result: ScanResult) -> str | None:
    """Why an eps has no reliability diagram: no sample survives there."""
    empty = calibration_eps(result)[1]
    if not empty:
        return None
    where = ", ".join(fmt_eps(r.eps) for r in empty)
    return f"no sample survives at ε = {where}: no calibration to show"


def reliability_chart(result: ScanResult) -> str:
    """Reliability diagrams side by side: clean data and the largest eps at which a sample
    survives (past it every bin is empty: see :func:`calibration_note`)."""
    panels = [(result.clean.reliability, COLORS["accent"], f"clean · ECE {result.clean.ece:.3f}")]
    shown = calibration_eps(result)[0]
    if shown is not None:
        title = f"ε = {fmt_eps(shown.eps)} · ECE {shown.ece:.3f}"
        panels.append((shown.reliability, COLORS["adversarial"], title))
    label = "Reliability diagrams, clean and adversarial"
    with figure("reliability", label, 2.9 * len(panels), 2.6, ncols=len(panels)) as chart:
        for ax, (rel, color, title) in zip(chart.axes, panels, strict=True):
            _reliability_panel(ax, rel, color, title)
        chart.axes[0].set_ylabel("accuracy")
        for ax in chart.axes[1:]:
            ax.tick_params(labelleft=False)
    return chart.svg


def _mark_eps(ax: Axes, eps: Sequence[float], lo: float, hi: float, top: float) -> None:
    """Dotted verticals at the eps grid, labels staggered in height when they sit close."""
    last, level = -float("inf"), 0
    for e in sorted(x for x in eps if lo <= x <= hi):
        level = 1 - level if e - last < 0.14 * (hi - lo) else 0
        last = e
        ax.axvline(e, color=COLORS["adversarial"], ls=(0, (2, 2)), lw=1.0)
        y = top * (1.04 + 0.12 * level)
        ax.text(e, y, f" ε={fmt_eps(e)}", color=COLORS["adversarial"], fontsize=7.5, va="bottom")


def minimal_histogram(minimal: MinimalPerturbation, eps: Sequence[float], norm: str) -> str:
    """Histogram of per-sample smallest adversarial perturbations, eps grid marked."""
    edges, counts = minimal.histogram_edges, minimal.histogram_counts
    with figure("minimal", "Histogram of minimal adversarial perturbations", 5.0, 2.7) as chart:
        ax = chart.axes[0]
        widths = [hi - lo for lo, hi in pairwise(edges)]
        ax.bar(
            edges[:-1],
            counts,
            width=widths,
            align="edge",
            color=COLORS["accent"],
            edgecolor="white",
            lw=0.5,
        )
        top = max(counts, default=1) or 1
        if edges:
            _mark_eps(ax, eps, edges[0], edges[-1], top)
        ax.set_ylim(0, top * 1.3)
        ax.set_xlabel(f"smallest adversarial perturbation ({norm_label(norm)} norm)")
        ax.set_ylabel("samples")
    return chart.svg


def _attack_names(result: ScanResult) -> list[str]:
    """Attacks in suite order, then any other attack named in ``broken_by``."""
    names = [a.name for a in result.config.attacks]
    for r in result.eps:
        names += [a.attack for a in r.attacks if a.attack not in names]
        names += [n for n in r.broken_by if n not in names]
    return names


def _outcome_segments(result: ScanResult, r: EpsResult, attacks: list[str]) -> list[int]:
    """Sample counts per outcome at one eps: wrong when clean, broken by each attack, robust."""
    wrong = max(r.robust.n - result.clean.accuracy.correct, 0)
    return [wrong] + [r.broken_by.get(a, 0) for a in attacks] + [r.robust.correct]


def broken_by_chart(result: ScanResult) -> str | None:
    """Stacked bars per eps: where every sample ended up and which attack broke it first."""
    if not result.eps:
        return None
    attacks = _attack_names(result)
    labels = ["wrong when clean"] + [plain(a) for a in attacks] + ["robust"]
    colors = [COLORS["wrong"]]
    colors += [ATTACK_COLORS[i % len(ATTACK_COLORS)] for i in range(len(attacks))]
    colors += [COLORS["robust"]]
    rows = [_outcome_segments(result, r, attacks) for r in result.eps]
    n = max(sum(row) for row in rows) or 1
    label = "Samples broken by each attack at each eps"
    with figure("brokenby", label, 6.4, 0.75 + 0.36 * len(rows)) as chart:
        ax = chart.axes[0]
        left = [0] * len(rows)
        for k, (label, color) in enumerate(zip(labels, colors, strict=True)):
            vals = [row[k] for row in rows]
            ax.barh(range(len(rows)), vals, left=left, color=color, label=label, height=0.62, lw=0)
            for i, v in enumerate(vals):
                if v >= 0.06 * n:
                    ax.text(left[i] + v / 2, i, str(v), ha="center", va="center", fontsize=7.5)
            left = [a + b for a, b in zip(left, vals, strict=True)]
        ax.set_yticks(range(len(rows)), [f"ε = {fmt_eps(r.eps)}" for r in result.eps])
        ax.invert_yaxis()
        ax.set_xlim(0, n)
        ax.grid(axis="x")
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("samples")
        ax.legend(
            loc="lower left",
            bbox_to_anchor=(0, 1.0),
            ncol=min(len(labels), 5),
            handlelength=1.0,
            columnspacing=1.0,
        )
    return chart.svg


def render_charts(result: ScanResult) -> dict[str, str]:
    """Every chart the result supports, keyed by section name."""
    charts = {"robust": robustness_chart(result), "reliability": reliability_chart(result)}
    per_class = per_class_chart(result)
    if per_class is not None:
        charts["per_class"] = per_class
    broken = broken_by_chart(result)
    if broken is not None:
        charts["broken_by"] = broken
    if result.minimal is not None and result.minimal.histogram_counts:
        eps = [r.eps for r in result.eps]
        charts["minimal"] = minimal_histogram(result.minimal, eps, result.config.norm or "")
    return charts
