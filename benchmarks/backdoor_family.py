"""Backdoor family benchmark: the training-data detectors on triggers nobody tuned them on.

Each cell draws a poisoner from a family (``benchmarks/_family_draws.py``) with a random
target class and random trigger parameters, poisons the training set at a rate, trains
the model with the draw's seed and runs every detector on it:

- families: ``patch`` (2-5 px; solid, checkerboard or random pattern; square, cross, x,
  ring or line shape; a corner, an edge, the centre or a random place per sample),
  ``blend`` (noise, low-frequency or photograph key, alpha 0.15-0.30), ``warp`` (WaNet,
  strength 2-4, noise-mode cover samples 0, 0.5 or 1 per payload sample: the paper's 2
  keeps ASR under 0.4 on 8x8 digits), ``frequency`` (DCT-domain, FTrojan-style, peak
  0.25-0.5), ``sample-specific`` (ISSBA-style residual on the sample's edges, 0.3-0.5:
  below, ASR stays under 0.2 on 8x8 digits), ``adaptive-blend``
  and ``adaptive-patch`` (Qi et al. 2023, with conservatism cover samples);
- rates 1%, 5%, 10%; ``--draws`` draws per family and rate (draw i: seed i); clean
  models (``no attack``) with ``--clean`` seeds;
- redline's four detectors (defaults, ``random_state`` = seed) and their per-class
  combination (:class:`CombinedDetector`, the verdict); ART 1.20's spectral signatures
  and activation clustering on the last hidden layer (and on the logits, as shipped);
  Neural Cleanse and STRIP on the clean defender half (as ``benchmarks/backdoor.py``).

Each number is over the draws: min / 10th percentile / median, minimum first.
Run: ``python -m benchmarks.backdoor_family [--quick] [--draws 10] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from benchmarks._backdoor_data import DATASETS, Settings
from benchmarks._common import (
    base_parser,
    machine_line,
    prepare_process,
    redline_revision,
    save_results,
)
from benchmarks._family_draws import FAMILIES
from benchmarks._family_tables import render, summary, targets
from benchmarks._pool import run_cells

__all__ = ["main"]

RATES = (0.01, 0.05, 0.1)


def _cells(args: argparse.Namespace, s: Settings) -> list[Any]:
    from benchmarks._family_cell import FamilyCell

    datasets = [d for d in reversed(DATASETS) if args.dataset in (None, d)]
    families = args.families.split(",") if args.families else FAMILIES
    rates = (0.1,) if args.quick else RATES
    cells = []
    for dataset in datasets:
        cells += [
            FamilyCell(dataset, "no attack", 0.0, i, s, args.heavy) for i in range(args.clean)
        ]
        for family in families:
            for rate in rates:
                cells += [
                    FamilyCell(dataset, family, rate, i, s, args.heavy) for i in range(args.draws)
                ]
    return cells


def _parser() -> argparse.ArgumentParser:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "backdoor family benchmark")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (1 thread each)")
    parser.add_argument("--draws", type=int, default=10, help="draws per family and rate")
    parser.add_argument("--clean", type=int, default=10, help="clean models per dataset")
    parser.add_argument("--families", default=None, help="comma-separated subset of families")
    parser.add_argument("--dataset", choices=DATASETS, default=None, help="one dataset only")
    parser.add_argument("--no-heavy", dest="heavy", action="store_false",
                        help="skip ART, Neural Cleanse and STRIP")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write")
    parser.add_argument("--records", type=Path, default=None, help="JSON records to write")
    parser.add_argument("--render", type=Path, nargs="+", default=None,
                        help="render saved --records files (merged), run nothing")  # fmt: skip
    return parser


def _render_saved(args: argparse.Namespace) -> None:
    """Tables of saved record files (e.g. one per dataset), nothing re-run."""
    records = [r for path in args.render for r in json.loads(path.read_text())]
    text = "\n\n".join([summary(records), render(records, args.draws), targets(records)])
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run every cell on the pool, print and save the tables."""
    args = _parser().parse_args(argv)
    if args.render:
        _render_saved(args)
        return
    if args.quick:
        args.draws, args.clean = min(args.draws, 2), min(args.clean, 2)
    prepare_process(args)
    s = Settings()
    cells, revision = _cells(args, s), redline_revision()
    from benchmarks._family_cell import run_family_cell

    t0 = time.perf_counter()
    records = run_cells(run_family_cell, cells, args.workers, lambda c: f"{c.dataset} "
                        f"{c.family} {c.rate:g} draw {c.index}")  # fmt: skip
    wall = time.perf_counter() - t0
    if args.records:
        args.records.write_text(json.dumps(records, indent=1, default=str))
    cpu = sum(r.get("time.total", 0.0) for r in records)
    text = "\n\n".join([
        f"## Backdoor family benchmark ({'quick' if args.quick else 'full'})",
        machine_line(args) + f" Workers: {args.workers} processes x 1 torch thread; "
        f"{revision} (at the start).",
        f"Settings: train {s.train_epochs} epochs (Adam, lr {s.lr}); Neural Cleanse "
        f"{s.nc_steps} steps; STRIP {s.strip_overlays} overlays; target class drawn per draw.",
        summary(records),
        render(records, args.draws),
        targets(records),
        f"Total: {len(records)} cells, {cpu:.0f} CPU s in cells; wall {wall:.0f} s.",
    ])  # fmt: skip
    print(text)
    save_results(text, args.out, "backdoor-family", args.quick)


if __name__ == "__main__":
    main()
