"""What every sanity check sees, and how it reports."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from redline.attacks._geometry import Norm
from redline.evaluation._suite import Suite
from redline.results import CHECK_IDS, CheckResult, CheckStatus
from redline.targets import Target

__all__ = ["CHECK_IDS", "CheckContext", "finding", "graded", "rng_for", "tolerance"]


@dataclass(frozen=True)
class CheckContext:
    """Inputs of the sanity checks.

    ``x``/``y`` are up to ``check_samples`` correctly classified samples (data order);
    ``survivors`` marks those the suite left standing at ``probe_eps``, the largest grid
    eps at which any of them survived. ``blackbox_broken`` counts samples (whole data)
    that only a black-box attack broke at ``probe_eps``; ``clean_correct`` is the
    whole data's correctly classified count.
    """

    target: Target
    norm: Norm
    eps: tuple[float, ...]
    probe_eps: float
    x: torch.Tensor
    y: torch.Tensor
    survivors: torch.Tensor
    suite: Suite
    blackbox_broken: int
    clean_correct: int
    robust_accuracy: tuple[float, ...]
    violations: int
    checked_examples: int
    num_classes: int
    seed: int


def tolerance(n: int, fraction: float = 0.01) -> int:
    """Samples allowed before a check complains: ``fraction`` of n, at least one."""
    return max(1, math.floor(fraction * n))


def finding(
    check_id: str,
    title: str,
    status: CheckStatus,
    summary: str,
    fix: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> CheckResult:
    """Build a :class:`CheckResult`; the fix is shown only when something is wrong."""
    return CheckResult(
        id=check_id,
        title=title,
        status=status,
        summary=summary,
        evidence=_rounded(evidence or {}),
        fix=fix if status in ("WARN", "FAIL") else None,
    )


def graded(broken: int, n: int) -> CheckStatus:
    """PASS when nothing broke, WARN within 1% of the samples, FAIL beyond."""
    if broken == 0:
        return "PASS"
    return "WARN" if broken <= tolerance(n) else "FAIL"


def rng_for(ctx: CheckContext, salt: int) -> torch.Generator:
    """A generator private to one check, derived from the scan seed."""
    return torch.Generator(device=ctx.x.device).manual_seed(ctx.seed * 1009 + salt)


def _rounded(value: Any) -> Any:
    """Evidence for humans: floats to 4 significant digits, recursively."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value
