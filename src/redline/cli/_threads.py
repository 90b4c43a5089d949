"""Torch's intra-op thread count for one command, restored after (imported lazily: torch)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from redline.errors import InputError

__all__ = ["torch_threads"]


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block on ``n`` intra-op threads (None: torch's default), then restore.

    Small models scan several times faster on one thread: OpenMP threads spend their time
    synchronising on each small op (the demo took 198 s of CPU with 2 threads, 44 s with 1,
    same numbers).
    """
    if n is None:
        yield
        return
    if n < 1:
        raise InputError(f"--threads must be >= 1, got {n}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
