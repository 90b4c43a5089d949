"""``redline calibrate``: temperature scaling on validation data, written as a
self-contained torch.export archive that ``redline scan`` loads without ``--model``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redline.cli._options import AllowPickle, Bounds, Device, Mean, ModelOpt, Std, Weights

__all__ = ["calibrate"]


def calibrate(
    data: Annotated[str, typer.Option(help="Validation data the temperature is fitted on.")],
    out: Annotated[
        Path, typer.Option(help="Calibrated model (.pt or .pt2, a torch.export archive).")
    ],
    model: ModelOpt = None,
    weights: Weights = None,
    allow_pickle: AllowPickle = False,
    bounds: Bounds = "0,1",
    mean: Mean = None,
    std: Std = None,
    device: Device = "cpu",
    label_column: Annotated[str, typer.Option(help="CSV label column.")] = "label",
    report: Annotated[
        Path | None, typer.Option(help="HTML page with the reliability diagrams before/after.")
    ] = None,
) -> int:
    """Fit a temperature on validation data; print ECE and NLL before and after."""
    from redline.cli._calibrate_run import run_calibrate
    from redline.cli._options import ModelSpec

    spec = ModelSpec(model, weights, allow_pickle, bounds, mean, std, device)
    run_calibrate(spec, data, label_column, out, report)
    return 0
