"""``redline backdoor scan-data|scan-model|repair``: find poison, trojans, and remove them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from redline.cli._options import AllowPickle, Bounds, Device, Mean, ModelOpt, ModelSpec, Std

if TYPE_CHECKING:
    from redline.cli._backdoor_run import BackdoorRequest

__all__ = ["app"]

app = typer.Typer(
    help="Backdoors: rank poisoned training samples, detect trojaned models, repair them.",
    no_args_is_help=True,
)

Out = Annotated[Path, typer.Option(help="Report folder (written atomically).")]
Policy = Annotated[Path | None, typer.Option(help="Policy file ([policy.backdoor] rules).")]
Seed = Annotated[int, typer.Option(help="Seed of every random choice.")]
Layer = Annotated[
    str, typer.Option(help="Layer the detectors read ('auto' chooses; else a module name).")
]
NcSteps = Annotated[int, typer.Option(help="Neural Cleanse optimisation steps.")]
StripFrr = Annotated[float, typer.Option(help="STRIP false-rejection rate on clean data.")]
Poisoned = Annotated[
    Path | None,
    typer.Option(help="Ground truth: a 'redline poison' file (its trigger gives ASR and FAR)."),
]


def _detectors(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _finish(request: BackdoorRequest, out: Path, policy: Path | None) -> int:
    from redline.cli._backdoor_run import run_backdoor_scan
    from redline.cli._common import print_backdoor
    from redline.cli._run import judge_and_write
    from redline.policy import load_policy

    result, scores = run_backdoor_scan(request)
    extra = {} if scores is None else {"scores.csv": scores}
    rules = load_policy(policy) if policy is not None else None
    result = judge_and_write(result, rules, out, extra)
    print_backdoor(result, str(out))
    return 1 if result.policy is not None and not result.policy.passed else 0


@app.command("scan-data")
def scan_data(
    data: Annotated[str, typer.Option(help="Training set to inspect (.npz, .csv, folder).")],
    model: ModelOpt = None,
    weights: Annotated[
        Path | None, typer.Option(help="Weights of the model trained on it.")
    ] = None,
    detectors: Annotated[
        str,
        typer.Option(
            help="Comma list: spectral, clustering, robust, isolation, combined (per class "
            "the strongest of the others run; no refit)."
        ),
    ] = "spectral,clustering,robust,isolation,combined",
    layer: Layer = "auto",
    mask: Annotated[
        Path | None, typer.Option(help="Ground-truth mask (.npy or poisoned .npz) for AUROC.")
    ] = None,
    clean: Annotated[
        str | None, typer.Option(help="Clean held-out data: also run the model checks.")
    ] = None,
    out: Out = Path("redline-backdoor"),
    policy: Policy = None,
    allow_pickle: AllowPickle = False,
    bounds: Bounds = "0,1",
    mean: Mean = None,
    std: Std = None,
    device: Device = "cpu",
    label_column: Annotated[str, typer.Option(help="CSV label column.")] = "label",
    seed: Seed = 0,
) -> int:
    """Rank training samples by how likely they are poison, with per-class verdicts.

    The report folder gets scores.csv: one row per training sample.
    """
    from redline.cli._backdoor_run import BackdoorRequest
    from redline.evaluation._backdoor import BackdoorOptions

    request = BackdoorRequest(
        model=ModelSpec(model, weights, allow_pickle, bounds, mean, std, device),
        data=data,
        clean=clean,
        mask=mask,
        poisoned=None,
        options=BackdoorOptions(
            detectors=_detectors(detectors),
            layer=layer,
            model_check=clean is not None,
            strip=clean is not None,
            seed=seed,
        ),
        out=out,
        policy=policy,
        label_column=label_column,
    )
    return _finish(request, out, policy)


@app.command("scan-model")
def scan_model(
    clean: Annotated[str, typer.Option(help="Clean held-out data (every class present).")],
    model: ModelOpt = None,
    weights: Annotated[Path | None, typer.Option(help="Weights of the model to inspect.")] = None,
    poisoned: Poisoned = None,
    nc_steps: NcSteps = 200,
    strip_frr: StripFrr = 0.01,
    out: Out = Path("redline-backdoor"),
    policy: Policy = None,
    allow_pickle: AllowPickle = False,
    bounds: Bounds = "0,1",
    mean: Mean = None,
    std: Std = None,
    device: Device = "cpu",
    seed: Seed = 0,
) -> int:
    """Is this model trojaned? Neural Cleanse per class, and a calibrated STRIP guard.

    Writes the report folder with the reversed trigger of each flagged class.
    """
    from redline.cli._backdoor_run import BackdoorRequest
    from redline.evaluation._backdoor import BackdoorOptions

    request = BackdoorRequest(
        model=ModelSpec(model, weights, allow_pickle, bounds, mean, std, device),
        data=None,
        clean=clean,
        mask=None,
        poisoned=poisoned,
        options=BackdoorOptions(detectors=(), nc_steps=nc_steps, strip_frr=strip_frr, seed=seed),
        out=out,
        policy=policy,
        label_column="label",
    )
    return _finish(request, out, policy)


@app.command("repair")
def repair(
    clean: Annotated[str, typer.Option(help="Clean data the defender trusts.")],
    out: Annotated[Path, typer.Option(help="Repaired weights (.pt state_dict) to write.")],
    model: ModelOpt = None,
    weights: Annotated[Path | None, typer.Option(help="Weights of the model to repair.")] = None,
    method: Annotated[str, typer.Option(help="fine-prune or retrain.")] = "fine-prune",
    data: Annotated[str | None, typer.Option(help="retrain: the (poisoned) training set.")] = None,
    exclude: Annotated[
        Path | None, typer.Option(help="retrain: mask of samples to drop (.npy or .npz).")
    ] = None,
    flagged_by: Annotated[
        str,
        typer.Option(
            help="retrain without --exclude: detector that flags samples (spectral, "
            "clustering, robust, isolation or combined)."
        ),
    ] = "robust",
    poisoned: Poisoned = None,
    test: Annotated[
        str | None, typer.Option(help="Clean evaluation data (default: half of --clean).")
    ] = None,
    layer: Layer = "auto",
    epochs: Annotated[int | None, typer.Option(help="Fine-tuning / retraining epochs.")] = None,
    report: Annotated[
        Path | None, typer.Option(help="Also write a report folder (re-checks the model).")
    ] = None,
    allow_pickle: AllowPickle = False,
    bounds: Bounds = "0,1",
    mean: Mean = None,
    std: Std = None,
    device: Device = "cpu",
    seed: Seed = 0,
) -> int:
    """Remove a backdoor by fine-pruning, or by retraining without flagged samples.

    Prints ASR and clean accuracy before and after, and the DER.
    """
    from redline.cli._common import print_repair
    from redline.cli._repair_run import RepairRequest, run_repair
    from redline.reports._bundle import write_report_dir

    request = RepairRequest(
        model=ModelSpec(model, weights, allow_pickle, bounds, mean, std, device),
        clean=clean,
        method=method,
        out=out,
        data=data,
        exclude=exclude,
        flagged_by=flagged_by,
        poisoned=poisoned,
        test=test,
        layer=layer,
        epochs=epochs,
        report=report,
        seed=seed,
    )
    result, scan = run_repair(request)
    if scan is not None and report is not None:
        write_report_dir(scan, report)
    print_repair(result, out)
    return 0
