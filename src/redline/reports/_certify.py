"""The certification page: certified accuracy against the L2 radius (randomized
smoothing), labelled as a guarantee and kept apart from empirical robust accuracy."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from redline.reports._charts import _percent_axis
from redline.reports._svg import COLORS, figure
from redline.results import CertifiedSection

if TYPE_CHECKING:
    from redline.defenses._smoothing_result import CertifyResult

__all__ = ["certify_chart", "certify_html"]


def certify_chart(result: CertifiedSection) -> str:
    """Certified accuracy as a step function of the L2 radius, up to the largest radius
    ``n`` and ``alpha`` can certify at all (inline SVG)."""
    radii = sorted({0.0, *(r for r in result.radii if r > 0), result.max_radius})
    values = [result.at(r) for r in radii]
    label = "Certified accuracy against the L2 radius"
    with figure("certified", label, 5.2, 2.8) as chart:
        ax = chart.axes[0]
        ax.step(radii, values, where="post", color=COLORS["accent"], lw=1.8)
        ax.axvline(result.sigma, color=COLORS["chance"], ls=(0, (4, 3)), lw=1.0)
        ax.text(result.sigma, 1.02, f" σ = {result.sigma:g}", color=COLORS["ink"], fontsize=8)
        ax.set_xlim(0, result.max_radius * 1.02)
        _percent_axis(ax)
        ax.set_xlabel("L2 radius")
        ax.set_ylabel("certified accuracy")
    return chart.svg


def certify_html(result: CertifyResult, source: str) -> str:
    """A standalone page: the guarantee in words, the table, the curve."""
    from redline.defenses._smoothing_result import GUARANTEE

    rows = "".join(f"<tr><td>{r:.3g}</td><td>{acc:.1%}</td></tr>" for r, acc in result.curve())
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>redline · certified robustness</title><style>"
        "body{font:15px/1.5 system-ui,sans-serif;max-width:780px;margin:2em auto;color:#1d2433}"
        ".note{background:#eef4ff;border-left:4px solid #2f6fd6;padding:.6em 1em}"
        "table{border-collapse:collapse;margin:1em 0}th,td{padding:.25em .9em;"
        "border-bottom:1px solid #dde2ea;text-align:right}"
        "</style></head><body><h1>Certified robustness (randomized smoothing)</h1>"
        f"<p class='note'><b>{escape(GUARANTEE)}.</b> With probability at least "
        f"1 - α = {1 - result.alpha:g} per sample, no L2 perturbation smaller than the "
        "sample's radius changes the smoothed classifier's prediction. This is a "
        "guarantee about the smoothed classifier, not an empirical robust accuracy of the "
        "base model: do not compare the two as one number.</p>"
        f"<p>{len(result.labels)} samples of <code>{escape(source)}</code>; σ = "
        f"{result.sigma:g}, n0 = {result.n0}, n = {result.n}, α = {result.alpha:g}; "
        f"abstained on {result.abstention_rate:.1%}; the largest certifiable radius with "
        f"these n and α is {result.max_radius:.3f}.</p>"
        f"{certify_chart(result.section())}"
        f"<table><tr><th>L2 radius</th><th>certified accuracy</th></tr>{rows}</table>"
        "</body></html>"
    )
