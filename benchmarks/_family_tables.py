"""Worst-case tables of the backdoor family benchmark: per dataset, family and rate, the
distribution over draws (minimum first), never a mean of chosen cases."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks._common import table
from benchmarks._family_draws import ADAPTIVE

__all__ = ["DETECTORS", "render", "summary", "targets"]

Record = dict[str, Any]
DETECTORS = {
    "combined": "combined (verdict)",
    "spectral": "spectral",
    "clustering": "clustering",
    "robust": "robust",
    "isolation": "isolation",
    "art-ss-hidden": "ART SS (last hidden)",
    "art-ac-hidden": "ART AC (last hidden)",
}
_GOOD_ASR = 0.9
_TAKES = 0.5
"""A draw whose backdoor took: ASR >= 50% (the weaker ones are shown, and counted apart)."""


def _groups(records: Sequence[Record]) -> dict[tuple[str, str, float], list[Record]]:
    out: dict[tuple[str, str, float], list[Record]] = defaultdict(list)
    for r in records:
        out[(r["dataset"], r["family"], r["rate"])].append(r)
    return out


def _values(rs: Sequence[Record], key: str) -> np.ndarray:
    v = np.asarray([r.get(key, math.nan) for r in rs], np.float64)
    return v[~np.isnan(v)]


def _dist(v: np.ndarray, pct: bool = False) -> str:
    """``min / p10 / median`` of the draws (``—`` when nothing was measured)."""
    if not len(v):
        return "—"
    f = (lambda a: f"{100 * a:.0f}") if pct else (lambda a: f"{a:.3f}")
    return " / ".join(f(q) for q in (v.min(), np.quantile(v, 0.1), np.median(v)))


def _asr(rs: Sequence[Record]) -> str:
    v = _values(rs, "asr")
    good = int((v >= _GOOD_ASR).sum())
    return f"{100 * v.min():.0f} / {100 * np.median(v):.0f} ({good}/{len(v)} >= 90%)"


def _named(rs: Sequence[Record], key: str) -> str:
    """Draws whose target class the detector named, among draws with ASR >= 90%."""
    strong = [r for r in rs if r.get("asr", 0.0) >= _GOOD_ASR]
    hit = sum(r["target_class"] in r.get(key, []) for r in strong)
    other = sum(len([c for c in r.get(key, []) if c != r["target_class"]]) for r in rs)
    return f"{hit}/{len(strong)}" + (f" (+{other} other)" if other else "")


def _took(rs: Sequence[Record], key: str) -> str:
    """Minimum over the draws whose backdoor took (ASR >= 50%), with their count."""
    took = [r for r in rs if r.get("asr", 0.0) >= _TAKES]
    v = _values(took, key)
    return f"{v.min():.3f} ({len(v)})" if len(v) else "— (0)"


def _rows(groups: dict[Any, list[Record]], dataset: str, cell: Any) -> list[list[str]]:
    rows = []
    for (ds, family, rate), rs in groups.items():
        if ds == dataset and family != "no attack":
            rows.append([family, f"{rate:.0%}", str(len(rs)), _asr(rs), *cell(rs)])
    return rows


def _clean(groups: dict[Any, list[Record]], dataset: str) -> str:
    rs = groups.get((dataset, "no attack", 0.0), [])
    if not rs:
        return ""
    names = ["combined", "spectral", "clustering", "robust", "isolation", "nc.flagged"]
    parts = []
    for n in names:
        key = n if n.startswith("nc") else f"{n}.suspicious"
        models = sum(bool(r.get(key)) for r in rs)
        parts.append(f"{n.replace('.flagged', '')} {models}/{len(rs)}")
    return (
        f"Clean training sets ({len(rs)} models): models with a flagged class: "
        + ", ".join(parts)
        + "."
    )


def _mins(rs: Sequence[Record], keys: Sequence[str]) -> str:
    return " / ".join(
        f"{v.min():.3f}" if len(v := _values(rs, f"{k}.auroc")) else "—" for k in keys
    )


def summary(records: Sequence[Record]) -> str:
    """The README's table: the minimum over draws per family and rate, both data sets."""
    groups = _groups(records)
    members = ["spectral", "clustering", "robust", "isolation"]
    head = ["data", "family", "rate", "draws", "ASR % median (>= 90%)", "combined (verdict)",
            "spectral / clustering / robust / isolation", "best ART",
            "Neural Cleanse names target", "STRIP FAR % median"]  # fmt: skip
    rows = []
    for (ds, family, rate), rs in groups.items():
        if family == "no attack":
            continue
        asr = _values(rs, "asr")
        arts = [_values(rs, f"{k}.auroc") for k in DETECTORS if k.startswith("art")]
        art = max((float(v.min()) for v in arts if len(v)), default=math.nan)
        far = _values(rs, "strip.far")
        rows.append([
            ds, family, f"{rate:.0%}", str(len(rs)),
            f"{100 * np.median(asr):.0f} ({int((asr >= _GOOD_ASR).sum())}/{len(asr)})",
            _mins(rs, ["combined"]), _mins(rs, members), f"{art:.3f}",
            _named(rs, "nc.flagged"), f"{100 * np.median(far):.0f}" if len(far) else "—",
        ])  # fmt: skip
    return "**Minimum poisoned-sample AUROC over the draws** (cover samples left out)\n\n" + table(
        head, rows
    )


def render(records: Sequence[Record], draws: int) -> str:
    """Every table, per dataset."""
    groups, out = _groups(records), []
    head = ["family", "rate", "draws", "ASR % min / median"]
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        auc = [DETECTORS[k] for k in DETECTORS]
        out.append(
            f"### {dataset}\n\n**A. Poisoned-sample AUROC over {draws} draws: min / p10 / "
            f"median** (cover samples left out)\n\n"
            + table(head + auc + ["combined min, ASR >= 50% (draws)"],
                    _rows(groups, dataset, lambda rs: [
                _dist(_values(rs, f"{k}.auroc")) for k in DETECTORS]
                + [_took(rs, "combined.auroc")]))
        )  # fmt: skip
        out.append(
            f"**B. TPR % at 5% FPR over {draws} draws: min / p10 / median**\n\n"
            + table(head + auc, _rows(groups, dataset, lambda rs: [
                _dist(_values(rs, f"{k}.tpr5"), pct=True) for k in DETECTORS]))
        )  # fmt: skip
        verdict = ["combined names target", "Neural Cleanse names target",
                   "STRIP FAR % min / p10 / median"]  # fmt: skip
        out.append(
            "**C. Verdicts**: draws whose target class is named, among draws with ASR >= "
            "90% (+ other classes flagged, over all draws); STRIP at 1% FRR\n\n"
            + table(head + verdict, _rows(groups, dataset, lambda rs: [
                _named(rs, "combined.suspicious"), _named(rs, "nc.flagged"),
                _dist(_values(rs, "strip.far"), pct=True)]))
        )  # fmt: skip
        out.append(_clean(groups, dataset))
    return "\n\n".join(o for o in out if o)


def targets(records: Sequence[Record]) -> str:
    """The issue's targets, each met or missed with the number that decides it."""
    groups, lines = _groups(records), []
    for (ds, family, rate), rs in groups.items():
        if family == "no attack":
            continue
        v = _values(rs, "combined.auroc")
        if not len(v):
            continue
        need = 0.85 if family in ADAPTIVE else (0.90 if rate < 0.05 else 0.95)
        if family in ADAPTIVE:
            best = max(DETECTORS, key=lambda k: _values(rs, f"{k}.auroc").min(initial=1.0))
            v = _values(rs, f"{best}.auroc")
        ok = v.min() >= need
        lines.append(f"- {ds} {family} {rate:.0%}: min AUROC {v.min():.3f} (need {need:.2f}) "
                     f"{'met' if ok else 'MISSED'}")  # fmt: skip
    return "**Targets** (issue 12)\n\n" + "\n".join(lines)
