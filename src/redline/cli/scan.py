"""``redline scan``: evaluate a model from files, write the report folder, gate on a policy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redline.cli._common import print_summary
from redline.cli._options import MODEL_HELP, Combine, ModelSpec
from redline.cli._store_opts import Actor, StoreUrl

__all__ = ["scan"]

_WEIGHTS = "Weights: state_dict (.pt, needs --model), TorchScript, or torch.export (.pt2)."


def scan(
    data: Annotated[
        str,
        typer.Option(
            help="Data: .npz (x, y[, groups]), .csv, image folder, "
            "or bundled:digits / bundled:breast_cancer."
        ),
    ],
    threat: Annotated[str, typer.Option(help="Threat model, e.g. linf:8/255 or l2:0.5,1.0.")],
    model: Annotated[str | None, typer.Option(help=MODEL_HELP)] = None,
    weights: Annotated[Path | None, typer.Option(help=_WEIGHTS)] = None,
    member: Annotated[
        list[str] | None,
        typer.Option(
            "--member",
            metavar="[ENTRY=]WEIGHTS",
            help="Scan an ensemble, attacked as one model: repeat once per member (at least "
            "2). WEIGHTS is built with --model; ENTRY=WEIGHTS names its own entry point.",
        ),
    ] = None,
    combine: Annotated[
        Combine, typer.Option(help="Ensemble rule: average the logits or the probabilities.")
    ] = Combine.LOGITS,
    allow_pickle: Annotated[
        bool, typer.Option(help="Allow loading a pickled full model (runs code from the file!).")
    ] = False,
    suite: Annotated[
        str, typer.Option(help="Attack suite: standard, quick, or a comma list of attacks.")
    ] = "standard",
    out: Annotated[Path, typer.Option(help="Report folder (written atomically).")] = Path(
        "redline-report"
    ),
    policy: Annotated[Path | None, typer.Option(help="Policy file (redline.toml).")] = None,
    bounds: Annotated[str, typer.Option(help="Valid input range 'low,high'.")] = "0,1",
    mean: Annotated[str | None, typer.Option(help="Per-channel mean applied inside.")] = None,
    std: Annotated[str | None, typer.Option(help="Per-channel std applied inside.")] = None,
    eot: Annotated[int, typer.Option(help="Gradient samples per step (randomised models).")] = 1,
    label_column: Annotated[str, typer.Option(help="CSV label column.")] = "label",
    group_column: Annotated[str | None, typer.Option(help="CSV slice column.")] = None,
    limit: Annotated[int | None, typer.Option(help="Scan only the first N samples.")] = None,
    batch_size: Annotated[int, typer.Option(help="Samples per batch.")] = 128,
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = 0,
    device: Annotated[str, typer.Option(help="Device: cpu, cuda, cuda:1...")] = "cpu",
    threads: Annotated[
        int | None,
        typer.Option(
            help="Torch CPU threads (default: torch's). A small model scans several times "
            "faster with 1."
        ),
    ] = None,
    minimal: Annotated[bool, typer.Option(help="Run the minimum-norm attack (eps curve).")] = True,
    checks: Annotated[bool, typer.Option(help="Run the evaluation sanity checks.")] = True,
    check_samples: Annotated[int, typer.Option(help="Samples used by the checks.")] = 100,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    backdoor: Annotated[
        bool, typer.Option(help="Also run the backdoor checks (Neural Cleanse, STRIP).")
    ] = False,
    train: Annotated[
        str | None,
        typer.Option(help="With --backdoor: the training set, for the data detectors."),
    ] = None,
    certify: Annotated[
        str | None,
        typer.Option(
            metavar="SPEC",
            help="Also certify the model by randomized smoothing (L2, a guarantee kept apart "
            "from the empirical results): SPEC is a sigma, e.g. 0.25, or settings such as "
            "sigma=0.25,n=1000 (keys: sigma, n, n0, alpha, samples, batch).",
        ),
    ] = None,
    corruptions: Annotated[
        str | None,
        typer.Option(
            metavar="SPEC",
            help="Also measure natural-shift robustness: images get the common corruptions "
            "(all, or e.g. gaussian_noise,contrast:1,3,5) at five severities, tabular data "
            "noise, missing values and quantile shifts (all).",
        ),
    ] = None,
    registry: Annotated[
        str | None,
        typer.Option(
            help="Scan a registered version (e.g. fraud@3): its verified artifact, entry "
            "point and input contract; the result is stored against it."
        ),
    ] = None,
    store: StoreUrl = None,
    actor: Actor = None,
    schema: Annotated[
        Path | None,
        typer.Option(
            help="Feature schema (TOML) of a tabular model: kinds, bounds, "
            "immutables, budgets, relations; use with --threat schema."
        ),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            help="Black-box HTTP endpoint (JSON rows in, scores or labels out) instead of --model."
        ),
    ] = None,
    query_budget: Annotated[
        int | None, typer.Option(help="With --endpoint: the most rows you may send, in all.")
    ] = None,
    rate_limit: Annotated[
        float | None, typer.Option(help="With --endpoint: at most this many requests a second.")
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(
            help="With --endpoint: the environment variable holding a bearer token (never logged)."
        ),
    ] = None,
    unconstrained: Annotated[
        bool,
        typer.Option(
            help="With --schema: also run the attacks with only the budgets kept, "
            "and count their examples that break the schema."
        ),
    ] = False,
    classes: Annotated[
        int | None,
        typer.Option(help="With --endpoint: its number of classes (needed if it answers labels)."),
    ] = None,
) -> int:
    """Red-team a model (PyTorch, or tabular under a --schema) and write a report folder."""
    from redline.cli._run import ScanRequest, run_scan
    from redline.cli._tabular_run import TabularOptions

    request = ScanRequest(
        data=data,
        threat=threat,
        model=ModelSpec(
            model, weights, allow_pickle, bounds, mean, std, device, tuple(member or ()), combine
        ),
        suite=suite,
        out=out,
        policy=policy,
        eot=eot,
        label_column=label_column,
        group_column=group_column,
        limit=limit,
        batch_size=batch_size,
        seed=seed,
        minimal=minimal,
        checks=checks,
        check_samples=check_samples,
        progress=progress,
        backdoor=backdoor,
        train=train,
        registry=registry,
        store=store,
        actor=actor,
        certify=certify,
        corruptions=corruptions,
        threads=threads,
        tabular=TabularOptions(
            schema, endpoint, query_budget, rate_limit, token_env, classes, unconstrained
        ),
    )
    result = run_scan(request)
    print_summary(result, str(out))
    return 1 if result.policy is not None and not result.policy.passed else 0
