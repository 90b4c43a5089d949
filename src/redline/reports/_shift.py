"""The natural-shift section: a heat map of accuracy per shift and severity, the features
whose shift hurts most, and the slices (HTML view for templates/_shift.html.j2, and the
Markdown part)."""

from __future__ import annotations

from dataclasses import dataclass

from redline.reports._format import fmt_pct
from redline.results import NaturalShiftSection, ScanResult, SliceGap, slice_gap

__all__ = ["HeatCell", "HeatRow", "gap_text", "shift_markdown", "shift_view", "slice_gaps"]

_FULL_RED = 0.30
"""A drop from clean accuracy of 30 points or more gets the strongest red."""


@dataclass(frozen=True)
class HeatCell:
    """One cell of the heat map: the accuracy, what the severity means, its colour."""

    text: str
    level: str
    title: str
    colour: str


@dataclass(frozen=True)
class HeatRow:
    """One shift: its cells by severity, its mean and the note on how it was applied."""

    name: str
    cells: list[HeatCell | None]
    mean: str
    drop: str
    note: str | None


def _colour(drop: float) -> str:
    """White at no drop to red at ``_FULL_RED`` or more (a gain stays white)."""
    t = min(1.0, max(0.0, drop / _FULL_RED))
    g = round(255 - t * (255 - 99))
    b = round(255 - t * (255 - 99))
    return f"rgb({round(255 - t * 25)}, {g}, {b})"


def _points(drop: float) -> str:
    return f"{-100 * drop:+.1f} pts".replace("-", "\u2212")


def shift_view(section: NaturalShiftSection) -> list[HeatRow]:
    """Heat-map rows, severities 1..5 as columns (``None`` where a severity was not run)."""
    clean = section.clean.value
    severities = sorted({lv.severity for row in section.rows for lv in row.levels})
    rows = []
    for row in section.rows:
        by = {lv.severity: lv for lv in row.levels}
        cells: list[HeatCell | None] = []
        for s in severities:
            lv = by.get(s)
            if lv is None:
                cells.append(None)
                continue
            acc = lv.accuracy
            title = f"{row.name} at {lv.level}: {fmt_pct(acc.value)}, 95% CI "
            title += f"{fmt_pct(acc.ci.low)}–{fmt_pct(acc.ci.high)}, n = {acc.n}"
            level = (
                "" if lv.level == str(lv.severity) else lv.level
            )  # an image's level is its severity
            cells.append(HeatCell(fmt_pct(acc.value), level, title, _colour(clean - acc.value)))
        drop = clean - row.mean
        rows.append(HeatRow(row.name, cells, fmt_pct(row.mean), _points(drop), row.note))
    return rows


def gap_text(gap: SliceGap | None) -> str:
    """``best − worst: 12.5 pts (95% CI 3.1 to 21.0)``, or a dash without two slices."""
    if gap is None:
        return "—"
    low, high = _signed(gap.ci.low), _signed(gap.ci.high)
    return f"{gap.best} − {gap.worst}: {_signed(gap.gap)} pts (95% CI {low} to {high})"


def _signed(share: float) -> str:
    """A share as points with a true minus sign."""
    return f"{100 * share:.1f}".replace("-", "\u2212")


def slice_gaps(result: ScanResult) -> list[tuple[str, str]]:
    """Best-minus-worst slice gaps: clean and at every eps (empty without slices)."""
    if len(result.clean.per_slice) < 2:
        return []
    rows = [("clean", slice_gap([(g.name, g.accuracy) for g in result.clean.per_slice]))]
    for e in result.eps:
        rows.append((f"ε = {e.eps:.4g}", slice_gap([(g.name, g.accuracy) for g in e.per_slice])))
    return [(label, gap_text(gap)) for label, gap in rows]


def shift_markdown(section: NaturalShiftSection) -> list[str]:
    """The mean corruption accuracy, the table per shift and severity, the worst features."""
    acc = section.mean_accuracy
    what = "common corruptions" if section.kind == "image" else "natural tabular shifts"
    lines = [
        f"**Natural shift** ({what}): mean accuracy {fmt_pct(acc.value)} "
        f"(95% CI {fmt_pct(acc.ci.low)}–{fmt_pct(acc.ci.high)}), clean "
        f"{fmt_pct(section.clean.value)}, drop {100 * section.drop:.1f} pts.",
        "",
    ]
    severities = sorted({lv.severity for row in section.rows for lv in row.levels})
    lines.append("| shift | " + " | ".join(f"severity {s}" for s in severities) + " | mean |")
    lines.append("|---" * (len(severities) + 2) + "|")
    for row in section.rows:
        by = {lv.severity: lv for lv in row.levels}
        cells = [
            f"{fmt_pct(by[s].accuracy.value)} ({by[s].level})" if s in by else "—"
            for s in severities
        ]
        lines.append(f"| {row.name} | " + " | ".join(cells) + f" | {fmt_pct(row.mean)} |")
    lines += [f"\n{row.name}: {row.note}" for row in section.rows if row.note]
    if section.features:
        worst = "; ".join(
            f"{f.feature} ({f.worst}: {_points(f.drop)})" for f in section.features[:5]
        )
        lines += ["", f"Most harmful single-feature shifts: {worst}."]
    if section.slice_gap is not None:
        lines += ["", f"Slices (mean shifted accuracy): {gap_text(section.slice_gap)}."]
    return lines
