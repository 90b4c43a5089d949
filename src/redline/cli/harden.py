"""``redline harden``: adversarial training from the command line, optionally registered
as a new version of a registry model and scanned beside its parent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redline.cli._options import AllowPickle, Bounds, Device, Mean, ModelOpt, Std, Weights
from redline.cli._store_opts import Actor, StoreUrl

__all__ = ["harden"]


def harden(
    data: Annotated[str, typer.Option(help="Training data (.npz, .csv, folder, bundled:...).")],
    threat: Annotated[str, typer.Option(help="Training threat, one eps: linf:0.1, l2:0.5.")],
    out: Annotated[Path, typer.Option(help="Where to write the hardened state_dict.")],
    method: Annotated[str, typer.Option(help="pgd-at, trades or fgsm-rs.")] = "pgd-at",
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 10,
    model: ModelOpt = None,
    weights: Weights = None,
    allow_pickle: AllowPickle = False,
    bounds: Bounds = "0,1",
    mean: Mean = None,
    std: Std = None,
    device: Device = "cpu",
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    beta: Annotated[float, typer.Option(help="TRADES robustness weight.")] = 6.0,
    steps: Annotated[int, typer.Option(help="PGD steps per training example.")] = 10,
    batch_size: Annotated[int, typer.Option(help="Training batch size.")] = 64,
    seed: Annotated[int, typer.Option(help="Seed of the shuffling and the attacks.")] = 0,
    label_column: Annotated[str, typer.Option(help="CSV label column.")] = "label",
    checkpoint: Annotated[
        Path | None, typer.Option(help="Save every epoch here (atomically).")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue from --checkpoint.")] = False,
    amp: Annotated[
        bool, typer.Option(help="Mixed precision for the training passes (CUDA only).")
    ] = False,
    on_overfit: Annotated[
        str, typer.Option(help="FGSM-RS collapse: 'fallback' to PGD-AT or 'stop'.")
    ] = "fallback",
    registry: Annotated[
        str | None,
        typer.Option(
            help="Harden this registered version (e.g. fraud@3): the result is registered "
            "as the next version with it as parent, then scanned."
        ),
    ] = None,
    scan_data: Annotated[
        str | None,
        typer.Option(
            help="With --registry: data to scan the new version on (default: the data of "
            "the parent's latest scan, on its eps grid)."
        ),
    ] = None,
    suite: Annotated[
        str | None,
        typer.Option(
            help="With --registry: the scan's suite (default: the parent's latest scan's, "
            "else standard)."
        ),
    ] = None,
    policy: Annotated[Path | None, typer.Option(help="With --registry: policy file.")] = None,
    report: Annotated[Path, typer.Option(help="With --registry: the scan's report folder.")] = Path(
        "harden-report"
    ),
    store: StoreUrl = None,
    actor: Actor = None,
) -> int:
    """Adversarially train a model (PGD-AT, TRADES or FGSM-RS) and write its weights."""
    from redline.cli._harden_run import HardenRequest, run_harden
    from redline.cli._options import ModelSpec
    from redline.defenses import TrainConfig

    spec = ModelSpec(model, weights, allow_pickle, bounds, mean, std, device)
    request = HardenRequest(
        data=data,
        threat=threat,
        out=out,
        model=spec,
        config=TrainConfig(
            method=method,  # type: ignore[arg-type]  # checked by TrainConfig.check
            norm="linf",
            eps=1.0,
            epochs=epochs,
            lr=lr,
            beta=beta,
            steps=steps,
            seed=seed,
            on_overfit=on_overfit,
            amp=amp,
        ),
        batch_size=batch_size,
        label_column=label_column,
        checkpoint=checkpoint,
        resume=resume,
        registry=registry,
        scan_data=scan_data,
        suite=suite,
        policy=policy,
        report=report,
        store=store,
        actor=actor,
    )
    return run_harden(request)
