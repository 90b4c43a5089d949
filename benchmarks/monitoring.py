"""Drift benchmark (issue 14): redline's drift alarms against Evidently's DataDriftPreset
and Alibi Detect's TabularDrift on the same synthetic windows: calibration under no
drift, no alarm for a negligible shift at a million rows, power on a small real shift,
and the cost of profiling a million rows.

Data (``benchmarks/_monitoring_data.py``): numeric columns of eight kinds (normal,
lognormal, exponential, Student t with 4 degrees of freedom, uniform, bimodal, Poisson
counts, values rounded to 0.1: the last two with ties) and categorical columns of 2 to
50 categories with skewed frequencies; every window is drawn from its own seed, each
side draws it itself and the peers return a digest of their rows, checked here.

How each side is run:

- redline: ``Profile.from_arrays`` of each window (categorical columns named), then
  ``DriftDetector(bootstrap=0, multivariate=True|False, seed=trial).fit(ref).score(cur)``
  at the default alpha (0.05, Benjamini-Hochberg across every finding) and the default
  effect thresholds. ``bootstrap=0``: alarms never read the bootstrap interval, only the
  q-value and the point effect. An alarm is a finding of status ``drift``. Large windows
  are profiled 100,000 rows at a time and the chunk profiles merged (the KLL sketch path).
- Evidently (``--evidently-python``, default ``/tmp/venv-evidently/bin/python``): the
  legacy ``DataDriftTable`` at the DataDriftPreset's defaults (drift_share 0.5, methods
  chosen per column: above 1,000 rows normed Wasserstein distance >= 0.1 for numeric
  columns, Jensen-Shannon distance >= 0.1 for categorical ones). The preset's other
  metric repeats the same column tests; on the first ``--check-trials`` windows the
  legacy preset and the new (0.7) API's preset run too and must flag the same columns.
- Alibi Detect (``--alibi-python``, default ``/tmp/venv-alibi/bin/python``):
  ``TabularDrift(p_val=0.05)`` (KS per numeric column, chi-squared per categorical one),
  ``is_drift`` with its default Bonferroni correction; per-feature flags at the
  uncorrected 0.05 (its "feature" mode) and at the corrected level.

Run: ``python -m benchmarks.monitoring [--quick]`` (``nice``, one thread).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks._common import (
    ROOT,
    base_parser,
    machine_line,
    prepare_process,
    redline_revision,
    save_results,
    table,
)
from benchmarks._monitoring_data import (
    CAT_SHIFT,
    NO_SHIFT,
    Schema,
    Shift,
    Table,
    digest,
    draw,
    draw_chunks,
    feed,
)

if TYPE_CHECKING:
    from redline.monitoring import Profile
    from redline.results import DriftResult

__all__ = ["main"]

PEER = ROOT / "benchmarks" / "_monitoring_drift_peer.py"
NULL = Schema(50, 10)
POWER = Schema(100, 10)
POWER_SHIFT = Shift(numeric=(0, 9, 22), delta=0.25, categorical=(0,), cat_delta=CAT_SHIFT)
"""0.25 sigma on a normal, a lognormal and a Poisson column; 5 points of category
frequency moved (0.30 -> 0.25, 0.20 -> 0.25)."""
LARGE_SHIFT = Shift(tuple(range(50)), 0.01, tuple(range(10)), 0.005)
"""Every numeric column by 0.01 sigma, every categorical one by half a point."""
ROWS = 5_000
CHUNK = 100_000
SCALE_COLUMNS = 200
SHARDS = 100
ALT_TVD = (0.04, 0.05)
"""Total-variation thresholds of the diagnosis rows: the one of the two that is not
redline's default (0.05 was the default until the power table missed with it)."""
TARGET_NULL = 0.05
TARGET_POWER = 0.95
TARGET_SECONDS = 120.0
TARGET_RSS_MB = 1024.0
SEEDS = {"null": 1_000_000, "power": 2_000_000, "large": 3_000, "scale": 4_000}


# --------------------------------------------------------------------------- redline


@dataclass
class Outcome:
    """What one redline run found: columns that alarmed or were only significant, the
    multivariate tests that alarmed or were significant, and the effects asked for."""

    alarms: list[str]
    significant: list[str]
    multi_alarms: list[str]
    multi_significant: list[str]
    seconds: float
    effects: dict[str, float] = field(default_factory=dict)


@dataclass
class Trial:
    """One pair of windows on redline's side."""

    digests: list[str]
    off: Outcome
    on: Outcome | None
    p_values: dict[str, list[float]]
    alt_tvd: Outcome | None
    profile_seconds: float


def _columns(t: Table) -> tuple[dict[str, Any], list[str]]:
    num, cat = t.schema.names
    data: dict[str, Any] = {n: t.numeric[:, j] for j, n in enumerate(num)}
    data |= {n: t.categorical[:, k] for k, n in enumerate(cat)}
    return data, cat


def _profile(t: Table, seed: int) -> Profile:
    from redline.monitoring import Profile

    data, cat = _columns(t)
    return Profile.from_arrays(data, categorical=cat, seed=seed)


def _profile_large(schema: Schema, n: int, seed: int, shift: Shift) -> tuple[Profile, str]:
    """A window too large for the exact path, profiled chunk by chunk and merged."""
    total: Profile | None = None
    hasher = hashlib.sha256()
    for i, part in enumerate(draw_chunks(schema, n, CHUNK, seed, shift)):
        feed(hasher, part)
        p = _profile(part, seed * 1000 + i)
        total = p if total is None else total.merge(p)
    assert total is not None
    return total, hasher.hexdigest()[:16]


def _score(
    ref: Profile, cur: Profile, multivariate: bool, seed: int, tvd: float | None = None
) -> tuple[DriftResult, float]:
    from redline.monitoring import DriftDetector

    start = time.perf_counter()
    thresholds = {} if tvd is None else {"tvd": tvd}
    detector = DriftDetector(
        bootstrap=0, multivariate=multivariate, seed=seed, thresholds=thresholds
    )
    result = detector.fit(ref).score(cur)
    return result, time.perf_counter() - start


def _outcome(result: DriftResult, seconds: float, watch: Sequence[str] = ()) -> Outcome:
    cols = [f for f in result.findings if f.kind in ("numeric", "categorical", "missing")]
    multi = [f for f in result.findings if f.kind == "multivariate"]
    effects = {f.feature: f.effect.value for f in cols if f.feature in watch and f.effect}
    return Outcome(
        alarms=[f.feature for f in cols if f.status == "drift"],
        significant=[f.feature for f in cols if f.status == "significant"],
        multi_alarms=[f.feature for f in multi if f.status == "drift"],
        multi_significant=[f.feature for f in multi if f.status == "significant"],
        seconds=seconds,
        effects=effects,
    )


def _group(schema: Schema, feature: str, test: str) -> str:
    """The p-value group of a finding: the test and the column's kind."""
    if feature.startswith("num"):
        return f"KS, {schema.kind(int(feature[3:]))}"
    if feature.startswith("cat"):
        size = len(schema.frequencies(int(feature[3:])))
        return f"chi2, {'2-6' if size <= 6 else '8-12' if size <= 12 else '20-50'} categories"
    return test.upper()


def _p_values(schema: Schema, results: Iterable[DriftResult | None]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for result in results:
        if result is None:
            continue
        for f in result.findings:
            multi = f.kind == "multivariate"
            if f.p_value is not None and (multi or result.settings.multivariate is False):
                out[_group(schema, f.feature, f.test)].append(f.p_value)
    return out


def _trial(
    ref: Table,
    cur: Table,
    seed: int,
    both: bool,
    watch: Sequence[str] = (),
    tvd: float | None = None,
) -> Trial:
    """Both windows profiled, scored with the multivariate tests off (and on; and off
    with another total-variation threshold ``tvd``, a diagnosis)."""
    start = time.perf_counter()
    a, b = _profile(ref, 2 * seed), _profile(cur, 2 * seed + 1)
    profile_seconds = time.perf_counter() - start
    off, t_off = _score(a, b, False, seed)
    on, t_on = _score(a, b, True, seed) if both else (None, 0.0)
    alt, t_alt = _score(a, b, False, seed, tvd) if tvd is not None else (None, 0.0)
    return Trial(
        digests=[digest(ref), digest(cur)],
        off=_outcome(off, t_off, watch),
        on=None if on is None else _outcome(on, t_on, watch),
        p_values=_p_values(ref.schema, [off, on]),
        profile_seconds=profile_seconds,
        alt_tvd=None if alt is None else _outcome(alt, t_alt, watch),
    )


def _pairs(base: int, count: int) -> list[tuple[int, int]]:
    """Seeds of the reference and current windows of each trial."""
    return [(base + 2 * i, base + 2 * i + 1) for i in range(count)]


def _run_trials(
    name: str,
    schema: Schema,
    pairs: list[tuple[int, int]],
    shift: Shift,
    both: int,
    watch: Sequence[str] = (),
    tvd: float | None = None,
) -> list[Trial]:
    """Redline on every pair (multivariate on for the first ``both``), with progress."""
    out, start = [], time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's "exact calculation unsuccessful" on ties
        for i, (r, c) in enumerate(pairs):
            ref, cur = draw(schema, ROWS, r), draw(schema, ROWS, c, shift)
            out.append(_trial(ref, cur, i, i < both, watch, tvd))
            if (i + 1) % 50 == 0 or i + 1 == len(pairs):
                print(
                    f"  redline {name}: {i + 1}/{len(pairs)} trials, "
                    f"{time.perf_counter() - start:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    return out


# --------------------------------------------------------------------------- peers


@dataclass
class PeerRun:
    """A peer's per-trial results and versions (None when its venv is missing)."""

    name: str
    versions: str
    trials: list[dict[str, Any]]
    wall: float


def _peer(
    name: str, python: str, schema: Schema, trials: list[dict[str, Any]], check: int = 0
) -> PeerRun | None:
    """Run the worker in the peer's venv on the trials (one process)."""
    if not Path(python).exists():
        print(f"({name}: {python} not found, its side is skipped)", file=sys.stderr)
        return None
    spec = {
        "numeric": schema.numeric,
        "categorical": schema.categorical,
        "trials": trials,
        "check": check,
    }
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
        "DO_NOT_TRACK": "1",
    }
    with tempfile.TemporaryDirectory() as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps(spec))
        start = time.perf_counter()
        done = subprocess.run(
            [python, str(PEER), name, str(spec_path), str(out_path)], env=env, cwd=tmp, check=False
        )
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"the {name} worker failed (exit {done.returncode})")
        raw = json.loads(out_path.read_text())
    return PeerRun(name, str(raw["versions"]), list(raw["trials"]), wall)


def _spec(
    pair: tuple[int, int], rows: int, shift: Shift, chunk: int | None = None
) -> dict[str, Any]:
    return {
        "ref": [rows, pair[0]],
        "cur": [rows, pair[1]],
        "shift": shift.to_dict(),
        "chunk": chunk,
    }


def _check(run: PeerRun | None, digests: list[list[str]]) -> None:
    """Stop if a peer drew other rows than redline did."""
    if run is None:
        return
    for i, t in enumerate(run.trials):
        if t["digests"] != digests[i]:
            raise SystemExit(f"{run.name} trial {i}: other rows than redline's ({t['digests']})")


@dataclass
class Peers:
    """Both peers' runs of one table."""

    evidently: PeerRun | None
    alibi: PeerRun | None


def _peers(
    args: argparse.Namespace,
    schema: Schema,
    specs: list[dict[str, Any]],
    n_evidently: int,
    digests: list[list[str]],
) -> Peers:
    ev = _peer("evidently", args.evidently_python, schema, specs[:n_evidently], args.check_trials)
    al = _peer("alibi", args.alibi_python, schema, specs)
    _check(ev, digests)
    _check(al, digests)
    return Peers(ev, al)


# --------------------------------------------------------------------------- statistics


def _ci(k: int, n: int) -> tuple[float, float]:
    """Clopper-Pearson 95% interval of a binomial rate."""
    from scipy.stats import beta

    low = 0.0 if k == 0 else float(beta.ppf(0.025, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(0.975, k + 1, n - k))
    return low, high


def _rate(k: int, n: int) -> str:
    low, high = _ci(k, n)
    return f"{k}/{n} = {100 * k / n:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _median(values: Iterable[float]) -> str:
    items = list(values)
    return f"{statistics.median(items):.3g}" if items else "-"


# --------------------------------------------------------------------------- table 1


@dataclass
class NullRun:
    """Table 1's trials on every side."""

    trials: list[Trial]
    peers: Peers
    both: int


def _threshold(name: str) -> float:
    """Redline's default effect threshold ``name``."""
    from redline.monitoring import DEFAULT_THRESHOLDS

    return float(DEFAULT_THRESHOLDS[name])


def _alt_tvd() -> float:
    return ALT_TVD[1] if _threshold("tvd") == ALT_TVD[0] else ALT_TVD[0]


def _alt_label() -> str:
    return f"tvd threshold {_alt_tvd()} (the default is {_threshold('tvd')})"


def _null(args: argparse.Namespace) -> NullRun:
    pairs = _pairs(SEEDS["null"], args.null_trials)
    trials = _run_trials("null", NULL, pairs, NO_SHIFT, args.null_mv_trials, tvd=_alt_tvd())
    specs = [_spec(p, ROWS, NO_SHIFT) for p in pairs]
    peers = _peers(args, NULL, specs, args.null_evidently_trials, [t.digests for t in trials])
    return NullRun(trials, peers, min(args.null_mv_trials, len(trials)))


def _redline_rows(run: NullRun) -> list[list[object]]:
    rows: list[list[object]] = []
    sides = [("on", run.trials[: run.both]), ("off", run.trials)]
    for label, ts in sides:
        outs = [t.on if label == "on" else t.off for t in ts]
        got = [o for o in outs if o is not None]
        k = sum(bool(o.alarms or o.multi_alarms) for o in got)
        flagged = np.mean([len(o.alarms) + len(o.multi_alarms) for o in got])
        sig = sum(
            bool(o.alarms or o.significant or o.multi_alarms or o.multi_significant) for o in got
        )
        setting = (
            "defaults (alpha 0.05 BH, effect thresholds), multivariate on, bootstrap 0"
            if label == "on"
            else "the same, multivariate off"
        )
        rows.append(
            [
                "redline",
                setting,
                "any finding alarms",
                _rate(k, len(got)),
                f"{flagged:.3f}",
                _median(o.seconds for o in got),
                _verdict(k / len(got) <= TARGET_NULL),
            ]
        )
        rows.append(
            [
                "redline",
                f"multivariate {label}: significance alone (no effect threshold)",
                "any finding q <= 0.05",
                _rate(sig, len(got)),
                "",
                "",
                "(info)",
            ]
        )
    alt = [t.alt_tvd for t in run.trials if t.alt_tvd is not None]
    if alt:
        k = sum(bool(o.alarms) for o in alt)
        flagged = np.mean([len(o.alarms) for o in alt])
        rows.append(
            [
                "(diagnosis) redline",
                f"multivariate off, {_alt_label()}",
                "any finding alarms",
                _rate(k, len(alt)),
                f"{flagged:.3f}",
                _median(o.seconds for o in alt),
                "",
            ]
        )
    return rows


def _peer_rows(peers: Peers) -> list[list[object]]:
    rows: list[list[object]] = []
    if peers.evidently is not None:
        ts = peers.evidently.trials
        secs = _median(t["seconds"] for t in ts)
        flagged = f"{np.mean([len(t['flagged']) for t in ts]):.3f}"
        rows.append(
            [
                "Evidently",
                "DataDriftPreset defaults",
                "dataset drift (share >= 0.5)",
                _rate(sum(t["dataset_drift"] for t in ts), len(ts)),
                flagged,
                secs,
                "",
            ]
        )
        rows.append(
            [
                "Evidently",
                "DataDriftPreset defaults",
                "any column drifted",
                _rate(sum(bool(t["flagged"]) for t in ts), len(ts)),
                flagged,
                secs,
                "",
            ]
        )
    if peers.alibi is not None:
        ts = peers.alibi.trials
        secs = _median(t["seconds"] for t in ts)
        rows.append(
            [
                "Alibi Detect",
                "TabularDrift p_val 0.05",
                "is_drift (Bonferroni)",
                _rate(sum(t["is_drift"] for t in ts), len(ts)),
                f"{np.mean([len(t['flagged_corrected']) for t in ts]):.3f}",
                secs,
                "",
            ]
        )
        rows.append(
            [
                "Alibi Detect",
                "TabularDrift p_val 0.05",
                "any feature p < 0.05",
                _rate(sum(bool(t["flagged"]) for t in ts), len(ts)),
                f"{np.mean([len(t['flagged']) for t in ts]):.3f}",
                secs,
                "",
            ]
        )
    return rows


def _null_breakdown(run: NullRun) -> str:
    """Which findings alarmed or were significant under no drift (redline)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for label, ts in (("on", run.trials[: run.both]), ("off", run.trials)):
        for t in ts:
            o = t.on if label == "on" else t.off
            assert o is not None
            for f in o.alarms + o.multi_alarms:
                counts[_group(NULL, f, f.split("(")[-1].rstrip(")"))][f"alarm {label}"] += 1
            for f in o.significant + o.multi_significant:
                counts[_group(NULL, f, f.split("(")[-1].rstrip(")"))][f"significant {label}"] += 1
    if not counts:
        return "No redline finding was even significant in any null trial."
    heads = ["alarm on", "significant on", "alarm off", "significant off"]
    rows = [[g, *(counts[g][h] for h in heads)] for g in sorted(counts)]
    return (
        "Redline's null findings by test and column kind (findings over all trials; "
        f"on: {run.both} trials, off: {len(run.trials)}; 'significant' = q <= 0.05 with "
        "the effect below its threshold):\n\n" + table(["finding", *heads], rows)
    )


def _uniformity(run: NullRun) -> str:
    """p-values under no drift against U(0, 1), per test and column kind."""
    from scipy.stats import kstest

    pooled: dict[str, list[float]] = defaultdict(list)
    for t in run.trials:
        for g, ps in t.p_values.items():
            pooled[g] += ps
    rows = []
    edges = np.linspace(0, 1, 11)
    for g in sorted(pooled):
        p = np.asarray(pooled[g])
        hist = np.histogram(p, edges)[0] / len(p)
        ks = kstest(p, "uniform")
        rows.append(
            [
                g,
                len(p),
                f"{100 * np.mean(p < 0.05):.1f}%",
                f"{100 * np.mean(p < 0.01):.2f}%",
                f"{ks.statistic:.3f} (p {ks.pvalue:.2g})",
                " ".join(f"{100 * h:.0f}" for h in hist),
            ]
        )
    return (
        "Redline's p-values under no drift (uniform if calibrated: 5% below 0.05, 10% per "
        "decile; ties make KS conservative, mass moves towards 1):\n\n"
        + table(
            [
                "test, column kind",
                "p-values",
                "p < 0.05",
                "p < 0.01",
                "KS vs U(0,1): D (p)",
                "% per decile 0-0.1 ... 0.9-1",
            ],
            rows,
        )
    )


def _null_text(run: NullRun) -> str:
    rows = _redline_rows(run) + _peer_rows(run.peers)
    heads = [
        "detector",
        "setting",
        "alarm =",
        "trials with an alarm [95% CI]",
        "mean flags per trial",
        "median s per trial",
        f"target <= {100 * TARGET_NULL:.0f}%",
    ]
    checks = _check_line(run.peers)
    return "\n\n".join(
        filter(
            None,
            [
                f"### 1. Null calibration: {NULL.numeric} numeric + {NULL.categorical} categorical "
                f"columns, n = {ROWS:,} per window, reference and current from one distribution",
                "Rates with Clopper-Pearson 95% intervals. 'Flags' counts columns (and redline's "
                "multivariate tests) that alarm. Redline's time is its drift scoring, profiles "
                f"built beforehand (median {_median(t.profile_seconds for t in run.trials)} s for "
                "both); the peers' time is their detector call on data frames or arrays.",
                table(heads, rows),
                checks,
                _null_breakdown(run),
                _uniformity(run),
            ],
        )
    )


def _check_line(peers: Peers) -> str:
    if peers.evidently is None:
        return ""
    checked = [t for t in peers.evidently.trials if "check_agrees" in t]
    if not checked:
        return ""
    agree = sum(t["check_agrees"] for t in checked)
    new_s = _median(t["new_api_seconds"] for t in checked)
    return (
        f"Evidently check: on {len(checked)} window(s) its legacy DataDriftPreset and the new "
        f"API's preset flag the same columns as DataDriftTable in {agree} (new API "
        f"{new_s} s per report, most of it rendering)."
    )


# --------------------------------------------------------------------------- table 2


@dataclass
class LargeRun:
    """Table 2: redline's two results, profile times, the peers."""

    rows: int
    results: dict[str, DriftResult]
    seconds: dict[str, float]
    peers: Peers


def _large(args: argparse.Namespace) -> LargeRun:
    n = args.large_rows
    pair = (SEEDS["large"], SEEDS["large"] + 1)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    ref, d_ref = _profile_large(NULL, n, pair[0], NO_SHIFT)
    cur, d_cur = _profile_large(NULL, n, pair[1], LARGE_SHIFT)
    seconds["profile"] = time.perf_counter() - start
    results = {}
    for label, mv in (("on", True), ("off", False)):
        results[label], seconds[label] = _score(ref, cur, mv, 0)
    print(f"  redline large: profiles {seconds['profile']:.0f} s", file=sys.stderr)
    spec = [_spec(pair, n, LARGE_SHIFT, CHUNK)]
    peers = _peers(args, NULL, spec, 1, [[d_ref, d_cur]])
    return LargeRun(n, results, seconds, peers)


def _split(names: Iterable[str]) -> str:
    items = list(names)
    num = sum(n.startswith("num") for n in items)
    return f"{num} numeric + {len(items) - num} categorical"


def _large_text(run: LargeRun) -> str:
    rows: list[list[object]] = []
    for label, result in run.results.items():
        o = _outcome(result, run.seconds[label])
        multi = f", multivariate alarms {len(o.multi_alarms)}" if label == "on" else ""
        rows.append(
            [
                f"redline, multivariate {label}",
                f"{len(o.alarms)}{multi}",
                f"significant only: {_split(o.significant)}",
                f"{o.seconds:.2f}",
                _verdict(not (o.alarms or o.multi_alarms)),
            ]
        )
    ev, al = run.peers.evidently, run.peers.alibi
    if ev is not None:
        t = ev.trials[0]
        rows.append(
            [
                "Evidently DataDriftPreset",
                _split(t["flagged"]),
                f"dataset drift {t['dataset_drift']} (share {t['share']:.2f})",
                f"{t['seconds']:.1f}",
                "",
            ]
        )
    if al is not None:
        t = al.trials[0]
        rows.append(
            [
                "Alibi Detect TabularDrift",
                f"{_split(t['flagged_corrected'])} (Bonferroni)",
                f"is_drift {t['is_drift']}; at p < 0.05: {_split(t['flagged'])}",
                f"{t['seconds']:.1f}",
                "",
            ]
        )
    off = run.results["off"]
    w = [f.effect.value for f in off.findings if f.kind == "numeric" and f.effect]
    v = [f.effect.value for f in off.findings if f.kind == "categorical" and f.effect]
    exact = off.reference.exact
    heads = ["detector", "columns flagged (alarms)", "besides", "s to score", "target: 0 alarms"]
    return "\n\n".join(
        [
            f"### 2. Large n, no practical drift: {run.rows:,} rows per window, every numeric "
            "column shifted by 0.01 sigma, every categorical column by half a point of frequency",
            f"Redline profiled both windows {CHUNK:,} rows at a time, chunk profiles merged "
            f"({'exact summaries' if exact else 'KLL sketches'}), in "
            f"{run.seconds['profile']:.0f} s; its effects: "
            f"normalised Wasserstein {min(w):.4f}-{max(w):.4f} (threshold "
            f"{_threshold('wasserstein')}), total variation {min(v):.4f}-{max(v):.4f} (threshold "
            f"{_threshold('tvd')}). The peers got the same "
            "rows as whole data frames / arrays.",
            table(heads, rows),
        ]
    )


# --------------------------------------------------------------------------- table 3


SHIFTED = ("num0", "num9", "num22", "cat0")


@dataclass
class PowerRun:
    trials: list[Trial]
    peers: Peers
    both: int


def _power(args: argparse.Namespace) -> PowerRun:
    pairs = _pairs(SEEDS["power"], args.power_trials)
    trials = _run_trials("power", POWER, pairs, POWER_SHIFT, args.power_trials, SHIFTED, _alt_tvd())
    specs = [_spec(p, ROWS, POWER_SHIFT) for p in pairs]
    peers = _peers(args, POWER, specs, args.power_evidently_trials, [t.digests for t in trials])
    return PowerRun(trials, peers, args.power_trials)


def _power_row(
    name: str, flagged: list[list[str]], seconds: list[float], extra: str = "", target: bool = False
) -> list[object]:
    """Success = every shifted column flagged and no other column flagged."""
    n = len(flagged)
    hits = [set(f) for f in flagged]
    ok = sum(set(SHIFTED) <= h and not (h - set(SHIFTED)) for h in hits)
    misses = [len(set(SHIFTED) - h) for h in hits]
    false = [len(h - set(SHIFTED)) for h in hits]
    per = " / ".join(f"{100 * np.mean([c in h for h in hits]):.0f}" for c in SHIFTED)
    verdict = _verdict(ok / n >= TARGET_POWER) if target else ""
    return [
        name,
        _rate(ok, n),
        f"{np.mean(misses):.2f} (max {max(misses)})",
        f"{np.mean(false):.2f} (max {max(false)})",
        per,
        extra,
        _median(seconds),
        verdict,
    ]


def _power_text(run: PowerRun) -> str:
    rows: list[list[object]] = []
    for label in ("on", "off"):
        outs = [t.on if label == "on" else t.off for t in run.trials]
        got = [o for o in outs if o is not None]
        multi = sum(bool(o.multi_alarms) for o in got)
        extra = f"multivariate alarm in {multi}/{len(got)}" if label == "on" else ""
        rows.append(
            _power_row(
                f"redline, multivariate {label}",
                [o.alarms for o in got],
                [o.seconds for o in got],
                extra,
                target=True,
            )
        )
    alt = [t.alt_tvd for t in run.trials if t.alt_tvd is not None]
    if alt:
        name = f"(diagnosis) redline, multivariate off, {_alt_label()}"
        rows.append(_power_row(name, [o.alarms for o in alt], [o.seconds for o in alt]))
    ev, al = run.peers.evidently, run.peers.alibi
    if ev is not None:
        ts = ev.trials
        drift = f"dataset drift in {sum(t['dataset_drift'] for t in ts)}/{len(ts)}"
        rows.append(
            _power_row(
                "Evidently DataDriftPreset",
                [t["flagged"] for t in ts],
                [t["seconds"] for t in ts],
                drift,
            )
        )
    if al is not None:
        ts = al.trials
        secs = [t["seconds"] for t in ts]
        drift = f"is_drift in {sum(t['is_drift'] for t in ts)}/{len(ts)}"
        rows.append(
            _power_row(
                "Alibi Detect, features at p < 0.05/110 (Bonferroni)",
                [t["flagged_corrected"] for t in ts],
                secs,
                drift,
            )
        )
        rows.append(
            _power_row("Alibi Detect, features at p < 0.05", [t["flagged"] for t in ts], secs)
        )
    cat = [t.off.effects.get("cat0", float("nan")) for t in run.trials]
    below = sum(v < 0.05 for v in cat)
    heads = [
        "detector",
        "all 4 found, no other column flagged [95% CI]",
        "misses per trial",
        "false flags per trial",
        "found % num0 / num9 / num22 / cat0",
        "",
        "median s",
        f"target >= {100 * TARGET_POWER:.0f}%",
    ]
    return "\n\n".join(
        [
            f"### 3. Power: {POWER.numeric} numeric + {POWER.categorical} categorical columns, "
            f"n = {ROWS:,}; a 0.25-sigma mean shift in num0 (normal), num9 (lognormal) and num22 "
            "(Poisson counts), cat0's frequencies 0.30 -> 0.25 and 0.20 -> 0.25 (5 points)",
            "A flag is an alarming column for redline (its multivariate tests counted apart: "
            "they are right to alarm here), a drifted column for Evidently, a feature under the "
            "stated level for Alibi Detect.",
            table(heads, rows),
            f"cat0's measured total variation (redline's effect; the change is 0.05, the "
            f"default threshold {_threshold('tvd')}) was below 0.05 in {below}/{len(cat)} "
            f"trials (median {np.median(cat):.4f}, 5-95% {np.percentile(cat, 5):.4f}-"
            f"{np.percentile(cat, 95):.4f}): a threshold of 0.05 sits on the shift. Numeric "
            "effects (normalised Wasserstein) of num0 / num9 / num22: median "
            + " / ".join(
                f"{np.median([t.off.effects[c] for t in run.trials]):.3f}" for c in SHIFTED[:3]
            )
            + ".",
        ]
    )


# --------------------------------------------------------------------------- table 4


def _write_parquet(path: Path, rows: int) -> float:
    """The scale table's file: ``rows`` x 200 numeric columns, row groups of 100,000."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = Schema(SCALE_COLUMNS, 0)
    names = schema.names[0]
    start = time.perf_counter()
    writer: Any = None
    for part in draw_chunks(schema, rows, CHUNK, SEEDS["scale"]):
        chunk = pa.table({n: part.numeric[:, j] for j, n in enumerate(names)})
        writer = writer or pq.ParquetWriter(path, chunk.schema)
        writer.write_table(chunk)
    writer.close()
    return time.perf_counter() - start


CHILD = """
import json, sys, time

def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024

start = time.perf_counter()
from redline.monitoring import profile_files
out = {"import_s": time.perf_counter() - start, "import_mb": peak_mb()}
if sys.argv[1] != "none":
    cpu, start = time.process_time(), time.perf_counter()
    profile = profile_files([sys.argv[1]])
    out.update(seconds=time.perf_counter() - start, cpu=time.process_time() - cpu, rss_mb=peak_mb())
    start = time.perf_counter()
    profile.save(sys.argv[1] + ".profile")
    out.update(save_s=time.perf_counter() - start, save_mb=peak_mb())
print(json.dumps(out))
"""
"""The scale table's fresh process: ``profile_files`` on the file and its own peak RSS
(``VmHWM``: the process after its exec; ``ru_maxrss`` of a vforked child would carry the
parent's peak)."""
READ_CHILD = """
import sys, time
import pyarrow.parquet as pq
import redline.monitoring

def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024

base, start = peak_mb(), time.perf_counter()
for batch in pq.ParquetFile(sys.argv[1], pre_buffer=sys.argv[2] == "1").iter_batches(100_000):
    pass
print(f'{{"seconds": {time.perf_counter() - start}, "rss_mb": {peak_mb()}, "import_mb": {base}}}')
"""
"""Arrow's Parquet reader alone, as redline's ``read_chunks`` calls it (batches of
100,000 rows), its pre-buffering on (pyarrow's default) or off: where profile_files'
memory goes."""


def _in_child(target: str, code: str = CHILD, *extra: str) -> dict[str, Any]:
    """Run :data:`CHILD` (or ``code``) as a user would run redline: one thread, glibc's
    own malloc settings (the benchmark's tuning variables removed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env |= {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code, target, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the scale child failed (exit {done.returncode}): {done.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


@dataclass
class ScaleRun:
    rows: int
    write_s: float
    file_mb: float
    profile: dict[str, Any]
    merge_s: float
    shard_rows: int
    load_s: float
    profile_mb: float
    errors: list[tuple[str, float, float]]
    reads: dict[bool, dict[str, Any]]


def _shards(path: Path, rows: int) -> tuple[Profile, float]:
    """The file as ``SHARDS`` shard profiles, built one at a time (not timed) and merged
    into a running total (timed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from redline.monitoring import Profile

    total: Profile | None = None
    merge = 0.0
    for i, batch in enumerate(pq.ParquetFile(path).iter_batches(batch_size=rows // SHARDS)):
        shard = Profile.from_arrays(pa.Table.from_batches([batch]), seed=i)
        start = time.perf_counter()
        total = shard if total is None else total.merge(shard)
        merge += time.perf_counter() - start
    assert total is not None
    return total, merge


def _cdf_errors(path: Path, profiles: dict[str, Profile]) -> list[tuple[str, float, float]]:
    """Largest CDF error of each profile against the exact column (4 columns), and the
    sketch's stated rank error."""
    import pyarrow.parquet as pq

    out = []
    for name in ("num0", "num1", "num6", "num7"):
        exact = np.sort(pq.read_table(path, columns=[name]).column(name).to_numpy())
        points = np.quantile(exact, np.linspace(0.001, 0.999, 999))
        truth = np.searchsorted(exact, points, side="right") / exact.size
        for label, p in profiles.items():
            col: Any = p.column(name)
            err = float(np.max(np.abs(col.cdf(points) - truth)))
            kind = Schema(SCALE_COLUMNS, 0).kind(int(name[3:]))
            out.append((f"{name} ({kind}), {label}", err, col.rank_error))
    return out


def _scale(args: argparse.Namespace) -> ScaleRun:
    from redline.monitoring import Profile

    rows = args.scale_rows
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        path = Path(tmp) / "scale.parquet"
        write_s = _write_parquet(path, rows)
        prof = _in_child(str(path))
        reads = {on: _in_child(str(path), READ_CHILD, "1" if on else "0") for on in (True, False)}
        print(
            f"  redline scale: profile_files {prof['seconds']:.0f} s, {prof['rss_mb']:.0f} MB",
            file=sys.stderr,
        )
        start = time.perf_counter()
        whole = Profile.load(str(path) + ".profile")
        load_s = time.perf_counter() - start
        merged, merge_s = _shards(path, rows)
        errors = _cdf_errors(path, {"profile_files": whole, f"{SHARDS} shards merged": merged})
        return ScaleRun(
            rows,
            write_s,
            path.stat().st_size / 2**20,
            prof,
            merge_s,
            rows // SHARDS,
            load_s,
            (path.parent / "scale.parquet.profile").stat().st_size / 2**20,
            errors,
            reads,
        )


def _scale_text(run: ScaleRun) -> str:
    p = run.profile
    ok_t, ok_m = p["seconds"] <= TARGET_SECONDS, p["rss_mb"] <= TARGET_RSS_MB
    rows = [
        [
            "profile_files (Parquet, chunks of 100,000 rows)",
            f"{p['seconds']:.1f} s wall, {p['cpu']:.1f} s CPU",
            f"{p['rss_mb']:.0f} MB peak RSS (after the import alone: {p['import_mb']:.0f} MB)",
            f"<= {TARGET_SECONDS:.0f} s: {_verdict(ok_t)}; "
            f"<= {TARGET_RSS_MB:.0f} MB: {_verdict(ok_m)}",
        ],
        [
            f"merge of {SHARDS} shard profiles ({run.shard_rows:,} rows each)",
            f"{run.merge_s:.2f} s",
            "",
            "in seconds (< 60 s): " + _verdict(run.merge_s < 60),
        ],
        [
            "save / load the profile",
            f"{p['save_s']:.2f} s / {run.load_s:.2f} s",
            f"{run.profile_mb:.1f} MB file; peak RSS with the save {p['save_mb']:.0f} MB",
            "",
        ],
    ]
    for on, r in run.reads.items():
        rows.append(
            [
                f"(diagnosis) Arrow's Parquet reader alone, batches of 100,000 rows, "
                f"pre_buffer={on}{' (the default, as redline calls it)' if on else ''}",
                f"{r['seconds']:.1f} s",
                f"{r['rss_mb']:.0f} MB peak RSS",
                "",
            ]
        )
    err_rows = [[label, f"{e:.5f}", f"{r:.5f}", _verdict(e <= r)] for label, e, r in run.errors]
    return "\n\n".join(
        [
            f"### 4. Scale: {run.rows:,} rows x {SCALE_COLUMNS} numeric columns",
            f"Parquet file written once (not timed: {run.write_s:.0f} s, {run.file_mb:.0f} MB, "
            f"row groups of {CHUNK:,} rows, snappy). "
            "profile_files ran in a fresh process (one thread, glibc's default malloc "
            "settings); its peak RSS is that process's own high-water mark (VmHWM), the "
            "import of redline.monitoring (torch included) counted. The shard profiles "
            f"are the file's {SHARDS} consecutive row blocks, built one at a time (not "
            "timed) and merged into a running total (timed).",
            table(["step", "time", "memory", "target"], rows),
            "Accuracy of the sketched summaries against the exact columns (largest CDF error "
            "over 999 quantiles; the KLL sketch states its rank error at 99%):",
            table(["column, profile", "max CDF error", "stated rank error", "within"], err_rows),
        ]
    )


# --------------------------------------------------------------------------- main


def _versions(*peers: Peers) -> str:
    seen = {}
    for p in peers:
        for run in (p.evidently, p.alibi):
            if run is not None:
                seen[run.name] = run.versions
    return "; ".join(f"{k}: {v}" for k, v in seen.items()) or "none ran"


def _parser() -> argparse.ArgumentParser:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "drift benchmark")
    parser.add_argument("--null-trials", type=int, default=1000)
    parser.add_argument(
        "--null-mv-trials",
        type=int,
        default=500,
        help="null trials that also run redline's multivariate tests",
    )
    parser.add_argument("--null-evidently-trials", type=int, default=300)
    parser.add_argument("--power-trials", type=int, default=200)
    parser.add_argument("--power-evidently-trials", type=int, default=100)
    parser.add_argument(
        "--check-trials",
        type=int,
        default=3,
        help="windows on which Evidently's presets are checked",
    )
    parser.add_argument("--large-rows", type=int, default=1_000_000)
    parser.add_argument("--scale-rows", type=int, default=1_000_000)
    parser.add_argument("--tables", default="null,large,power,scale")
    parser.add_argument("--evidently-python", default="/tmp/venv-evidently/bin/python")
    parser.add_argument("--alibi-python", default="/tmp/venv-alibi/bin/python")
    parser.add_argument("--tmp", default=None, help="folder for the scale table's file")
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write")
    return parser


def _quick(args: argparse.Namespace) -> None:
    args.null_trials, args.null_mv_trials, args.null_evidently_trials = 50, 50, 50
    args.power_trials, args.power_evidently_trials, args.check_trials = 20, 20, 1
    args.large_rows, args.scale_rows = 200_000, 200_000


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run the tables asked for on every side, print and save them."""
    args = _parser().parse_args(argv)
    prepare_process(args)
    if args.quick:
        _quick(args)
    wanted = set(args.tables.split(","))
    revision = redline_revision()
    t0 = time.perf_counter()
    parts, peers = [], []
    if "null" in wanted:
        null = _null(args)
        parts.append(_null_text(null))
        peers.append(null.peers)
    if "large" in wanted:
        large = _large(args)
        parts.append(_large_text(large))
        peers.append(large.peers)
    if "power" in wanted:
        power = _power(args)
        parts.append(_power_text(power))
        peers.append(power.peers)
    if "scale" in wanted:
        parts.append(_scale_text(_scale(args)))
    wall = time.perf_counter() - t0
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = cpu.ru_utime + cpu.ru_stime + kids.ru_utime + kids.ru_stime
    text = "\n\n".join(
        [
            f"## Drift benchmark ({'quick' if args.quick else 'full'}): redline vs Evidently "
            "and Alibi Detect",
            machine_line(args) + f" {revision} (at the start). Wall time {wall:.0f} s, CPU time "
            f"{used:.0f} s (peers included).",
            f"Peer venvs: {_versions(*peers)}.",
            *parts,
        ]
    )
    print(text)
    save_results(text, args.out, "monitoring", args.quick)


if __name__ == "__main__":
    main()
