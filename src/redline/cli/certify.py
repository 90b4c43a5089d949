"""``redline certify``: certified L2 robustness by randomized smoothing (Cohen et al. 2019).
Its numbers are guarantees (probability 1-alpha per sample), never empirical estimates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redline.cli._options import AllowPickle, Bounds, Device, Mean, ModelOpt, Std, Weights

__all__ = ["certify"]


def certify(
    data: Annotated[str, typer.Option(help="Data (.npz, .csv, folder, bundled:...).")],
    sigma: Annotated[
        float, typer.Option(help="Noise level of the smoothed classifier (input space), (0, 10].")
    ],
    model: ModelOpt = None,
    weights: Weights = None,
    n: Annotated[int, typer.Option(help="Noise samples per input to bound pA.")] = 1000,
    n0: Annotated[int, typer.Option(help="Noise samples per input to pick the class.")] = 100,
    alpha: Annotated[
        float, typer.Option(help="Failure probability per sample, in (0, 0.5).")
    ] = 0.001,
    batch_size: Annotated[int, typer.Option(help="Noisy copies per forward pass.")] = 1000,
    limit: Annotated[int | None, typer.Option(help="Certify only the first N samples.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
    bounds: Bounds = "0,1",
    mean: Mean = None,
    std: Std = None,
    device: Device = "cpu",
    allow_pickle: AllowPickle = False,
    label_column: Annotated[str, typer.Option(help="CSV label column.")] = "label",
    out: Annotated[
        Path | None, typer.Option(help="Write the certificates as JSON here (atomically).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="HTML page with the certified-accuracy curve.")
    ] = None,
) -> int:
    """Certify L2 robustness by randomized smoothing: a guarantee, not an estimate.

    Prints the certified accuracy against the radius; each certificate holds with
    probability 1-alpha per sample."""
    from redline.cli._certify_run import CertifyRequest, print_certificates, run_certify
    from redline.cli._options import ModelSpec

    request = CertifyRequest(
        data=data,
        model=ModelSpec(model, weights, allow_pickle, bounds, mean, std, device),
        sigma=sigma,
        n=n,
        n0=n0,
        alpha=alpha,
        batch_size=batch_size,
        limit=limit,
        seed=seed,
        label_column=label_column,
        out=out,
        report=report,
    )
    result, source = run_certify(request)
    print_certificates(result, source, out)
    return 0
