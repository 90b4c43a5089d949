"""The scan: clean accuracy, a suite over an eps grid, minimal perturbations, sanity checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from redline.attacks import Attack
from redline.attacks._geometry import Norm, lp_norm, within
from redline.attacks._registry import make_attack
from redline.errors import InputError
from redline.evaluation._collect import MINIMAL, BatchRecord, Collector, softmax_stats
from redline.evaluation._scan_progress import ScanProgress
from redline.evaluation._suite import Suite, get_suite
from redline.evaluation._threat import Threat, parse_threat
from redline.results import Example
from redline.targets import Target

__all__ = ["ModelInfo", "ScanPlan", "scan_batches"]


@dataclass(frozen=True)
class ModelInfo:
    """Provenance of the scanned model, recorded in the report."""

    source: str | None = None
    format: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class ScanPlan:
    """Validated settings of one scan."""

    norm: Norm
    eps: tuple[float, ...]
    suite: Suite
    minimal: Attack | None
    seed: int
    batch_size: int
    examples: int


def resolve_threat(threat: str, eps: float | Sequence[float] | None) -> Threat:
    """Combine ``threat`` ('linf' or 'linf:0.1,0.2') with an optional eps list."""
    if ":" in threat:
        if eps is not None:
            raise InputError(f"give eps either in the threat string {threat!r} or as eps=")
        return parse_threat(threat)
    if eps is None:
        raise InputError(f"threat {threat!r} needs eps (e.g. '{threat}:0.1' or eps=[...])")
    values = [eps] if isinstance(eps, int | float) else list(eps)
    return parse_threat(f"{threat}:" + ",".join(repr(float(v)) for v in values))


def make_plan(
    threat: Threat,
    suite: str | Suite,
    *,
    minimal: bool,
    seed: int,
    batch_size: int,
    examples: int,
) -> ScanPlan:
    """Check the settings before any work starts."""
    if batch_size < 1:
        raise InputError(f"batch size must be >= 1, got {batch_size}")
    chosen = suite if isinstance(suite, Suite) else get_suite(suite)
    chosen.build(threat.norm, threat.eps[0], seed)  # fails now, not after an hour
    fmn = make_attack(MINIMAL, norm=threat.norm, eps=threat.eps[0], seed=seed) if minimal else None
    if fmn is not None:
        fmn = fmn.with_params(eps=None)
    return ScanPlan(threat.norm, threat.eps, chosen, fmn, seed, batch_size, max(0, examples))


def scan_batches(
    plan: ScanPlan,
    target: Target,
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    progress: ScanProgress,
) -> Collector:
    """Stream the data through the plan batch by batch; memory scales with the batch."""
    collector = Collector(plan.eps, plan.examples)
    for b, start in enumerate(range(0, len(y), plan.batch_size)):
        stop = start + plan.batch_size
        xb = torch.as_tensor(x[start:stop], device=target.device)
        yb = torch.as_tensor(y[start:stop], device=target.device)
        progress.begin_batch(b, len(yb))
        collector.add(_scan_batch(plan, target, xb, yb, start, b, collector, progress))
    return collector


@dataclass
class _State:
    """One batch's worst case so far: who stands, each sample's current example and logits."""

    x: torch.Tensor
    y: torch.Tensor
    standing: torch.Tensor
    cur_x: torch.Tensor
    cur_logits: torch.Tensor
    names: list[str | None]

    def update(self, idx: torch.Tensor, x_adv: torch.Tensor, logits: torch.Tensor) -> list[int]:
        """Take new examples for ``idx``; returns the indices that are now broken."""
        self.cur_x[idx], self.cur_logits[idx] = x_adv, logits
        hit = logits.argmax(dim=1) != self.y[idx]
        self.standing[idx[hit]] = False
        return idx[hit].tolist()


def _scan_batch(
    plan: ScanPlan,
    target: Target,
    x: torch.Tensor,
    y: torch.Tensor,
    offset: int,
    b: int,
    collector: Collector,
    progress: ScanProgress,
) -> BatchRecord:
    clean_logits = target.logits(x)
    pred, conf = softmax_stats(clean_logits)
    correct = clean_logits.argmax(dim=1) == y
    progress.clean(int(correct.sum()))
    fmn_x, dist, cost = _minimal(plan, target, x, y, correct, b, progress)
    record = BatchRecord(
        label=y.cpu().numpy().astype(np.int64),
        clean_pred=pred,
        clean_conf=conf,
        adv_pred=[],
        adv_conf=[],
        broken_by=[],
        min_distance=None if dist is None else dist.cpu().numpy(),
        violations=[],
        runs=[],
        minimal_cost=cost,
    )
    state = _State(x, y, correct.clone(), x.clone(), clean_logits.clone(), [None] * len(y))
    for k, eps in enumerate(plan.eps):
        newly = _attack_eps(plan, target, state, k, b, record, progress)
        if fmn_x is not None and dist is not None:
            newly += _fold_minimal(target, state, fmn_x, dist, eps)
        progress.eps_done(k, int(state.standing.sum()))
        p, c = softmax_stats(state.cur_logits)
        record.adv_pred.append(p)
        record.adv_conf.append(c)
        record.broken_by.append(list(state.names))
        if target.judges_threat:  # a feature schema: its rules at this eps decide
            ok = target.valid(x, state.cur_x, eps)
        else:
            ok = within(x, state.cur_x, plan.norm, eps, target.bounds)
        record.violations.append(int((~ok).sum()))
        wanted = collector.examples_wanted(k) - sum(e.eps == eps for e in record.examples)
        rows = target.judges_threat  # table rows only where a schema turns them into changes
        record.examples += _examples(state, pred, p, newly, offset, eps, plan.norm, wanted, rows)
    return record


def _attack_eps(
    plan: ScanPlan,
    target: Target,
    state: _State,
    k: int,
    b: int,
    record: BatchRecord,
    progress: ScanProgress,
) -> list[int]:
    """Run the suite on the samples standing at eps ``k``; returns the newly broken."""
    idx = state.standing.nonzero().squeeze(1)
    if not len(idx):
        record.runs.append([])
        return []
    out = plan.suite.run(
        target,
        state.x[idx],
        state.y[idx],
        norm=plan.norm,
        eps=plan.eps[k],
        seed=plan.seed + b,
        on_attack=lambda i, attack, n: progress.attack_start(k, i, attack, n),
    )
    record.runs.append(out.runs)
    newly = state.update(idx, out.x_adv, out.logits)
    by = dict(zip(idx.tolist(), out.broken_by.tolist(), strict=True))
    for i in newly:
        state.names[i] = out.runs[by[i]].attack
    return newly


def _minimal(
    plan: ScanPlan,
    target: Target,
    x: torch.Tensor,
    y: torch.Tensor,
    correct: torch.Tensor,
    b: int,
    progress: ScanProgress,
) -> tuple[torch.Tensor | None, torch.Tensor | None, tuple[int, int, float]]:
    """Minimum-norm attack on the correctly classified samples of the batch."""
    if plan.minimal is None:
        return None, None, (0, 0, 0.0)
    dist = torch.zeros(len(y), dtype=torch.float64, device=x.device)
    x_adv, cost = x.clone(), (0, 0, 0.0)
    idx = correct.nonzero().squeeze(1)
    if len(idx):
        progress.minimal_start(len(idx))
        attack = plan.minimal.with_params(seed=plan.seed + b)
        res = attack(target, x[idx], y[idx], assume_correct=True)
        dist[idx] = res.distances.double().where(res.success, torch.inf)
        x_adv[idx], cost = res.x_adv, (res.forward, res.backward, res.seconds)
    progress.minimal_done(dist.cpu().numpy(), correct.cpu().numpy())
    return x_adv, dist, cost


def _fold_minimal(
    target: Target, state: _State, fmn_x: torch.Tensor, dist: torch.Tensor, eps: float
) -> list[int]:
    """Samples the suite missed but the minimum-norm attack broke within eps (re-verified)."""
    idx = (state.standing & (dist <= eps)).nonzero().squeeze(1)
    if not len(idx):
        return []
    newly = state.update(idx, fmn_x[idx], target.logits(fmn_x[idx]))
    for i in newly:
        state.names[i] = MINIMAL
    return newly


def _examples(
    state: _State,
    clean_pred: npt.NDArray[np.int64],
    adv_pred: npt.NDArray[np.int64],
    newly: list[int],
    offset: int,
    eps: float,
    norm: Norm,
    wanted: int,
    rows: bool = False,
) -> list[Example]:
    """A few clean/adversarial pairs for the report: images (n, c, h, w) for the grid,
    or, with ``rows``, table rows (n, features) that a tabular section turns into
    feature changes."""
    if (state.x.dim() != 4 and not (rows and state.x.dim() == 2)) or wanted <= 0:
        return []
    out = []
    digits = 9 if rows else 4  # a table row keeps its float32 digits: reported in units
    for i in sorted(newly)[:wanted]:
        x, x_adv = state.x[i : i + 1], state.cur_x[i : i + 1]
        out.append(
            Example(
                index=offset + i,
                eps=eps,
                attack=state.names[i] or "",
                label=int(state.y[i]),
                clean_pred=int(clean_pred[i]),
                adv_pred=int(adv_pred[i]),
                distance=float(lp_norm(x_adv - x, norm)[0]),
                clean=_rounded(x[0], digits),
                adversarial=_rounded(x_adv[0], digits),
            )
        )
    return out


def _rounded(row: torch.Tensor, digits: int) -> list[Any]:
    """A sample for the report: ``digits`` decimals for an image (nested lists), or
    ``digits`` significant digits for a table row (features of any magnitude)."""
    values = row.cpu().numpy().astype(np.float64)
    if values.ndim != 1:
        out: list[Any] = np.round(values, digits).tolist()
        return out
    return [float(f"{v:.{digits}g}") for v in values]
