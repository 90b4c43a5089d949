"""Tables of the backdoor benchmark: seeds aggregated to mean ± std (sample std), one set
of tables per dataset, then the issue's targets checked against the numbers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmarks._backdoor_data import TARGET_CLASS, Settings
from benchmarks._common import table

__all__ = ["DETECTORS", "Group", "group", "render", "targets"]

Record = dict[str, Any]
DETECTORS = ("spectral", "clustering", "robust", "isolation")
ART = {
    "art-ss-logits": "ART SS (logits, as shipped)",
    "art-ac-logits": "ART AC (logits, as shipped)",
    "art-ss-hidden": "ART SS (last hidden)",
    "art-ac-hidden": "ART AC (last hidden)",
}
BACKDOORS = ("badnets", "blended", "sig")
DASH = "—"


class Group:
    """The records of one (dataset, attack, rate) row, one per seed."""

    def __init__(self, key: tuple[str, str, float], records: list[Record]) -> None:
        self.dataset, self.attack, self.rate = key
        self.errors = sorted({r["error"] for r in records if "error" in r})
        self.records = [r for r in records if "error" not in r]

    def values(self, name: str) -> list[float]:
        """Finite values of a numeric metric over the seeds."""
        out = [float(r[name]) for r in self.records if name in r]
        return [v for v in out if not math.isnan(v)]

    def mean(self, name: str) -> float:
        vals = self.values(name)
        return float(np.mean(vals)) if vals else math.nan

    def fmt(self, name: str, scale: float = 1.0, digits: int = 1) -> str:
        """``mean±std`` (no std with one seed), a dash when the metric does not exist."""
        vals = [scale * v for v in self.values(name)]
        if not vals:
            return DASH
        if len(vals) == 1:
            return f"{vals[0]:.{digits}f}"
        return f"{np.mean(vals):.{digits}f}±{np.std(vals, ddof=1):.{digits}f}"

    def pct(self, name: str) -> str:
        return self.fmt(name, 100.0, 1)

    def count(self, test: Callable[[Record], bool]) -> int:
        return sum(1 for r in self.records if test(r))

    @property
    def n(self) -> int:
        return len(self.records)

    @property
    def label(self) -> list[str]:
        rate = DASH if self.attack == "no attack" else f"{100 * self.rate:g}%"
        return [self.attack, rate]


def group(records: Sequence[Record]) -> list[Group]:
    """Records grouped by row, in the order they were given."""
    keys: dict[tuple[str, str, float], list[Record]] = {}
    for r in records:
        keys.setdefault((r["dataset"], r["attack"], r["rate"]), []).append(r)
    return [Group(k, v) for k, v in keys.items()]


def _skip(g: Group, width: int) -> list[str] | None:
    if g.records:
        return None
    return [*g.label, f"not run: {'; '.join(g.errors)}", *[DASH] * (width - 3)]


# --------------------------------------------------------------------------- tables


def _detection_row(g: Group) -> list[str]:
    cells = [g.pct("target_share"), g.pct("clean_acc"), g.pct("asr")]
    for name in (*DETECTORS, *ART):
        auc, tpr = g.fmt(f"{name}.auroc", digits=3), g.pct(f"{name}.tpr5")
        cells.append(DASH if auc == DASH else f"{auc} / {tpr}")
    return [*g.label, *cells]


def _verdict(g: Group, name: str) -> str:
    """Suspicious classes over seeds: target hits and other-class alarms; flag TPR/FPR."""
    key = f"{name}.suspicious"
    other = sum(len([c for c in r[key] if c != TARGET_CLASS]) for r in g.records)
    if g.attack in BACKDOORS:
        hits = g.count(lambda r: TARGET_CLASS in r[key])
        head = f"target {hits}/{g.n}, other {other}"
    else:
        seeds = g.count(lambda r: bool(r[key]))
        head = f"flagged in {seeds}/{g.n} (classes {sum(len(r[key]) for r in g.records)})"
    return f"{head}; {_flags(g, name)}"


def _flags(g: Group, name: str) -> str:
    tpr, fpr = g.pct(f"{name}.flag_tpr"), g.pct(f"{name}.flag_fpr")
    return f"FPR {fpr}" if tpr == DASH else f"TPR {tpr} / FPR {fpr}"


def _verdict_row(g: Group) -> list[str]:
    return [*g.label, *(_verdict(g, d) for d in DETECTORS), *(_flags(g, a) for a in ART)]


def _model_row(g: Group) -> list[str]:
    if g.attack == "label-flip":
        return [*g.label, *[DASH] * 7]
    named = g.count(lambda r: TARGET_CLASS in r["nc.flagged"])
    other = sum(len([c for c in r["nc.flagged"] if c != TARGET_CLASS]) for r in g.records)
    nc = f"{named}/{g.n}" if g.attack != "no attack" else DASH
    strip = [g.fmt("strip.auroc", digits=3), g.pct("strip.far"), g.pct("strip.far_hit")]
    strip.append(g.pct("strip.frr"))
    return [*g.label, nc, str(other), g.fmt("nc.anomaly_target", digits=2), *strip]


def _repair_row(g: Group) -> list[str]:
    fp = [g.pct("fp.asr_after"), g.fmt("fp.acc_drop", 100.0, 1), g.fmt("fp.der", digits=3)]
    names = sorted({r["rt.detector"] for r in g.records if "rt.detector" in r})
    removed = g.fmt("rt.removed", digits=0) if names else DASH
    run = g.count(lambda r: r.get("rt.removed", 0) > 0)
    rt = [g.pct("rt.asr_after"), g.fmt("rt.acc_drop", 100.0, 1), g.fmt("rt.der", digits=3)]
    who = f"{', '.join(names)} ({removed} flagged; {run}/{g.n} with flags)" if names else DASH
    return [*g.label, g.pct("asr"), *fp, who, *rt, g.fmt("time.total", digits=1)]


def _section(title: str, headers: list[str], groups: list[Group], row: Any) -> str:
    rows = [_skip(g, len(headers)) or row(g) for g in groups]
    return f"**{title}**\n\n" + table(headers, rows)


def render(groups: list[Group], s: Settings, seeds: int) -> str:
    """Every table, dataset by dataset."""
    out = []
    for dataset in dict.fromkeys(g.dataset for g in groups):
        gs = [g for g in groups if g.dataset == dataset]
        head = f"{dataset}, {seeds} seed(s), mean±std"
        out.append(f"### {dataset}")
        out.append(_section(
            f"A. Attack and training-data detection ({head}): AUROC / TPR at 5% FPR, "
            f"against the poison mask (label flip: the flipped samples)",
            ["attack", "rate", "target share", "clean acc %", "ASR %",
             *DETECTORS, *ART.values()], gs, _detection_row))  # fmt: skip
        out.append(_section(
            f"B. Verdicts ({head}): redline's suspicious classes over seeds (target hits, "
            f"alarms on other classes) and flag TPR / FPR %; ART's flag TPR / FPR %",
            ["attack", "rate", *DETECTORS, *ART.values()], gs, _verdict_row))  # fmt: skip
        out.append(_section(
            f"C. Model and input checks ({head}): Neural Cleanse ({s.nc_steps} steps, "
            f"defender half) and STRIP ({s.strip_overlays} overlays, fitted on the defender "
            f"half, FAR on triggered non-target inputs of the evaluation half, at 1% FRR)",
            ["attack", "rate", "NC names target", "NC other flags (total)",
             "NC anomaly index of target", "STRIP AUROC", "STRIP FAR %",
             "STRIP FAR % (hijacked inputs only)", "STRIP FRR % (eval)"],
            gs, _model_row))  # fmt: skip
        out.append(_section(
            f"D. Repair ({head}): fine-pruning ({s.prune_epochs} fine-tune epochs on the "
            f"defender half) and retraining ({s.retrain_epochs} epochs) without the flags of "
            f"the best redline detector (oracle pick); acc drop in points; CPU s per cell",
            ["attack", "rate", "ASR before %", "FP ASR after %", "FP acc drop",
             "FP DER", "retrain on", "RT ASR after %", "RT acc drop", "RT DER",
             "CPU s"], gs, _repair_row))  # fmt: skip
    return "\n\n".join(out)


# --------------------------------------------------------------------------- targets


def _yes(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _auroc_target(groups: list[Group]) -> list[str]:
    lines = []
    for name in DETECTORS:
        bad = [
            f"{g.dataset} {g.attack} {100 * g.rate:g}% ({g.mean(f'{name}.auroc'):.3f})"
            for g in groups
            if g.attack in ("badnets", "blended") and g.records
            and not g.mean(f"{name}.auroc") >= 0.95
        ]  # fmt: skip
        lines.append(f"  - {name}: {_yes(not bad)}" + (f"; below: {', '.join(bad)}" if bad else ""))
    best = [
        g for g in groups
        if g.attack in ("badnets", "blended") and g.records
        and max(g.mean(f"{d}.auroc") for d in DETECTORS) < 0.95
    ]  # fmt: skip
    cells = ", ".join(f"{g.dataset} {g.attack} {100 * g.rate:g}%" for g in best)
    lines.append(f"  - best of the four per row: {_yes(not best)}" + (f"; {cells}" if best else ""))
    return lines


def _false_alarms(groups: list[Group]) -> list[str]:
    lines = []
    for g in (g for g in groups if g.attack == "no attack"):
        susp = {d: sum(len(r[f"{d}.suspicious"]) for r in g.records) for d in DETECTORS}
        nc = sum(len(r["nc.flagged"]) for r in g.records)
        ok = not any(susp.values()) and nc == 0
        detail = ", ".join(f"{d} {v}" for d, v in susp.items())
        lines.append(f"  - {g.dataset}: {_yes(ok)} (suspicious classes: {detail}; NC flags {nc})")
    return lines


def _strip_target(groups: list[Group]) -> list[str]:
    rows = [g for g in groups if g.attack == "badnets" and g.records]
    bad = [f"{g.dataset} {100 * g.rate:g}% ({100 * g.mean('strip.far'):.1f}%)" for g in rows
           if not g.mean("strip.far") < 0.05]  # fmt: skip
    return [f"  - BadNets: {_yes(not bad)}" + (f"; FAR >= 5%: {', '.join(bad)}" if bad else "")]


def _repair_target(groups: list[Group]) -> list[str]:
    lines = []
    for key, what in (("fp", "fine-pruning"), ("rt", "retrain without flags")):
        bad = []
        for g in (g for g in groups if g.attack in BACKDOORS and g.records):
            asr, drop = g.mean(f"{key}.asr_after"), g.mean(f"{key}.acc_drop")
            if not (asr < 0.10 and drop < 0.02):
                bad.append(f"{g.dataset} {g.attack} {100 * g.rate:g}% ({100 * asr:.1f}% / "
                           f"{100 * drop:.1f} pt)")  # fmt: skip
        lines.append(
            f"  - {what}: {_yes(not bad)}" + (f"; misses: {', '.join(bad)}" if bad else "")
        )
    return lines


def targets(groups: list[Group]) -> str:
    """The issue's targets, each met or missed, with the cells that miss (means over seeds)."""
    lines = ["**Targets** (means over seeds)", ""]
    lines.append("- data-detector AUROC >= 0.95 on BadNets and Blended at every rate:")
    lines += _auroc_target(groups)
    lines.append("- zero false alarms on the no-attack rows (no suspicious class, no NC flag):")
    lines += _false_alarms(groups)
    lines.append("- STRIP FAR < 5% at 1% FRR on patch triggers:")
    lines += _strip_target(groups)
    lines.append("- repair leaves ASR < 10% with clean-accuracy drop < 2 points (backdoor rows):")
    lines += _repair_target(groups)
    return "\n".join(lines)
