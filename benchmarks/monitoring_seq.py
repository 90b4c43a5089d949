"""Sequential drift benchmark: run length without drift against the configured ERT, and
detection delay after a known shift, redline's SequentialMMD / SequentialCVM beside
Alibi Detect's MMDDriftOnline / CVMDriftOnline at the same ERT and window.

Data: ``--features`` independent standard normal features; each of ``--fits`` references
(``--reference`` rows) is drawn with its own seed and every detector is fitted on it
(redline ``random_state`` = fit index; alibi seeded with numpy and torch). Both sides then
read the *same* rows:

- run lengths: a pool of no-drift rows consumed run after run (each run starts from a
  fresh state: redline ``reset()``, alibi ``reset_state()``, and takes rows until its
  first alarm), ``--runs`` runs per fit;
- delays: ``--delay-runs`` streams per fit, no drift for the first ``--change`` rows, then
  the first feature's mean moves by ``--shift`` standard deviations; delay = first alarm
  time - change; an alarm at or before the change is a false alarm, counted apart.

ERT conventions differ. redline (both detectors) and alibi's MMD fill their first window
with held-out reference rows, can alarm from the first update and count the ERT from
t = 0. Alibi's CVM tests only once its window is full and counts the ERT from
t = window - 1; its run lengths are shown as measured and with window - 1 taken off.
A fitted detector's own ERT varies with how its reference fell (measured: about 9-15% of
the ERT between fits at these sizes), so the standard error of the mean run length is
taken over fits (the spread of the per-fit means / sqrt(fits)), not over runs.

Run: ``python -m benchmarks.monitoring_seq [--quick]`` (the peer in ``--peer-python``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

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

__all__ = ["main"]

PEER = ROOT / "benchmarks" / "_monitoring_peer.py"
TARGET = 0.10
DETECTORS = ("mmd", "cvm")


@dataclass
class Side:
    """One detector on one side, over all fits."""

    per_fit: list[list[int]] = field(default_factory=list)
    alarms: list[int | None] = field(default_factory=list)
    configure_s: list[float] = field(default_factory=list)
    update_us: list[float] = field(default_factory=list)
    versions: str = ""

    def lengths(self, offset: int = 0) -> np.ndarray:
        return np.concatenate([np.asarray(r, float) for r in self.per_fit]) - offset

    def mean_se(self, offset: int = 0) -> tuple[float, float]:
        """Mean run length and its standard error over fits."""
        means = np.array([np.mean(r) for r in self.per_fit]) - offset
        se = float(np.std(means, ddof=1) / np.sqrt(len(means))) if len(means) > 1 else 0.0
        return float(np.mean(means)), se


@dataclass(frozen=True)
class Fit:
    """One reference and the rows both sides read."""

    index: int
    reference: np.ndarray
    null: np.ndarray
    shifted: np.ndarray


def _fit_data(index: int, args: argparse.Namespace) -> Fit:
    rng = np.random.default_rng(10_000 * args.seed + index)
    d = args.features
    reference = rng.normal(size=(args.reference, d)).astype(np.float32)
    null = rng.normal(size=(6 * args.runs * (args.ert + args.window), d)).astype(np.float32)
    shifted = rng.normal(size=(args.delay_runs, args.change + args.delay_cap, d))
    shifted[:, args.change :, 0] += args.shift
    return Fit(index, reference, null, shifted.astype(np.float32))


def _redline(name: str, fit: Fit, args: argparse.Namespace, side: Side) -> None:
    """Fit redline's detector, then the null runs and the shifted streams."""
    from redline.monitoring import SequentialCVM, SequentialMMD

    cls = SequentialMMD if name == "mmd" else SequentialCVM
    t0 = time.perf_counter()
    det = cls(ert=args.ert, window=args.window, n_bootstraps=args.bootstraps,
              random_state=fit.index).fit(fit.reference)  # fmt: skip
    side.configure_s.append(time.perf_counter() - t0)
    lengths, used, updates = [], 0, 0
    t0 = time.perf_counter()
    for _ in range(args.runs):
        det.reset()
        while True:
            state = det.update(fit.null[used])
            used += 1
            if state.detected:
                break
        lengths.append(state.time)
        updates += state.time
    side.update_us.append(1e6 * (time.perf_counter() - t0) / updates)
    side.per_fit.append(lengths)
    for stream in fit.shifted:
        det.reset()
        hit = None
        for x in stream:
            state = det.update(x)
            if state.detected:
                hit = state.time
                break
        side.alarms.append(hit)


def _alibi(name: str, fits: list[Fit], args: argparse.Namespace, side: Side) -> None:
    """The same work through the peer worker in alibi's venv (one process, every fit)."""
    boots = args.alibi_mmd_bootstraps if name == "mmd" else args.alibi_cvm_bootstraps
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.json"
        arrays: dict[str, np.ndarray] = {}
        for fit in fits:
            arrays[f"reference_{fit.index}"] = fit.reference
            arrays[f"null_{fit.index}"], arrays[f"shifted_{fit.index}"] = fit.null, fit.shifted
        np.savez(
            src, detector=np.array(name), ert=args.ert, window=args.window, n_bootstraps=boots,
            runs=args.runs, seeds=np.array([f.index for f in fits]), **arrays,
        )  # fmt: skip
        done = subprocess.run([args.peer_python, str(PEER), "seq", str(src), str(dst)], check=False)
        if done.returncode != 0:
            raise SystemExit(f"the alibi worker failed (exit {done.returncode})")
        out = json.loads(dst.read_text())
    for fit in out["fits"]:
        side.per_fit.append(fit["run_lengths"])
        side.alarms += fit["alarms"]
        side.configure_s.append(fit["configure_s"])
        side.update_us.append(fit["update_us"])
    side.versions = out["versions"]


# --------------------------------------------------------------------------- tables


def _offset(side_name: str, det: str, args: argparse.Namespace) -> int:
    """Updates before the ERT clock starts: alibi's CVM counts from t = window - 1."""
    return args.window - 1 if (side_name, det) == ("alibi", "cvm") else 0


def _ert_rows(results: dict[tuple[str, str], Side], args: argparse.Namespace) -> list[list[str]]:
    rows = []
    for det in DETECTORS:
        for side_name in ("redline", "alibi"):
            side = results[side_name, det]
            off = _offset(side_name, det, args)
            mean, se = side.mean_se(off)
            raw = side.lengths().mean()
            ok = abs(mean / args.ert - 1) <= TARGET
            rows.append([
                f"{side_name} {det.upper()}", f"{raw:.1f}",
                f"{mean:.1f} ± {se:.1f}" + (f" (−{off})" if off else ""),
                f"{mean / args.ert:.3f}", f"{len(side.lengths())} ({len(side.per_fit)} fits)",
                f"{np.median(side.lengths(off)):.0f}", "yes" if ok else "**no**",
            ])  # fmt: skip
    return rows


def _delay_rows(results: dict[tuple[str, str], Side], args: argparse.Namespace) -> list[list[str]]:
    rows = []
    for det in DETECTORS:
        for side_name in ("redline", "alibi"):
            alarms = results[side_name, det].alarms
            early = sum(a is not None and a <= args.change for a in alarms)
            late = [a - args.change for a in alarms if a is not None and a > args.change]
            delays = np.array(late)
            missed = sum(a is None for a in alarms)
            rows.append([
                f"{side_name} {det.upper()}", f"{np.median(delays):.0f}",
                f"{delays.mean():.1f} ± {delays.std(ddof=1) / np.sqrt(len(delays)):.1f}",
                f"{np.percentile(delays, 90):.0f}", str(len(delays)), str(early), str(missed),
            ])  # fmt: skip
    return rows


def _cost_rows(results: dict[tuple[str, str], Side], args: argparse.Namespace) -> list[list[str]]:
    rows = []
    for det in DETECTORS:
        for side_name in ("redline", "alibi"):
            side = results[side_name, det]
            boots = args.bootstraps
            if side_name == "alibi":
                boots = args.alibi_mmd_bootstraps if det == "mmd" else args.alibi_cvm_bootstraps
            rows.append([
                f"{side_name} {det.upper()}", str(boots), f"{np.median(side.configure_s):.2f}",
                f"{np.median(side.update_us):.0f}",
            ])  # fmt: skip
    return rows


def _report(results: dict[tuple[str, str], Side], args: argparse.Namespace, wall: float) -> str:
    versions = results["alibi", "mmd"].versions
    setup = (
        f"{args.features} independent N(0, 1) features, reference {args.reference} rows, "
        f"ERT {args.ert}, window {args.window}; {args.fits} fits x {args.runs} null runs; "
        f"delays: {args.delay_runs} streams per fit, shift +{args.shift} sd on feature 0 after "
        f"{args.change} rows, at most {args.delay_cap} rows after it."
    )
    ert_head = [
        "detector", "mean run length (raw)", "mean ± SE over fits (ERT clock)", "mean / ERT",
        "runs", "median", f"within {100 * TARGET:.0f}%",
    ]  # fmt: skip
    delay_head = [
        "detector", "median delay", "mean ± SE", "90th pct", "detected",
        "false alarms before the change", "not detected",
    ]  # fmt: skip
    cost_head = ["detector", "n_bootstraps", "configure s (median)", "µs per update (median)"]
    return "\n\n".join([
        f"## Sequential drift benchmark ({'quick' if args.quick else 'full'}): redline vs "
        "Alibi Detect",
        machine_line(args) + f" {redline_revision()} (at the start). Peer: {versions}. "
        f"Wall time {wall:.0f} s.",
        setup,
        "### Run length without drift (target: mean within "
        f"{100 * TARGET:.0f}% of the ERT)",
        table(ert_head, _ert_rows(results, args)),
        "### Detection delay after the shift",
        table(delay_head, _delay_rows(results, args)),
        "### Cost",
        table(cost_head, _cost_rows(results, args)),
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run both sides on every fit, print and save the tables."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "sequential benchmark")
    parser.add_argument("--ert", type=int, default=200)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--features", type=int, default=4)
    parser.add_argument("--reference", type=int, default=1000)
    parser.add_argument("--fits", type=int, default=16)
    parser.add_argument("--runs", type=int, default=40, help="null runs per fit")
    parser.add_argument("--delay-runs", type=int, default=20, help="shifted streams per fit")
    parser.add_argument("--shift", type=float, default=1.0)
    parser.add_argument("--change", type=int, default=40)
    parser.add_argument("--delay-cap", type=int, default=400)
    parser.add_argument("--bootstraps", type=int, default=5000, help="redline n_bootstraps")
    parser.add_argument("--alibi-mmd-bootstraps", type=int, default=2000)
    parser.add_argument("--alibi-cvm-bootstraps", type=int, default=4000)
    parser.add_argument("--peer-python", default="/tmp/venv-alibi/bin/python")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    prepare_process(args)
    if args.quick:
        args.fits, args.runs, args.delay_runs = 3, 20, 10
    results = {(s, d): Side() for s in ("redline", "alibi") for d in DETECTORS}
    t0 = time.perf_counter()
    fits = [_fit_data(index, args) for index in range(args.fits)]
    for det in DETECTORS:
        for fit in fits:
            _redline(det, fit, args, results["redline", det])
        print(f"redline {det} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        _alibi(det, fits, args, results["alibi", det])
        print(f"alibi {det} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    text = _report(results, args, time.perf_counter() - t0)
    print(text)
    save_results(text, args.out, "monitoring-seq", args.quick)


if __name__ == "__main__":
    main()
