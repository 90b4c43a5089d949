"""``redline train``: train a classifier with redline's seeded trainer and write its weights,
so that a walk-through (poison, train, scan, backdoor checks) needs no Python."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redline.cli._options import MODEL_HELP, Bounds, Device, Mean, ModelSpec, Std

__all__ = ["train"]


def train(
    data: Annotated[
        str, typer.Option(help="Training data (.npz, .csv, image folder, bundled:NAME:SPLIT).")
    ],
    model: Annotated[str, typer.Option("--model", help=MODEL_HELP)],
    out: Annotated[Path, typer.Option(help="Where to write the trained state_dict (.pt).")],
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 20,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    batch_size: Annotated[int, typer.Option(help="Training batch size.")] = 64,
    seed: Annotated[int, typer.Option(help="Seed of the initial weights and the shuffling.")] = 0,
    val: Annotated[
        str | None,
        typer.Option(
            metavar="FRACTION|DATA",
            help="Validation: a share of --data held out (e.g. 0.2) or a data set of its own.",
        ),
    ] = None,
    bounds: Bounds = "0,1",
    mean: Mean = None,
    std: Std = None,
    device: Device = "cpu",
    label_column: Annotated[str, typer.Option(help="CSV label column.")] = "label",
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> int:
    """Train a model (Adam, cross-entropy) and write its state_dict for scan and backdoor.

    Same seed, same weights on the CPU. --mean/--std are applied inside, as scan applies
    them, so pass the same values to the commands that load the weights.
    """
    from redline.cli._train_run import TrainRequest, run_train

    request = TrainRequest(
        data=data,
        model=ModelSpec(model, None, False, bounds, mean, std, device),
        out=out,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        val=val,
        label_column=label_column,
        progress=progress,
    )
    outcome = run_train(request)
    val_part = (
        ""
        if outcome.val_accuracy is None
        else f", validation accuracy {outcome.val_accuracy:.1%} ({outcome.n_val} samples)"
    )
    typer.echo(
        f"trained {model} for {epochs} epoch(s) on {outcome.n_train} samples in "
        f"{outcome.seconds:.1f} s: train accuracy {outcome.train_accuracy:.1%}{val_part}; "
        f"wrote {out}",
        err=True,
    )
    return 0
