"""Hardening benchmark: adversarial training vs standard training, randomized smoothing vs ART.

PGD-AT, TRADES and FGSM-RS against standard training, and redline's randomized smoothing
against ART's, on the bundled digits CNN and a breast_cancer MLP.

Per model and seed (0, 1, 2): the same initial weights are trained standard, PGD-AT,
TRADES and FGSM-RS (redline's ``adversarial_train``, guard batch fixed), plus FGSM-RS
with its catastrophic-overfitting guard disabled (``guard_drop=1``: the guard still runs,
so the cost is the same; a diagnostic, not a shipped setting). Same epochs, Adam, lr and
batch order for every method; each training is timed (wall and CPU, one torch thread)
in the same worker process after a one-epoch warm-up of every method, ``--rounds`` times
per seed (3; quick: 2), the order reversed every other round; the first round's models
are the ones scanned. Every model is scanned with the ``standard`` suite on the same
test samples (Linf, 3 eps, worst case per sample) with the sanity checks on; clean
accuracy and ECE come from the same scan. A positive control, the seed's standard model behind
``round(x * 16) / 16`` (zero gradients; exact on digits), shows what the checks say about
gradient masking. Bounds are the data's min and max (both datasets are scaled to [0, 1]
per feature), for training, attacks, scans and smoothing alike.

Randomized smoothing: one model per dataset trained under N(0, sigma^2) noise, certified
by redline and by ART's ``PyTorchRandomizedSmoothing`` (statsmodels, when missing, is
replaced by the same Clopper-Pearson bound from scipy, as in the peer test).

Run: ``python -m benchmarks.hardening [--quick] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT, base_parser, machine_line, prepare_process
from benchmarks._hardening_data import DATASETS, Cell, spec
from benchmarks._hardening_tables import render, smoothing_table, targets

__all__ = ["main"]

RESULTS = ROOT / "benchmarks" / "results"


def _cells(args: argparse.Namespace) -> list[Cell]:
    """Slowest first (digits training cells), for better packing on the pool."""
    seeds = range(args.seed, args.seed + (1 if args.quick else args.seeds))
    cells = []
    for dataset in DATASETS:
        s = spec(dataset)
        n = s.quick_samples if args.quick else s.samples
        rounds = 2 if args.quick else args.rounds
        cells += [Cell("train", dataset, seed, n, rounds) for seed in seeds]
        cells.append(Cell("smoothing", dataset, args.seed, n))
    return cells


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)


def _work(cell: Cell) -> dict[str, Any]:
    if cell.kind == "smoothing":
        from benchmarks._hardening_smooth import run_smoothing

        return run_smoothing(cell)
    from benchmarks._hardening_cell import run_cell

    return run_cell(cell)


def _run(cells: list[Cell], workers: int) -> list[dict[str, Any]]:
    """Run the cells on a spawn pool; progress on stderr; records back in cell order."""
    t0, done = time.perf_counter(), 0
    out: dict[int, dict[str, Any]] = {}
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as pool:
        futures = {pool.submit(_work, c): i for i, c in enumerate(cells)}
        for fut in as_completed(futures):
            i, done = futures[fut], done + 1
            out[i] = fut.result()
            c = cells[i]
            print(f"[{done}/{len(cells)} {time.perf_counter() - t0:.0f}s] {c.kind} {c.dataset} "
                  f"seed {c.seed}", file=sys.stderr, flush=True)  # fmt: skip
    return [out[i] for i in sorted(out)]


def _revision() -> str:
    """The redline commit the run measured, and whether ``src/`` had uncommitted changes."""

    def git(*cmd: str) -> str:
        done = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " + uncommitted changes in src/" if git("status", "--porcelain", "src") else ""
    return f"redline {head}{dirty}"


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run every cell on the pool, print and save the tables."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "hardening benchmark")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (1 thread each)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per model (full mode)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed trainings per method and seed (full mode)"
    )
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write")
    args = parser.parse_args(argv)
    prepare_process(args)
    if args.device != "cpu":
        raise SystemExit("the hardening benchmark times CPU training: run it with --device cpu")
    cells, revision, load0 = _cells(args), _revision(), _load()
    t0 = time.perf_counter()
    records = _run(cells, args.workers)
    wall = time.perf_counter() - t0
    seeds = 1 if args.quick else args.seeds
    mode = "quick" if args.quick else "full"
    cpu = sum(r["cpu_s"] for r in records)
    text = "\n\n".join([
        f"## Hardening benchmark ({mode})",
        machine_line(args) + f" Workers: {args.workers} processes x 1 torch thread; "
        f"{revision} (at the start). Load average (1/5/15 min) at the start {load0}, at the "
        f"end {_load()}: other jobs may share the machine, so absolute times mean little; "
        "time ratios are measured within one worker process, side by side.",
        render(records, seeds),
        smoothing_table(records),
        targets(records),
        f"Total: {len(records)} cells, {cpu:.0f} CPU s in cells; wall {wall:.0f} s on "
        f"{args.workers} worker(s).",
    ])  # fmt: skip
    print(text)
    out = args.out or RESULTS / ("hardening-quick.md" if args.quick else "hardening.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(f"\n(written to {out})", file=sys.stderr)


if __name__ == "__main__":
    main()
