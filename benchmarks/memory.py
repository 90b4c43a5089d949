"""Peak memory of ``scan()`` vs batch size and dataset size, each in a fresh process.

Run from the repository root: ``python -m benchmarks.memory [--quick]``. A scan streams
the data batch by batch, so its working memory should grow with the batch size and stay
flat as the dataset grows (only the inputs themselves and the per-sample records scale
with it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks._common import (
    MALLOC_ENV,
    ROOT,
    base_parser,
    digits_cnn,
    fmt_acc,
    machine_line,
    mnist_arrays,
    mnist_cnn,
    table,
)
from redline.datasets import load_digits

__all__ = ["main"]

EPS = (0.05, 0.1)
MODELS = {"mnist": mnist_cnn, "digits": digits_cnn}
SUITE = "quick"


# --------------------------------------------------------------------------- child


def _status_mb(field: str) -> float | None:
    """A ``/proc/self/status`` field (VmRSS, VmHWM) in MiB; None off Linux."""
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return None


def _reset_peak() -> bool:
    """Reset this process's peak-RSS mark to the current RSS (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _maxrss_mb() -> float:
    """Peak RSS from getrusage (KiB on Linux, bytes on macOS)."""
    scale = 2**20 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def _tiled(data: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` test samples, the test set repeated as often as needed."""
    if data == "mnist":
        _, _, x, y = mnist_arrays()
    else:
        test = load_digits("test")
        x, y = test.x, test.y
    idx = np.arange(n) % len(y)
    return np.ascontiguousarray(x[idx]), np.ascontiguousarray(y[idx])


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Load the cached model and the data, mark the baseline, scan, report the peak."""
    from redline import TorchTarget
    from redline.evaluation import scan

    torch.set_num_threads(int(spec["threads"]))
    device = str(spec["device"])
    w = MODELS[spec["data"]](int(spec["seed"]), device)
    x, y = _tiled(spec["data"], int(spec["n"]))
    target = TorchTarget(w.module)
    base = _status_mb("VmRSS")
    hwm = base is not None and _reset_peak()
    if not hwm:  # off Linux: ru_maxrss, whose mark includes everything before the scan
        base = _maxrss_mb()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    result = scan(
        target, x, y, eps=list(EPS), suite=SUITE, minimal=True, checks=False,
        batch_size=int(spec["batch"]), examples=0, seed=int(spec["seed"]),
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    peak = _status_mb("VmHWM") if hwm else _maxrss_mb()
    return {
        "base_rss": base,
        "peak_delta": None if peak is None or base is None else peak - base,
        "cuda_peak": torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None,
        "data_mb": (x.nbytes + y.nbytes) / 2**20,
        "seconds": seconds,
        "robust": result.eps[-1].robust.value,
    }


# --------------------------------------------------------------------------- parent


def _env(args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV}
    env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    if not args.no_malloc_tuning:
        env.update(MALLOC_ENV)
    return env


def _measure(args: argparse.Namespace, n: int, batch: int) -> dict[str, Any]:
    """``--repeats`` scans, each in a fresh interpreter; the last report plus every peak."""
    reports = [_measure_once(args, n, batch) for _ in range(args.repeats)]
    return {**reports[-1], "peaks": [r["peak_delta"] for r in reports]}


def _measure_once(args: argparse.Namespace, n: int, batch: int) -> dict[str, Any]:
    """One scan in a fresh interpreter; its JSON report."""
    spec = {"n": n, "batch": batch, "seed": args.seed, "threads": args.threads}
    spec.update(device=args.device, data=args.data)
    cmd = [sys.executable, "-m", "benchmarks.memory", "--child", json.dumps(spec)]
    done = subprocess.run(cmd, cwd=ROOT, env=_env(args), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"child {spec} failed:\n{done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return {"n": n, "batch": batch, **report}


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _peak(peaks: list[float | None]) -> str:
    """Median peak; with repeats, the range after it."""
    known = sorted(p for p in peaks if p is not None)
    if not known:
        return "-"
    mid = _mb(statistics.median(known))
    return mid if len(known) == 1 else f"{mid} ({known[0]:.1f}-{known[-1]:.1f})"


def _row(r: dict[str, Any], cuda: bool) -> list[object]:
    cells: list[object] = [r["n"], r["batch"], _peak(r["peaks"])]
    if cuda:
        cells.append(_mb(r["cuda_peak"]))
    return [*cells, _mb(r["data_mb"]), f"{r['seconds']:.1f}", fmt_acc(r["robust"])]


def _table(title: str, results: list[dict[str, Any]], cuda: bool) -> str:
    headers = ["samples", "batch", "peak RSS - RSS after load (MiB)"]
    if cuda:
        headers.append("CUDA peak allocated (MiB)")
    headers += ["input arrays (MiB)", "scan s", f"robust acc @ {EPS[-1]}"]
    return f"**{title}**\n\n" + table(headers, [_row(r, cuda) for r in results])


def _sizes(quick: bool) -> tuple[int, tuple[int, ...], int, tuple[int, ...]]:
    """(samples for the batch sweep, batches, batch for the size sweep, sample counts)."""
    if quick:
        return 256, (32, 64, 128, 256), 32, (64, 128, 256)
    return 512, (32, 64, 128, 256), 64, (256, 512, 1024)


def main(argv: list[str] | None = None) -> None:
    """Sweep batch size, then dataset size; one fresh process per measurement."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "memory", malloc_tuning=False)
    parser.add_argument("--data", choices=sorted(MODELS), default="mnist")
    parser.add_argument("--repeats", type=int, default=1, help="fresh processes per point")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    torch.set_num_threads(args.threads)
    MODELS[args.data](args.seed, "cpu")  # train and cache once, outside the measurements
    n_fixed, batches, b_fixed, sizes = _sizes(args.quick)
    cuda = args.device == "cuda"
    print(machine_line(args) + f" Mode: {'quick' if args.quick else 'full'}.\n")
    print(
        f"scan(suite={SUITE!r}, eps={list(EPS)}, minimal=True, checks=False) of the "
        f"{args.data} CNN, each in a fresh process; baseline = RSS after imports, model and "
        "data load; peak = VmHWM after resetting it there. Not ru_maxrss: a process started "
        "by subprocess (vfork + exec) inherits its parent's peak RSS there. A point's peak "
        "varies between fresh processes (up to ~20 MiB at batch 64 on a 2-core CPU box): "
        "--repeats N gives the median and range.\n"
    )
    rows = [_measure(args, n_fixed, b) for b in batches]
    print(_table(f"D1. Peak memory vs batch size ({n_fixed} samples)", rows, cuda) + "\n")
    rows = [_measure(args, n, b_fixed) for n in sizes]
    print(_table(f"D2. Peak memory vs dataset size (batch {b_fixed})", rows, cuda))


if __name__ == "__main__":
    main()
