"""The report's chart style and SVG plumbing: matplotlib figures as inline-ready SVG."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["ATTACK_COLORS", "COLORS", "Chart", "figure", "inline_svg", "plain"]

COLORS = {
    "ink": "#1f2933",
    "muted": "#616e7c",
    "axis": "#cbd2d9",
    "grid": "#e9ecef",
    "clean": "#a3adb8",
    "accent": "#2b6cb0",
    "adversarial": "#c05621",
    "minimal": "#d69e2e",
    "chance": "#9aa5b1",
    "wrong": "#bcc4cc",
    "robust": "#bee3f8",
}
ATTACK_COLORS = ["#e57b6e", "#f2b35b", "#a78bcb", "#6fbf9b", "#d4879c", "#8c9c5a", "#c9a27e"]
_RC = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 8.5,
    "text.color": COLORS["ink"],
    "axes.edgecolor": COLORS["axis"],
    "axes.labelcolor": COLORS["muted"],
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "axes.axisbelow": True,
    "axes.titlesize": 9,
    "axes.titlelocation": "left",
    "grid.color": COLORS["grid"],
    "grid.linewidth": 0.7,
    "xtick.color": COLORS["axis"],
    "ytick.color": COLORS["axis"],
    "xtick.labelcolor": COLORS["muted"],
    "ytick.labelcolor": COLORS["muted"],
    "legend.frameon": False,
    "legend.fontsize": 8,
    "lines.linewidth": 1.6,
}


@dataclass
class Chart:
    """Axes to draw on; ``svg`` holds the cleaned SVG once the ``with`` block ends."""

    axes: list[Axes]
    svg: str = ""


@contextmanager
def figure(name: str, label: str, width: float, height: float, ncols: int = 1) -> Iterator[Chart]:
    """A figure under the report style, rendered to SVG on exit (ids unique per chart)."""
    style: Any = {**_RC, "svg.hashsalt": name}
    with matplotlib.rc_context(style):
        fig = Figure(figsize=(width, height))
        chart = Chart([fig.add_subplot(1, ncols, i + 1) for i in range(ncols)])
        yield chart
        buf = io.StringIO()
        fig.savefig(
            buf,
            format="svg",
            bbox_inches="tight",
            pad_inches=0.04,
            transparent=True,
            metadata=dict.fromkeys(("Creator", "Date", "Format", "Type")),
        )
    chart.svg = inline_svg(buf.getvalue(), name, label)


def inline_svg(raw: str, name: str, label: str) -> str:
    """Matplotlib's SVG made inline-ready: no prolog, namespaces or global style; ids prefixed."""
    svg = raw[raw.index("<svg") :]
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
    svg = re.sub(r"<style[^>]*>.*?</style>", "", svg, flags=re.S)
    svg = svg.replace("xlink:href=", "href=")
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{name}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{name}-\1"', svg)
    match = re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    if match:
        px = float(match.group(1)) * 4 / 3
        svg = svg.replace(match.group(0), f'width="100%" style="max-width:{px:.0f}px"', 1)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{_attr(label)}" ', 1)


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def plain(text: str) -> str:
    """User text for a matplotlib label: no mathtext interpretation of dollar signs."""
    return text.replace("$", r"\$")
