"""``redline harden --registry``: the parent version, how its child is scanned, and the
registration of the child. The child is scanned the way its parent's latest scan was
(data, samples, threat grid, suite, seed), so ``report compare`` matches every eps."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import typer

from redline.cli._store_opts import actor_name, open_cli_store
from redline.datasets import Dataset, load_data, manifest
from redline.errors import InputError
from redline.registry import Store, VersionInfo, latest_scan, load_artifact, register

if TYPE_CHECKING:
    from redline.cli._harden_run import HardenRequest
    from redline.cli._options import ModelSpec
    from redline.defenses import TrainConfig, TrainResult

__all__ = ["Parent", "ScanPlan", "register_and_scan", "resolve_parent"]


@dataclass(frozen=True)
class ScanPlan:
    """How the child is scanned."""

    data: str
    limit: int | None
    threat: str
    suite: str
    seed: int
    batch_size: int
    checks: bool
    check_samples: int
    minimal: bool
    note: str | None = None
    """Why the plan departs from the training threat, for stderr (None: it does not)."""


@dataclass(frozen=True)
class Parent:
    """The registered version being hardened, and how its child will be scanned."""

    store: Store
    version: VersionInfo
    plan: ScanPlan


def _grid(norm: str, eps: set[float]) -> str:
    return f"{norm}:" + ",".join(repr(e) for e in sorted(eps))


def _plan(req: HardenRequest, store: Store, version: VersionInfo, config: TrainConfig) -> ScanPlan:
    """The parent's latest scan settings (its grid plus the training eps when the norms
    agree); without a stored scan, ``--scan-data`` at the training threat."""
    record = latest_scan(store, version.ref)
    if record is None:
        if req.scan_data is None:
            raise InputError(f"{version.ref} was never scanned: give --scan-data")
        threat, suite = _grid(config.norm, {config.eps}), req.suite or "standard"
        return ScanPlan(req.scan_data, None, threat, suite, config.seed, 128, True, 100, True)
    parent = record.scan_result()
    cfg, data = parent.config, req.scan_data or parent.data.source
    if cfg.norm is None:
        raise InputError(
            f"{version.ref}'s latest scan has no threat model: give it a robustness scan"
        )
    same_norm = cfg.norm == config.norm
    note = None
    if not same_norm:
        note = f"scanned under the parent's {cfg.norm} grid (trained for {config.norm}) to compare"
    return ScanPlan(
        data=data,
        limit=parent.data.n_samples if data == parent.data.source else None,
        threat=_grid(cfg.norm, set(cfg.eps) | ({config.eps} if same_norm else set())),
        suite=req.suite or cfg.suite,
        seed=cfg.seed,
        batch_size=cfg.batch_size,
        checks=cfg.checks,
        check_samples=cfg.check_samples,
        minimal=cfg.minimal is not None,
        note=note,
    )


def resolve_parent(req: HardenRequest, config: TrainConfig) -> Parent | None:
    """The version to harden and its child's scan plan, every input checked before any
    training starts (None without ``--registry``)."""
    if req.registry is None:
        if req.scan_data is not None or req.policy is not None:
            raise InputError("--scan-data and --policy are for --registry runs")
        return None
    from redline.evaluation import get_suite
    from redline.policy import load_policy
    from redline.reports._bundle import check_output_dir

    actor_name(req.actor)
    if req.model.weights is not None:
        raise InputError("--registry trains from the registered artifact: drop --weights")
    if req.suite is not None:
        get_suite(req.suite)
    check_output_dir(req.report)
    if req.policy is not None:
        load_policy(req.policy)
    store = open_cli_store(req.store, "write")
    version = load_artifact(store, req.registry)[0]
    plan = _plan(req, store, version, config)
    bounds = version.input_spec.get("bounds") or (0.0, 1.0)
    load_data(plan.data, label_column=req.label_column, bounds=(bounds[0], bounds[1]))
    return Parent(store, version, plan)


def _training(result: TrainResult, data: Dataset) -> dict[str, object]:
    return {
        **asdict(result.config),
        "epochs_run": len(result.history),
        "seconds": round(result.seconds, 3),
        "stopped": result.stopped,
        "overfit_epochs": result.overfit_epochs,
        "data": data.source,
        "data_sha256": manifest(data).dataset_hash,
        "final": asdict(result.history[-1]) if result.history else None,
    }


def register_and_scan(
    req: HardenRequest, parent: Parent, spec: ModelSpec, result: TrainResult, data: Dataset
) -> int:
    """Register the hardened weights as the parent's child, scan them as planned, store
    the scan; exit 1 when its policy fails."""
    from redline.cli._common import print_summary
    from redline.cli._run import ScanRequest, run_scan

    new = register(
        parent.store,
        parent.version.model,
        req.out,
        actor=actor_name(req.actor),
        framework="torch/state_dict",
        entry_point=spec.model,
        input_spec=parent.version.input_spec,
        parent=parent.version.ref,
        training_config=_training(result, data),
        note=f"hardened from {parent.version.ref} with {result.config.method}",
    )
    plan = parent.plan
    typer.echo(new.ref)
    what = f"scanning it at {plan.threat} with the {plan.suite} suite"
    typer.echo(f"registered {new.ref} (parent {parent.version.ref}); {what}", err=True)
    if plan.note:
        typer.echo(f"note: {plan.note}", err=True)
    scan = ScanRequest(
        data=plan.data, threat=plan.threat, model=replace(spec, weights=None), suite=plan.suite,
        out=req.report, policy=req.policy, eot=1, label_column=req.label_column,
        group_column=None, limit=plan.limit, batch_size=plan.batch_size, seed=plan.seed,
        minimal=plan.minimal, checks=plan.checks, check_samples=plan.check_samples,
        progress=False, registry=new.ref, store=req.store, actor=req.actor,
    )  # fmt: skip
    scanned = run_scan(scan)
    print_summary(scanned, str(req.report))
    return 1 if scanned.policy is not None and not scanned.policy.passed else 0
