"""The backdoor part of the reports: charts, trigger images and rows of a ``BackdoorSection``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from redline.errors import InputError
from redline.reports._charts import MAX_CLASSES
from redline.reports._format import fmt_num
from redline.reports._images import as_chw, image_uri
from redline.reports._svg import COLORS, figure, plain
from redline.results import (
    BackdoorSection,
    DataDetection,
    Histogram,
    ModelDetection,
    ReversedTrigger,
    ScanResult,
    StripSummary,
)

__all__ = [
    "MAX_TRIGGERS",
    "VERDICT_TONES",
    "AnomalyRow",
    "BackdoorView",
    "ClassRow",
    "DataView",
    "TriggerView",
    "anomaly_chart",
    "backdoor_view",
    "histogram_chart",
    "shown_triggers",
]

MAX_TRIGGERS = 6
"""Reversed triggers shown at most (flagged classes first)."""
VERDICT_TONES = {"clean": "PASS", "suspicious": "WARN", "trojaned": "FAIL"}
_FLAGGED = "#c53030"
_SUSPECT_GROUPS = ("poisoned", "flagged", "triggered")


@dataclass(frozen=True)
class TriggerView:
    """One reversed trigger as the report shows it: three PNG data URIs and captions."""

    label: str
    mask: str
    pattern: str
    stamped: str
    mask_l1: float
    attack_success: float
    anomaly: float | None
    flagged: bool


@dataclass(frozen=True)
class ClassRow:
    """One class as a training-data detector saw it."""

    name: str
    n: int
    flagged: int
    contamination: float
    statistic: float
    suspicious: bool


@dataclass(frozen=True)
class AnomalyRow:
    """One class as the model detector saw it: anomaly index and reversed mask's L1 norm."""

    name: str
    index: float
    mask_l1: float | None
    flagged: bool


@dataclass(frozen=True)
class DataView:
    """One training-data detector: its result, score histogram and per-class rows."""

    d: DataDetection
    chart: Markup | None
    rows: list[ClassRow]
    suspicious: list[str]


@dataclass(frozen=True)
class BackdoorView:
    """Everything the Backdoor section of the HTML report needs, derived from the result."""

    section: BackdoorSection
    tone: str
    target: str | None
    flagged: list[str]
    anomaly_chart: Markup | None
    anomaly_rows: list[AnomalyRow]
    triggers: list[TriggerView]
    data: list[DataView]
    strip_chart: Markup | None


def _names(result: ScanResult, labels: Sequence[int]) -> list[str]:
    """Class names from the data's class names, else the label itself."""
    return [_name(result, i) for i in labels]


def _name(result: ScanResult, label: int, fallback: str | None = None) -> str:
    """Class ``label``'s name from the data's class names, else ``fallback`` or the label."""
    names = result.data.class_names or []
    if 0 <= label < len(names):
        return names[label]
    return str(label) if fallback is None else fallback


def _group_colors(groups: Sequence[str]) -> list[str]:
    """Poisoned / flagged / triggered in the adversarial colour, the others in the accent."""
    suspect = [g in _SUSPECT_GROUPS for g in groups]
    if any(suspect):
        return [COLORS["adversarial"] if s else COLORS["accent"] for s in suspect]
    palette = (COLORS["accent"], COLORS["adversarial"], COLORS["minimal"])
    return [palette[k % len(palette)] for k in range(len(groups))]


def histogram_chart(
    hist: Histogram,
    *,
    name: str,
    label: str,
    xlabel: str,
    threshold: float | None = None,
) -> str:
    """Two score distributions overlaid on shared bins, each as a share of its own group."""
    edges = hist.edges
    with figure(name, label, 4.8, 2.5) as chart:
        ax = chart.axes[0]
        colors = _group_colors(list(hist.groups))
        for color, (group, counts) in zip(colors, hist.groups.items(), strict=True):
            if len(counts) + 1 != len(edges):
                raise InputError(
                    f"{label}: group {group!r} has {len(counts)} counts for {len(edges)} edges"
                )
            total = sum(counts)
            share = [c / (total or 1) for c in counts]
            ax.stairs(share, edges, fill=True, color=color, alpha=0.35, lw=0)
            ax.stairs(share, edges, color=color, lw=1.3, label=f"{plain(group)} (n = {total:,})")
        if threshold is not None:
            ax.axvline(threshold, color=COLORS["ink"], ls=(0, (4, 3)), lw=1.1,
                       label=f"threshold {fmt_num(threshold)}")  # fmt: skip
        ax.set_ylim(0, None)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("share of group")
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, handlelength=1.4)
    return chart.svg


def _anomaly_ticks(model: ModelDetection, names: list[str]) -> list[int]:
    """Every class when few; else the flagged ones and the five highest indices."""
    n = len(model.anomaly_index)
    if n <= MAX_CLASSES:
        return list(range(n))
    top = sorted(range(n), key=lambda i: -model.anomaly_index[i])[:5]
    return sorted({*top, *(c for c in model.flagged_classes if 0 <= c < len(names))})


def anomaly_chart(model: ModelDetection, names: list[str]) -> str:
    """Anomaly index per class (flagged classes in red) against the detection threshold."""
    index, flagged = model.anomaly_index, set(model.flagged_classes)
    colors = [_FLAGGED if i in flagged else COLORS["accent"] for i in range(len(index))]
    width = min(8.2, 2.6 + 0.3 * len(index))
    label = "Anomaly index per class with the detection threshold"
    with figure("bd-anomaly", label, width, 2.5) as chart:
        ax = chart.axes[0]
        ax.bar(range(len(index)), index, color=colors, width=0.68, lw=0)
        ax.axhline(0, color=COLORS["axis"], lw=0.8)
        line = ax.axhline(model.threshold, color=_FLAGGED, ls=(0, (4, 3)), lw=1.1,
                          label=f"threshold {fmt_num(model.threshold)}")  # fmt: skip
        ticks = _anomaly_ticks(model, names)
        labels = [plain(names[i]) for i in ticks]
        rotate = max((len(s) for s in labels), default=0) * len(ticks) > 6 * width
        ax.set_xticks(ticks, labels, rotation=35 if rotate else 0,
                      ha="right" if rotate else "center")  # fmt: skip
        ax.set_xlim(-0.6, len(index) - 0.4)
        low, high = min(0.0, *index), max(model.threshold, *index)
        ax.set_ylim(low * 1.15 if low < 0 else 0, high * 1.18)
        ax.set_ylabel("anomaly index")
        handles = [
            Patch(color=_FLAGGED, label="flagged"),
            Patch(color=COLORS["accent"], label="not flagged"),
            line,
        ]
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3,
                  handlelength=1.4)  # fmt: skip
    return chart.svg


def shown_triggers(model: ModelDetection) -> list[ReversedTrigger]:
    """The flagged classes' triggers; when none is flagged, the highest-index class's."""
    by_label = {t.label: t for t in model.triggers}
    shown = [by_label[c] for c in model.flagged_classes if c in by_label][:MAX_TRIGGERS]
    if shown or not model.triggers:
        return shown
    index = model.anomaly_index
    return [
        max(
            model.triggers,
            key=lambda t: index[t.label] if 0 <= t.label < len(index) else float("-inf"),
        )
    ]


def _trigger_view(
    t: ReversedTrigger, name: str, model: ModelDetection, bounds: tuple[float, float]
) -> TriggerView:
    """Mask, pattern and the trigger stamped on a blank (lower-bound) input, as PNGs."""
    where = f"reversed trigger of class {t.label}"
    mask, pattern = as_chw(t.mask, where), as_chw(t.pattern, where)
    if mask.shape[0] != 1 or mask.shape[1:] != pattern.shape[1:]:
        raise InputError(
            f"{where}: mask {list(mask.shape)} does not match pattern {list(pattern.shape)}"
        )
    lo = bounds[0]
    index = model.anomaly_index
    return TriggerView(
        label=name,
        mask=image_uri(mask, (0.0, 1.0)),
        pattern=image_uri(pattern, bounds),
        stamped=image_uri(lo + mask * (pattern - lo), bounds),
        mask_l1=t.mask_l1,
        attack_success=t.attack_success,
        anomaly=index[t.label] if 0 <= t.label < len(index) else None,
        flagged=t.label in model.flagged_classes,
    )


def _anomaly_rows(model: ModelDetection, names: list[str]) -> list[AnomalyRow]:
    """Per class: anomaly index, mask L1 (when recorded) and whether it is flagged."""
    l1 = model.mask_l1
    return [
        AnomalyRow(name, a, l1[i] if i < len(l1) else None, i in model.flagged_classes)
        for i, (name, a) in enumerate(zip(names, model.anomaly_index, strict=True))
    ]


def _data_view(result: ScanResult, k: int, d: DataDetection) -> DataView:
    """Histogram and per-class rows of one training-data detector."""
    chart = None
    if d.histogram.edges and d.histogram.groups:
        chart = histogram_chart(
            d.histogram,
            name=f"bd-data-{k}",
            label=f"{d.detector} scores: {' vs '.join(d.histogram.groups)}",
            xlabel=f"{plain(d.detector)} suspicion score (high = suspicious)",
        )
    rows = [
        ClassRow(_name(result, c.label, c.name), c.n, c.flagged, c.contamination,
                 c.statistic, c.suspicious)
        for c in d.classes
    ]  # fmt: skip
    return DataView(d, Markup(chart) if chart else None, rows, _names(result, d.suspicious_classes))


def _model_parts(
    result: ScanResult, model: ModelDetection | None
) -> tuple[Markup | None, list[AnomalyRow], list[TriggerView]]:
    """The model detector's anomaly chart, per-class rows and shown trigger images."""
    if model is None:
        return None, [], []
    names = _names(result, range(len(model.anomaly_index)))
    chart = Markup(anomaly_chart(model, names)) if model.anomaly_index else None
    triggers = [
        _trigger_view(t, _name(result, t.label), model, result.target.bounds)
        for t in shown_triggers(model)
    ]
    return chart, _anomaly_rows(model, names), triggers


def _strip_chart(strip: StripSummary | None) -> Markup | None:
    """STRIP's entropy histogram with its rejection threshold."""
    if strip is None or not strip.histogram.edges or not strip.histogram.groups:
        return None
    return Markup(
        histogram_chart(
            strip.histogram,
            name="bd-strip",
            label="STRIP entropy of clean and triggered inputs",
            xlabel="entropy over superimpositions (low = suspicious)",
            threshold=strip.threshold,
        )
    )


def backdoor_view(result: ScanResult) -> BackdoorView | None:
    """The Backdoor section's view of the result, or None when the scan has none."""
    section = result.backdoor
    if section is None:
        return None
    model, poison = section.model, section.poison
    chart, rows, triggers = _model_parts(result, model)
    target = None
    if poison is not None and poison.target_class is not None:
        target = _name(result, poison.target_class)
    return BackdoorView(
        section=section,
        tone=VERDICT_TONES[section.verdict],
        target=target,
        flagged=_names(result, model.flagged_classes) if model else [],
        anomaly_chart=chart,
        anomaly_rows=rows,
        triggers=triggers,
        data=[_data_view(result, k, d) for k, d in enumerate(section.data)],
        strip_chart=_strip_chart(section.strip),
    )
