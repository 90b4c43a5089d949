"""The calibration page: reliability diagrams before and after temperature scaling, and
the ECE / NLL / accuracy table, as one self-contained HTML file."""

from __future__ import annotations

from html import escape

from redline.defenses._calibration import CalibrationResult
from redline.reports._charts import _reliability_panel
from redline.reports._svg import COLORS, figure

__all__ = ["calibration_chart", "calibration_html"]


def calibration_chart(result: CalibrationResult) -> str:
    """Two reliability diagrams side by side: before and after scaling (inline SVG)."""
    panels = [
        (result.before, COLORS["adversarial"], f"before · ECE {result.before.ece:.3f}"),
        (
            result.after,
            COLORS["accent"],
            f"T = {result.temperature:.3f} · ECE {result.after.ece:.3f}",
        ),
    ]
    with figure("calibration", "Reliability before and after", 5.8, 2.6, ncols=2) as chart:
        for ax, (metrics, color, title) in zip(chart.axes, panels, strict=True):
            _reliability_panel(ax, metrics.reliability, color, title)
        chart.axes[0].set_ylabel("accuracy")
        chart.axes[1].tick_params(labelleft=False)
    return chart.svg


def calibration_html(result: CalibrationResult, source: str) -> str:
    """A small standalone page: what was fitted on what, the table, the diagrams."""
    rows = "".join(
        f"<tr><th>{name}</th><td>{getattr(result.before, key):{fmt}}</td>"
        f"<td>{getattr(result.after, key):{fmt}}</td></tr>"
        for name, key, fmt in (
            ("ECE (15 bins)", "ece", ".4f"),
            ("NLL", "nll", ".4f"),
            ("accuracy", "accuracy", ".2%"),
        )
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>redline · temperature scaling</title><style>"
        "body{font:15px/1.5 system-ui,sans-serif;max-width:760px;margin:2em auto;color:#1d2433}"
        "table{border-collapse:collapse;margin:1em 0}th,td{padding:.3em .9em;"
        "border-bottom:1px solid #dde2ea;text-align:right}th{text-align:left}"
        "</style></head><body>"
        f"<h1>Temperature scaling</h1><p>T = <b>{result.temperature:.4f}</b>, fitted on "
        f"{result.n} samples of <code>{escape(source)}</code>. The metrics are measured on "
        "the same samples (in-sample): judge the calibrated model on held-out data too.</p>"
        f"<table><tr><th></th><th>before</th><th>after</th></tr>{rows}</table>"
        f"{calibration_chart(result)}</body></html>"
    )
