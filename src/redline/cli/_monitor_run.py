"""What ``redline monitor`` does once its options are parsed (imported lazily: heavy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import typer

from redline.errors import InputError

if TYPE_CHECKING:
    from redline.monitoring import Profile
    from redline.results import DriftResult
    from redline.targets import TorchTarget

__all__ = ["DriftRequest", "ProfileRequest", "run_drift", "run_merge", "run_profile"]

_STREAMED = (".csv", ".tsv", ".parquet")


@dataclass(frozen=True)
class ProfileRequest:
    """Every option of ``redline monitor profile``."""

    data: tuple[str, ...]
    out: Path
    model: str | None
    weights: Path | None
    bounds: str
    label_column: str | None
    group_column: str | None
    categorical: tuple[str, ...]
    chunk_rows: int
    seed: int


def _check_out(out: Path) -> None:
    if out.is_dir():
        raise InputError(f"{out}: is a folder; --out names the profile file to write")
    if not out.parent.is_dir():
        raise InputError(f"{out.parent}: no such folder for --out")


def _target(req: ProfileRequest) -> TorchTarget | None:
    if req.model is None and req.weights is None:
        return None
    from redline.cli._options import ModelSpec

    spec = ModelSpec(req.model, req.weights, False, req.bounds, None, None, "cpu")
    spec.check()
    target, _ = spec.load(eot=1)
    return target


def _outputs(
    target: TorchTarget, x: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    """Class probabilities and penultimate features of ``x`` (features None if the model
    has no linear layer)."""
    import torch

    from redline.targets import penultimate

    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    with target.session():
        logits = torch.cat([target.logits(xt[i : i + 512]) for i in range(0, len(xt), 512)])
    probs = torch.softmax(logits.double(), dim=1).numpy()
    try:
        features = penultimate(target, xt).astype(np.float64)
    except InputError:
        features = None
    return probs, features


def run_profile(req: ProfileRequest) -> None:
    """Profile the data (streamed for CSV/Parquet) and write the profile file."""
    from redline.monitoring import profile_files

    _check_out(req.out)
    target = _target(req)
    streamed = all(Path(d).suffix.lower() in _STREAMED or "*" in d for d in req.data)
    if streamed:
        predict = None if target is None else (lambda table: _outputs(target, _matrix(table)))
        found = profile_files(
            list(req.data), group_column=req.group_column, label_column=req.label_column,
            categorical=req.categorical, chunk_rows=req.chunk_rows, predict=predict, seed=req.seed,
        )  # fmt: skip
    else:
        if len(req.data) != 1:
            raise InputError(
                "several --data are for CSV/Parquet files; give one .npz or bundled set"
            )
        found = _in_memory(req, target)
    found.save(req.out)
    typer.echo(
        f"profile of {found.n_rows:,} rows x {len(found.columns)} columns written to {req.out}",
        err=True,
    )


def _matrix(table: Any) -> npt.NDArray[np.float32]:
    try:
        return np.column_stack(
            [table.column(n).to_numpy(zero_copy_only=False) for n in table.column_names]
        ).astype(np.float32)
    except (TypeError, ValueError):
        raise InputError(
            "--model needs numeric columns only (drop text columns or the label)"
        ) from None


def _in_memory(req: ProfileRequest, target: TorchTarget | None) -> Profile:
    from redline.datasets import load_data
    from redline.monitoring import Profile

    bounds = target.bounds if target is not None else None
    data = load_data(req.data[0], label_column=req.label_column or "label", bounds=bounds)
    flat = data.x.reshape(len(data.x), -1)
    names = (
        data.feature_names
        if data.feature_names and len(data.feature_names) == flat.shape[1]
        else None
    )
    probs, features = (None, None) if target is None else _outputs(target, data.x)
    return Profile.from_arrays(
        flat, names=names, categorical=req.categorical, groups=data.groups, probs=probs,
        features=features, labels=data.y if target is not None else None, seed=req.seed,
        source=data.source,
    )  # fmt: skip


def run_merge(paths: list[Path], out: Path) -> None:
    """Merge the profiles in order and write the result."""
    from redline.monitoring import Profile

    if len(paths) < 2:
        raise InputError("merge needs at least two profiles")
    _check_out(out)
    merged = Profile.load(paths[0])
    for path in paths[1:]:
        merged = merged.merge(Profile.load(path))
    merged.save(out)
    typer.echo(f"{len(paths)} profiles merged: {merged.n_rows:,} rows, written to {out}", err=True)


@dataclass(frozen=True)
class DriftRequest:
    """Every option of ``redline monitor drift``."""

    reference: Path
    current: Path
    out: Path
    policy: Path | None
    alpha: float | None
    test: str | None
    bootstrap: int
    seed: int
    multivariate: bool
    incident: str | None
    on_alarm: str | None
    webhook: str | None
    store: str | None
    actor: str | None


def run_drift(req: DriftRequest) -> int:
    """Compare, judge, write the folder, then act on a confirmed alarm; 1 on an alarm."""
    from redline.cli._monitor_actions import act_on_alarm, check_actions
    from redline.monitoring import DriftDetector, Profile, performance_estimate
    from redline.policy import load_policy
    from redline.reports._drift import check_drift_dir, write_drift_dir

    policy = load_policy(req.policy) if req.policy is not None else None
    rules = policy.drift if policy is not None else None
    check_drift_dir(req.out)
    check_actions(req)
    reference, current = Profile.load(req.reference), Profile.load(req.current)
    detector = DriftDetector(
        alpha=req.alpha if req.alpha is not None else (rules.alpha if rules else 0.05),
        numeric_test=req.test or (rules.numeric_test if rules else "ks"),
        thresholds=rules.thresholds() if rules else {},
        bootstrap=req.bootstrap, seed=req.seed, multivariate=req.multivariate,
    )  # fmt: skip
    result = detector.fit(reference).score(current)
    result = result.model_copy(update={"performance": performance_estimate(reference, current)})
    if policy is not None:
        result = result.model_copy(update={"policy": policy.evaluate_drift(result)})
    write_drift_dir(result, req.out)
    _print(result, req.out)
    failed = result.drifted or (result.policy is not None and not result.policy.passed)
    if result.drifted:
        act_on_alarm(req, result)
    return 1 if failed else 0


def _print(result: DriftResult, out: Path) -> None:
    alarms = result.alarms
    tested = sum(f.p_value is not None for f in result.findings)
    if alarms:
        names = ", ".join(f.key for f in alarms[:8]) + (" ..." if len(alarms) > 8 else "")
        typer.echo(f"DRIFT: {len(alarms)} alarm(s) among {tested} tests: {names}", err=True)
    else:
        significant = sum(f.status == "significant" for f in result.findings)
        typer.echo(
            f"no drift alarm among {tested} tests "
            f"({significant} significant below the effect thresholds)",
            err=True,
        )
    if result.policy is not None:
        typer.echo(f"policy: {'PASS' if result.policy.passed else 'FAIL'}", err=True)
    typer.echo(f"report written to {out} (drift.json, report.html, summary.md)", err=True)
