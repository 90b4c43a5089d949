"""What ``redline scan`` does once its options are parsed (imported lazily: heavy)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import typer

from redline.cli._options import ModelSpec
from redline.cli._scan_certify import certify_section, parse_certify
from redline.cli._scan_shift import check_shift_data, parse_corruptions, run_shift
from redline.cli._tabular_run import TabularOptions, is_tabular, run_tabular_scan
from redline.datasets import Dataset
from redline.errors import InputError
from redline.evaluation import ScanResult, parse_threat, scan
from redline.poisoning import PoisonedData
from redline.policy import Policy, load_policy
from redline.registry import Store
from redline.reports._bundle import check_output_dir, write_report_dir
from redline.targets import TorchTarget

__all__ = ["ScanRequest", "run_scan"]


@dataclass(frozen=True)
class ScanRequest:
    """Every option of ``redline scan``."""

    data: str
    threat: str
    model: ModelSpec
    suite: str
    out: Path
    policy: Path | None
    eot: int
    label_column: str
    group_column: str | None
    limit: int | None
    batch_size: int
    seed: int
    minimal: bool
    checks: bool
    check_samples: int
    progress: bool
    backdoor: bool = False
    train: str | None = None
    registry: str | None = None
    store: str | None = None
    actor: str | None = None
    certify: str | None = None
    corruptions: str | None = None
    threads: int | None = None
    tabular: TabularOptions = field(default_factory=TabularOptions)


def run_scan(req: ScanRequest) -> ScanResult:
    """Validate everything cheap first, then load, scan, judge and write the folder, on
    ``req.threads`` torch threads."""
    from redline.cli._threads import torch_threads

    with torch_threads(req.threads):
        return run_tabular_scan(req) if is_tabular(req) else _run_scan(req)


def _run_scan(req: ScanRequest) -> ScanResult:
    from redline.datasets import load_data
    from redline.evaluation import get_suite

    threat = parse_threat(req.threat)
    policy = load_policy(req.policy) if req.policy is not None else None
    get_suite(req.suite)
    check_output_dir(req.out)
    certify = None if req.certify is None else parse_certify(req.certify)
    shift = None if req.corruptions is None else parse_corruptions(req.corruptions)
    registered = _registered(req) if req.registry is not None else None
    if registered is not None:
        req = replace(req, model=registered[1])
    req.model.check()
    if req.limit is not None and req.limit < 1:
        raise InputError(f"--limit must be >= 1, got {req.limit}")
    if req.train is not None and not req.backdoor:
        raise InputError("--train is only used by the backdoor checks: add --backdoor")
    target, info = req.model.load(eot=req.eot)
    data = load_data(
        req.data, label_column=req.label_column, group_column=req.group_column, bounds=target.bounds
    ).take(req.limit)
    if shift is not None:
        check_shift_data(shift, data.x.shape, tabular=False)
    if req.backdoor:
        from redline.evaluation._backdoor import BackdoorOptions, check_clean

        check_clean((data.x, data.y), BackdoorOptions(seed=req.seed))
    train = _training(req, target)
    result = scan(
        target,
        data.x,
        data.y,
        threat=threat.norm,
        eps=_grid(threat.eps, policy, threat.norm),
        suite=req.suite,
        groups=data.groups,
        class_names=data.class_names,
        seed=req.seed,
        batch_size=req.batch_size,
        minimal=req.minimal,
        checks=req.checks,
        check_samples=req.check_samples,
        data_source=data.source,
        progress=req.progress,
        model=info,
    )
    if req.backdoor:
        from redline.evaluation._backdoor import BackdoorOptions, run_backdoor

        section = run_backdoor(
            target,
            train=None if train is None else (train[0].x, train[0].y),
            clean=(data.x, data.y),
            options=BackdoorOptions(seed=req.seed),
            poisoned=None if train is None else train[1],
            class_names=data.class_names,
        ).section
        result = result.model_copy(update={"backdoor": section})
    if certify is not None:
        x, y = torch.as_tensor(data.x), torch.as_tensor(data.y)
        found = certify_section(certify, target, x, y, req.seed)
        result = result.model_copy(update={"certified": found})
    if shift is not None:
        shifted = run_shift(shift, target, data, data.y, req.seed)
        result = result.model_copy(update={"natural_shift": shifted})
    result = judge_and_write(result, policy, req.out)
    if registered is not None:
        _record(req, registered[0], result)
    return result


def _registered(req: ScanRequest) -> tuple[Store, ModelSpec]:
    """The store and the model spec of ``--registry``: the version's verified artifact,
    its entry point (unless ``--model`` overrides it) and its input contract."""
    from redline.cli._store_opts import actor_name, open_cli_store
    from redline.registry import load_artifact

    actor_name(req.actor)  # a bad --actor fails before the scan, not after
    if req.model.weights is not None or req.model.members:
        raise InputError("--registry scans the registered artifact: drop --weights/--member")
    store = open_cli_store(req.store, "write")
    info, path = load_artifact(store, str(req.registry))
    return store, req.model.with_version(info, path)


def _record(req: ScanRequest, store: Store, result: ScanResult) -> None:
    from redline.cli._store_opts import actor_name
    from redline.registry import record_scan

    stored = record_scan(store, str(req.registry), result, actor=actor_name(req.actor))
    verdict = {True: "passed", False: "failed", None: "no policy"}[stored.passed]
    typer.echo(f"stored as scan #{stored.id} of {stored.version} ({verdict})", err=True)


def _training(req: ScanRequest, target: TorchTarget) -> tuple[Dataset, PoisonedData | None] | None:
    """The training set of ``--train`` (with its ground truth if it is a poisoned file)."""
    if req.train is None:
        return None
    from redline.cli._backdoor_run import load_training

    return load_training(req.train, target.bounds, req.label_column)


def _grid(eps: tuple[float, ...], policy: Policy | None, norm: str) -> list[float]:
    """The threat's eps plus every eps the policy asks about for this norm."""
    extra = [r.eps for r in policy.robust if (r.norm or norm) == norm] if policy else []
    return sorted(set(eps) | set(extra))


def judge_and_write(
    result: ScanResult, policy: Policy | None, out: Path, extra: dict[str, bytes] | None = None
) -> ScanResult:
    """Attach the policy verdict and write the report folder atomically."""
    if policy is not None:
        result = result.model_copy(update={"policy": policy.evaluate(result)})
    write_report_dir(result, out, extra)
    return result
