"""The process pool of the cell-based benchmarks: one-thread spawn workers that run
cells with progress on stderr."""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

__all__ = ["run_cells"]

C = TypeVar("C")
Record = dict[str, Any]


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)


def run_cells(
    work: Callable[[C], Record], cells: Sequence[C], workers: int, describe: Callable[[C], str]
) -> list[Record]:
    """``work`` on every cell in a spawn pool of one-thread workers (``work`` must be a
    module-level function); progress on stderr; records back in cell order."""
    t0, done = time.perf_counter(), 0
    out: dict[int, Record] = {}
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as pool:
        futures = {pool.submit(work, c): i for i, c in enumerate(cells)}
        for fut in as_completed(futures):
            i, done = futures[fut], done + 1
            out[i] = fut.result()
            elapsed = time.perf_counter() - t0
            print(f"[{done}/{len(cells)} {elapsed:.0f}s] {describe(cells[i])}",
                  file=sys.stderr, flush=True)  # fmt: skip
    return [out[i] for i in sorted(out)]
