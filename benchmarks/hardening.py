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
import os
import time
from pathlib import Path
from typing import Any

from benchmarks._common import (
    base_parser,
    machine_line,
    prepare_process,
    redline_revision,
    save_results,
)
from benchmarks._hardening_data import DATASETS, Cell, spec
from benchmarks._hardening_tables import render, smoothing_table, targets
from benchmarks._pool import run_cells

__all__ = ["main"]


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


def _work(cell: Cell) -> dict[str, Any]:
    if cell.kind == "smoothing":
        from benchmarks._hardening_smooth import run_smoothing

        return run_smoothing(cell)
    from benchmarks._hardening_cell import run_cell

    return run_cell(cell)


def _run(cells: list[Cell], workers: int) -> list[dict[str, Any]]:
    """Every cell on the pool, records in cell order."""
    return run_cells(_work, cells, workers, lambda c: f"{c.kind} {c.dataset} seed {c.seed}")


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
    cells, revision, load0 = _cells(args), redline_revision(), _load()
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
    save_results(text, args.out, "hardening", args.quick)


if __name__ == "__main__":
    main()
