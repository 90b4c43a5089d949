"""``scan()``: the one call that evaluates a model's robustness end to end."""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from redline._version import __version__
from redline.datasets._validate import validate_arrays
from redline.errors import InputError
from redline.evaluation._budget import Scope, work_done
from redline.evaluation._checks_base import CheckContext
from redline.evaluation._collect import Collector, minimal_summary
from redline.evaluation._progress import Progress
from redline.evaluation._scan import ModelInfo, ScanPlan, make_plan, resolve_threat, scan_batches
from redline.evaluation._scan_progress import ScanProgress
from redline.evaluation._suite import Suite
from redline.evaluation.checks import run_checks
from redline.results import (
    AttackConfig,
    CheckResult,
    Cost,
    DataInfo,
    Environment,
    MinimalPerturbation,
    ScanConfig,
    ScanResult,
    TargetInfo,
)
from redline.targets import Target

__all__ = ["scan"]

ArrayLike = npt.NDArray[Any] | torch.Tensor | Sequence[Any]


def scan(
    target: Target,
    x: ArrayLike,
    y: ArrayLike,
    *,
    threat: str = "linf",
    eps: float | Sequence[float] | None = None,
    suite: str | Suite = "standard",
    groups: ArrayLike | None = None,
    class_names: Sequence[str] | None = None,
    seed: int = 0,
    batch_size: int = 128,
    minimal: bool = True,
    checks: bool = True,
    check_samples: int = 100,
    examples: int = 6,
    data_source: str = "arrays",
    model: ModelInfo | None = None,
    progress: bool = False,
) -> ScanResult:
    """Evaluate ``target`` on ``(x, y)`` under a threat model; returns a :class:`ScanResult`.

    ``threat`` is ``"linf"``/``"l2"`` with ``eps`` given separately, or a full string such
    as ``"linf:2/255,4/255,8/255"``. The suite runs worst-case per sample at each eps
    (samples broken at a smaller eps stay broken), a minimum-norm attack gives each
    sample's smallest perturbation, and the sanity checks judge the evaluation itself.
    """
    t0 = time.perf_counter()
    plan = make_plan(
        resolve_threat(threat, eps),
        suite,
        minimal=minimal,
        seed=seed,
        batch_size=batch_size,
        examples=examples,
    )
    finite = all(np.isfinite(target.bounds))  # tabular targets: the schema holds the bounds
    bounds = target.bounds if finite else None
    xs, ys = validate_arrays(_numpy(x), _numpy(y), source=data_source, bounds=bounds)
    group_arr = _groups(groups, len(ys), data_source)
    stages: dict[str, float] = {}
    with target.session():
        num_classes = _num_classes(target, xs, ys, class_names, data_source)
        start_usage = target.usage.snapshot()
        tracker = _progress(progress, plan, target, len(ys), num_classes, check_samples * checks)
        with tracker.bar:
            collector = scan_batches(plan, target, xs, ys, tracker)
            stages["attacks"] = time.perf_counter() - t0
            found = (
                _checks(plan, target, xs, ys, collector, num_classes, check_samples, tracker)
                if checks
                else []
            )
            stages["checks"] = time.perf_counter() - t0 - stages["attacks"]
        used = target.usage.since(start_usage)
    names = {str(i): n for i, n in enumerate(class_names)} if class_names else {}
    eps_results = [collector.eps_result(k, group_arr, names) for k in range(len(plan.eps))]
    queries = sum(int((s.queries_mean or 0) * s.attacked) for r in eps_results for s in r.attacks)
    return ScanResult(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        environment=_environment(target),
        target=_target_info(target, model, num_classes),
        data=_data_info(xs, ys, group_arr, data_source, num_classes, class_names),
        config=_config(plan, checks, check_samples),
        clean=collector.clean_result(group_arr, names),
        eps=eps_results,
        minimal=_minimal(collector, plan),
        checks=found,
        examples=collector.examples(),
        samples=collector.samples(),
        cost=Cost(
            forward=used.forward,
            backward=used.backward,
            queries=queries,
            seconds=time.perf_counter() - t0,
            stages=stages,
        ),
    )


def _numpy(a: ArrayLike) -> npt.NDArray[Any]:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def _groups(groups: ArrayLike | None, n: int, source: str) -> npt.NDArray[np.str_] | None:
    if groups is None:
        return None
    arr = _numpy(groups).astype(np.str_)
    if arr.shape != (n,):
        raise InputError(f"{source}: groups has shape {arr.shape}, expected ({n},)")
    return arr


def _num_classes(
    target: Target,
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    class_names: Sequence[str] | None,
    source: str,
) -> int:
    """Classes the model outputs; labels and class names must fit them."""
    logits = target.logits(torch.as_tensor(x[:1], device=target.device))
    k = int(logits.shape[1])
    if int(y.max()) >= k:
        raise InputError(
            f"{source}: labels go up to {int(y.max())} but the model outputs {k} classes"
        )
    if class_names is not None and len(class_names) != k:
        raise InputError(f"{source}: {len(class_names)} class names for a model with {k} outputs")
    return k


def _checks(
    plan: ScanPlan,
    target: Target,
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    collector: Collector,
    num_classes: int,
    check_samples: int,
    bar: ScanProgress,
) -> list[CheckResult]:
    correct = np.flatnonzero(collector.clean_correct)[:check_samples]
    robust = [collector.robust_mask(k) for k in range(len(plan.eps))]
    standing = [k for k in range(len(plan.eps)) if robust[k][correct].any()]
    probe = standing[-1] if standing else 0
    black = {a.name for a in plan.suite.build(plan.norm, plan.eps[probe]) if not a.needs_gradients}
    ctx = CheckContext(
        target=target,
        norm=plan.norm,
        eps=plan.eps,
        probe_eps=plan.eps[probe],
        x=torch.as_tensor(x[correct], device=target.device),
        y=torch.as_tensor(y[correct], device=target.device),
        survivors=torch.as_tensor(robust[probe][correct], device=target.device),
        suite=plan.suite,
        clean_correct=int(collector.clean_correct.sum()),
        blackbox_broken=sum(1 for b in collector.broken_by(probe) if b in black),
        robust_accuracy=tuple(float(r.mean()) for r in robust),
        violations=collector.violations(),
        checked_examples=len(y) * len(plan.eps),
        num_classes=num_classes,
        seed=plan.seed,
    )
    bar.checks_begin(len(ctx.x), int(ctx.survivors.sum()), ctx.probe_eps)
    return run_checks(ctx, bar.check_start)


def _progress(
    enabled: bool, plan: ScanPlan, target: Target, n: int, num_classes: int, check_samples: int
) -> ScanProgress:
    """The scan's bar, its total planned before the first stage (silent when disabled)."""
    scope = Scope(
        norm=plan.norm,
        eps=plan.eps,
        suite=plan.suite,
        num_classes=num_classes,
        eot=int(getattr(target, "eot", 1)),
        differentiable=target.differentiable,
        seed=plan.seed,
    )
    sizes = [min(plan.batch_size, n - start) for start in range(0, n, plan.batch_size)]
    bar = Progress(enabled, "scan", lambda: work_done(target))
    return ScanProgress(bar, plan, scope, sizes, check_samples)


def _minimal(collector: Collector, plan: ScanPlan) -> MinimalPerturbation | None:
    dist = collector.min_distances()
    if dist is None or plan.minimal is None:
        return None
    return minimal_summary(dist, collector.clean_correct, plan.eps, collector.minimal_cost())


def _environment(target: Target) -> Environment:
    return Environment(
        redline=__version__,
        python=platform.python_version(),
        torch=torch.__version__,
        numpy=np.__version__,
        platform=platform.platform(),
        device=str(target.device),
        threads=torch.get_num_threads(),
    )


def _target_info(target: Target, model: ModelInfo | None, num_classes: int) -> TargetInfo:
    module = getattr(target, "module", None)
    params = sum(p.numel() for p in module.parameters()) if module is not None else None
    info = model or ModelInfo()
    return TargetInfo(
        kind=type(target).__name__,
        source=info.source,
        format=info.format,
        sha256=info.sha256,
        bounds=target.bounds,
        mean=getattr(target, "mean", None),
        std=getattr(target, "std", None),
        eot=int(getattr(target, "eot", 1)),
        num_classes=num_classes,
        num_parameters=params,
    )


def _data_info(
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    groups: npt.NDArray[np.str_] | None,
    source: str,
    num_classes: int,
    class_names: Sequence[str] | None,
) -> DataInfo:
    from redline.datasets import fingerprint

    return DataInfo(
        source=source,
        sha256=fingerprint(x, y, groups),
        n_samples=len(y),
        input_shape=list(x.shape[1:]),
        num_classes=num_classes,
        class_names=list(class_names) if class_names else None,
        groups=None if groups is None else sorted(set(groups.tolist())),
    )


def _config(plan: ScanPlan, checks: bool, check_samples: int) -> ScanConfig:
    attacks = plan.suite.build(plan.norm, plan.eps[0], plan.seed)
    return ScanConfig(
        norm=plan.norm,
        eps=list(plan.eps),
        suite=plan.suite.name,
        attacks=[AttackConfig(name=a.name, params=_jsonable(a.params())) for a in attacks],
        minimal=None
        if plan.minimal is None
        else AttackConfig(name=plan.minimal.name, params=_jsonable(plan.minimal.params())),
        seed=plan.seed,
        batch_size=plan.batch_size,
        checks=checks,
        check_samples=check_samples,
    )


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, bool | int | float | str | type(None)) else repr(v)
        for k, v in params.items()
    }
