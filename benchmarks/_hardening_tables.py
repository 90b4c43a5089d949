"""Tables of the hardening benchmark: seeds aggregated to mean ± sd (sample sd), one
table per dataset, the randomized-smoothing comparison, and the issue's targets."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks._common import table
from benchmarks._hardening_data import CONTROL, DATASETS, METHODS, Spec, spec

__all__ = ["render", "smoothing_table", "targets"]

Record = dict[str, Any]
DASH = "—"
FLAG = ("WARN", "FAIL")
LABELS = {
    "standard": "standard (undefended)",
    "pgd-at": "PGD-AT",
    "trades": "TRADES",
    "fgsm-rs": "FGSM-RS (as shipped, overfitting guard on)",
    "fgsm-rs-noguard": "FGSM-RS, guard off (diagnostic)",
    "pgd-at-half": "PGD-AT trained at eps/2 (the trade-off knob)",
    CONTROL: "control: standard model + input rounding (gradient masking by construction)",
}


def _runs(records: Sequence[Record], dataset: str) -> list[Record]:
    return [r for r in records if r["kind"] == "train" and r["dataset"] == dataset]


def _vals(runs: list[Record], method: str, key: str, index: int | None = None) -> list[float]:
    out = []
    for r in runs:
        v = r["methods"][method].get(key)
        if v is not None:
            out.append(float(v[index] if index is not None else v))
    return out


def _mean(vals: list[float]) -> float:
    return float(np.mean(vals)) if vals else math.nan


def _fmt(vals: list[float], scale: float = 100.0, digits: int = 1) -> str:
    """``mean ± sd`` over seeds (no sd with one seed)."""
    if not vals:
        return DASH
    v = [scale * x for x in vals]
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{np.mean(v):.{digits}f} ± {np.std(v, ddof=1):.{digits}f}"


def _ratios(runs: list[Record], method: str, ref: str, cpu: bool = False) -> list[float]:
    """Per round of every seed: this method's training time / the reference's."""
    i = 1 if cpu else 0
    return [t[method][i] / t[ref][i] for r in runs for t in r["timing"]]


def _seconds(runs: list[Record], method: str, cpu: bool = False) -> list[float]:
    return [t[method][1 if cpu else 0] for r in runs for t in r["timing"]]


def _ratio(vals: list[float]) -> str:
    """Median over seeds of per-seed ratios, with the range."""
    if not vals:
        return DASH
    med = statistics.median(vals)
    if len(vals) == 1:
        return f"{med:.2f}x"
    return f"{med:.2f}x ({min(vals):.2f}-{max(vals):.2f})"


def _flag_list(runs: list[Record], method: str) -> str:
    """Sanity checks that warned or failed, with in how many seeds ('' when none)."""
    counts: dict[str, int] = {}
    for r in runs:
        for cid, status in r["methods"][method]["checks"].items():
            if status in FLAG:
                counts[f"{cid} {status}"] = counts.get(f"{cid} {status}", 0) + 1
    return ", ".join(f"{k} {v}/{len(runs)}" for k, v in counts.items())


def _checks(runs: list[Record], method: str) -> str:
    """Which sanity checks warned or failed, in how many seeds."""
    found = _flag_list(runs, method)
    return f"**flagged**: {found}" if found else f"all PASS ({len(runs)}/{len(runs)} seeds)"


def flagged(runs: list[Record], method: str) -> bool:
    """A sanity check warned or failed on this method's model in some seed."""
    return any(v in FLAG for r in runs for v in r["methods"][method]["checks"].values())


def _row(runs: list[Record], method: str, s: Spec) -> list[str]:
    robust = [_fmt(_vals(runs, method, "robust", k)) for k in range(len(s.eps))]
    time: tuple[str, str]
    if method == CONTROL:
        time = DASH, DASH
    elif method == "standard":
        wall, cpu = statistics.median(_seconds(runs, method)), _seconds(runs, method, True)
        time = f"1.00x ({wall:.2f} s)", f"1.00x ({statistics.median(cpu):.2f} s)"
    else:
        time = (
            _ratio(_ratios(runs, method, "standard")),
            _ratio(_ratios(runs, method, "standard", True)),
        )
    return [
        LABELS[method],
        _fmt(_vals(runs, method, "clean")),
        *robust,
        _fmt(_vals(runs, method, "ece"), 1.0, 3),
        *time,
        _checks(runs, method),
    ]


def _notes(runs: list[Record], s: Spec) -> str:
    fallback = [r["methods"]["fgsm-rs"]["overfit"] for r in runs]
    fgsm_epochs = [r["methods"]["fgsm-rs"]["fgsm_epochs"] for r in runs]
    fell = sum(1 for f in fallback if f)
    guard = {
        m: statistics.median(
            r["methods"][m]["guard_s"] / statistics.median(t[m][0] for t in r["timing"])
            for r in runs
        )
        for m in ("pgd-at", "trades", "fgsm-rs-noguard")
    }
    return (
        f"FGSM-RS as shipped: the guard (PGD-10 on a fixed batch of {s.batch} training "
        f"samples after every epoch) declared catastrophic overfitting and fell back to "
        f"PGD-AT in {fell}/{len(runs)} seeds (epochs trained with FGSM: "
        f"{', '.join(map(str, fgsm_epochs))} of {s.epochs}; overfitting flagged at epoch(s) "
        f"{'; '.join(','.join(map(str, f)) or DASH for f in fallback)}). "
        f"The guard's share of training wall time (estimated: one guard call on the "
        f"final model x epochs): PGD-AT {guard['pgd-at']:.0%}, TRADES {guard['trades']:.0%}, "
        f"FGSM-RS guard off {guard['fgsm-rs-noguard']:.0%}."
    )


def render(records: Sequence[Record], seeds: int) -> str:
    """One table per dataset."""
    parts = []
    for dataset in DATASETS:
        runs = _runs(records, dataset)
        if not runs:
            continue
        s, n = spec(dataset), runs[0]["samples"]
        eps = " / ".join(f"{e:g}" for e in s.eps)
        heads = [f"robust @ {e:g}{' (headline)' if e == s.headline else ''}" for e in s.eps]
        parts.append(
            f"### {dataset}\n\n**Linf eps {eps}, headline {s.headline:g}; the first {n} test "
            f"samples, the same for every model; {seeds} seed(s), mean ± sd, accuracies in "
            f"%.** Every method: {s.epochs} epochs, Adam lr {s.lr:g}, batch {s.batch}, the "
            f"seed's initial weights; adversarial methods train at eps {s.headline:g} "
            f"(the eps/2 row at {s.headline / 2:g}) "
            f"(PGD-AT and TRADES: {s.steps} PGD steps, TRADES beta {s.beta:g}). Robust "
            f"accuracy: the `standard` suite (APGD-CE, APGD-T, Square 5000), worst case per "
            f"sample. Time: median over {len(runs[0]['timing'])} rounds x {seeds} seed(s) of "
            f"(method / standard) training time, wall and CPU (one thread: CPU time is the "
            f"process's own work, unaffected by other load), in the same process, range in "
            f"brackets; in brackets on the standard row its median seconds."
        )
        rows = [_row(runs, m, s) for m in (*METHODS, CONTROL)]
        parts.append(
            table(
                [
                    "method",
                    "clean",
                    *heads,
                    "ECE",
                    "train time / standard (wall)",
                    "(CPU)",
                    "sanity checks",
                ],
                rows,
            )
        )
        parts.append(_notes(runs, s))
    return "\n\n".join(parts)


# --------------------------------------------------------------------------- smoothing


def _cp(k: int, m: int, level: float = 0.95) -> tuple[float, float]:
    """Two-sided Clopper-Pearson interval for ``k`` of ``m``."""
    from scipy.stats import beta

    a = 1 - level
    lo = float(beta.ppf(a / 2, k, m - k + 1)) if k > 0 else 0.0
    hi = float(beta.ppf(1 - a / 2, k + 1, m - k)) if k < m else 1.0
    return lo, hi


def _certified(r: Record, side: str, radius: float) -> np.ndarray:
    pred, rad = np.asarray(r[f"{side}_pred"]), np.asarray(r[f"{side}_radius"])
    return (pred == np.asarray(r["labels"])) & (rad >= radius)


def smoothing_summary(r: Record) -> dict[str, Any]:
    """Certified accuracies of both sides at the headline radius, their intervals, and
    whether they agree (the tolerance of tests/defenses/test_smoothing.py: the 99%
    normal-approximation binomial half-width over the samples)."""
    s, m = spec(r["dataset"]), r["samples"]
    ours, theirs = _certified(r, "redline", s.radius), _certified(r, "art", s.radius)
    p = float(ours.mean())
    tol = 2.576 * math.sqrt(max(p * (1 - p), 1 / m) / m)
    return {
        "ours": p,
        "theirs": float(theirs.mean()),
        "ci_ours": _cp(int(ours.sum()), m),
        "ci_theirs": _cp(int(theirs.sum()), m),
        "tol": tol,
        "agree": abs(p - float(theirs.mean())) <= tol,
        "discordant": int((ours != theirs).sum()),
    }


def smoothing_table(records: Sequence[Record]) -> str:
    runs = [r for r in records if r["kind"] == "smoothing"]
    if not runs:
        return ""
    rows = []
    for r in runs:
        s, sm = spec(r["dataset"]), smoothing_summary(r)
        clean = [float(_certified(r, side, 0.0).mean()) for side in ("redline", "art")]
        double = [float(_certified(r, side, 2 * s.radius).mean()) for side in ("redline", "art")]
        lo, hi = sm["ci_ours"]
        alo, ahi = sm["ci_theirs"]
        rows.append([
            r["dataset"],
            f"{s.sigma:g}",
            f"{s.n0} / {s.n} / {s.alpha:g}",
            str(r["samples"]),
            f"{r['max_radius']:.3f}",
            f"{100 * clean[0]:.1f} / {100 * clean[1]:.1f}",
            f"{100 * sm['ours']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]",
            f"{100 * sm['theirs']:.1f} [{100 * alo:.1f}, {100 * ahi:.1f}]",
            f"{100 * abs(sm['ours'] - sm['theirs']):.1f} / {100 * sm['tol']:.1f}",
            "yes" if sm["agree"] else "**no**",
            str(sm["discordant"]),
            f"{100 * double[0]:.1f} / {100 * double[1]:.1f}",
            f"{r['redline_s']:.1f} / {r['art_s']:.1f}",
        ])  # fmt: skip
    head = (
        "### Randomized smoothing: redline vs ART's PyTorchRandomizedSmoothing\n\n"
        "**One Gaussian-augmented model per dataset (seed 0; same epochs, Adam lr and "
        "batches as above), certified by redline's `certify_dataset` and by ART's "
        "`certify` on the same model, samples, sigma, n0, n and alpha, in the same "
        "process.** Certified accuracy (a guarantee with probability 1 - alpha per "
        "sample, not an empirical robust accuracy) in %, at L2 radius r = sigma "
        "(headline) with two-sided 95% Clopper-Pearson intervals over the samples. "
        "Agree: |difference| within the 99% binomial half-width of "
        "tests/defenses/test_smoothing.py. Discordant: samples certified correct at r by "
        "one side only (independent Monte Carlo draws on each side). Seconds: one run each."
    )
    headers = [
        "dataset", "sigma", "n0 / n / alpha", "samples", "max radius",
        "clean (r=0) redline / ART", "r=sigma redline", "r=sigma ART",
        "abs diff / tolerance", "agree", "discordant", "r=2 sigma redline / ART",
        "certify s redline / ART",
    ]  # fmt: skip
    return head + "\n\n" + table(headers, rows)


# --------------------------------------------------------------------------- targets


def _at_target(runs: list[Record], s: Spec) -> tuple[str, str]:
    k = s.eps.index(s.headline)
    parts, passed = [], []
    for method in ("pgd-at", "trades", "pgd-at-half"):
        gain = [
            r["methods"][method]["robust"][k] - r["methods"]["standard"]["robust"][k] for r in runs
        ]
        cost = [r["methods"]["standard"]["clean"] - r["methods"][method]["clean"] for r in runs]
        ok = _mean(gain) >= 0.30 and _mean(cost) <= 0.05
        parts.append(
            f"{LABELS[method]}: robust {_fmt(_vals(runs, 'standard', 'robust', k))} -> "
            f"{_fmt(_vals(runs, method, 'robust', k))}, gain {_fmt(gain)} pts; clean cost "
            f"{_fmt(cost)} pts"
        )
        if ok:
            passed.append(method)
    if not passed:
        verdict = "**no**"
    else:
        clean = [m for m in passed if not flagged(runs, m)]
        names = ", ".join(LABELS[m] for m in clean or passed)
        verdict = f"yes ({names})"
        if not clean:
            why = "; ".join(f"{LABELS[m]} {_checks(runs, m)}" for m in passed)
            verdict = f"numbers yes ({names}), but {why}"
    return "; ".join(parts), verdict


def _fgsm_target(runs: list[Record], s: Spec) -> tuple[str, str]:
    """As shipped decides; the guard-off diagnostic is shown beside it. Time judged on
    wall (as the issue asks) and on CPU time (robust to other load); both are given."""
    k = s.eps.index(s.headline)
    pgd = _mean(_vals(runs, "pgd-at", "robust", k))
    parts, verdict = [], ""
    for method in ("fgsm-rs", "fgsm-rs-noguard"):
        acc = _mean(_vals(runs, method, "robust", k))
        share = acc / pgd if pgd > 0 else math.nan
        wall, cpu = _ratios(runs, method, "pgd-at"), _ratios(runs, method, "pgd-at", True)
        parts.append(
            f"{LABELS[method]}: robust {100 * acc:.1f} vs PGD-AT {100 * pgd:.1f} = "
            f"{100 * share:.0f}% of it, at {_ratio(wall)} its training time (CPU {_ratio(cpu)})"
        )
        if method != "fgsm-rs":
            continue
        fast = [statistics.median(v) <= 0.4 for v in (wall, cpu)]
        if share < 0.9 or not any(fast):
            verdict = "**no**"
        elif not all(fast):
            verdict = f"wall {'yes' if fast[0] else '**no**'}, CPU {'yes' if fast[1] else '**no**'}"
        else:
            verdict = "yes"
        if verdict != "**no**" and flagged(runs, method):
            verdict += f", but {_checks(runs, method)}"
    return "; ".join(parts), verdict


def targets(records: Sequence[Record]) -> str:
    """The issue's targets against the numbers, per dataset."""
    rows = []
    for dataset in DATASETS:
        runs = _runs(records, dataset)
        if not runs:
            continue
        s = spec(dataset)
        measured, verdict = _at_target(runs, s)
        rows.append([
            f"PGD-AT or TRADES (any training eps): +30 pts robust at eps {s.headline:g} over "
            "undefended, clean cost <= 5 pts",
            dataset, measured, verdict,
        ])  # fmt: skip
        measured, verdict = _fgsm_target(runs, s)
        rows.append([
            "FGSM-RS: >= 90% of PGD-AT's robust accuracy at <= 0.4x its training time",
            dataset, measured, verdict,
        ])  # fmt: skip
        hardened = [m for m in METHODS if m != "standard" and flagged(runs, m)]
        control = sum(
            1 for r in runs if any(v in FLAG for v in r["methods"][CONTROL]["checks"].values())
        )
        fails = sorted(
            {c for r in runs for c, v in r["methods"][CONTROL]["checks"].items() if v in FLAG}
        )
        rows.append([
            "every hardened model checked; gradient masking flagged, not celebrated",
            dataset,
            f"masked control flagged in {control}/{len(runs)} seeds ({', '.join(fails)}); "
            "hardened models with a WARN/FAIL: "
            + ("; ".join(f"{LABELS[m]} ({_flag_list(runs, m)})" for m in hardened) or "none"),
            "yes" if control == len(runs) else "**no**",
        ])  # fmt: skip
    for r in (r for r in records if r["kind"] == "smoothing"):
        s, sm = spec(r["dataset"]), smoothing_summary(r)
        rows.append([
            f"randomized smoothing: certified accuracy at L2 radius {s.radius:g} beside "
            "ART's PyTorchRandomizedSmoothing, agreeing within the confidence bound",
            r["dataset"],
            f"redline {100 * sm['ours']:.1f}%, ART {100 * sm['theirs']:.1f}% "
            f"(abs diff {100 * abs(sm['ours'] - sm['theirs']):.1f} <= {100 * sm['tol']:.1f}?)",
            "yes" if sm["agree"] else "**no**",
        ])  # fmt: skip
    return "### Targets\n\n" + table(["target", "model", "measured", "met?"], rows)
