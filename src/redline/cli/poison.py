"""``redline poison``: simulate a poisoning attack on a training set, with ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redline.cli._options import AllowPickle, Bounds, Device, Mean, ModelOpt, ModelSpec, Std

__all__ = ["ATTACK_NAMES", "poison"]

ATTACK_NAMES: tuple[str, ...] = ("badnets", "blended", "sig", "label-flip", "label-consistent")
ATTACK_NAMES += ("wanet", "adaptive-blend", "adaptive-patch", "frequency", "sample-specific")


def poison(
    data: Annotated[str, typer.Option(help="Training data (.npz, .csv, folder, bundled:...).")],
    attack: Annotated[str, typer.Option(help="Attack: " + ", ".join(ATTACK_NAMES) + ".")],
    rate: Annotated[float, typer.Option(help="Share of the whole set to poison, in (0, 1).")],
    out: Annotated[Path, typer.Option(help="Poisoned .npz to write (mask beside it).")],
    target_class: Annotated[
        int | None, typer.Option(help="Class the backdoor sends inputs to (default 0).")
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(help="badnets: all-to-one|all-to-all; label-flip: random|targeted."),
    ] = None,
    source_class: Annotated[
        int | None, typer.Option(help="label-flip targeted: the class relabelled.")
    ] = None,
    patch_size: Annotated[
        int | None, typer.Option(help="badnets, label-consistent: patch side (default 3).")
    ] = None,
    patch_pattern: Annotated[
        str | None,
        typer.Option(help="badnets, label-consistent: checkerboard (default), solid, random."),
    ] = None,
    patch_shape: Annotated[
        str | None,
        typer.Option(help="badnets, label-consistent: square (default), cross, x, ring, line."),
    ] = None,
    location: Annotated[
        str | None,
        typer.Option(
            help="badnets, label-consistent: bottom-right (default), bottom-left, top-left, "
            "top-right, center, "
            "top, bottom, left, right, or random (per sample)."
        ),
    ] = None,
    alpha: Annotated[
        float | None, typer.Option(help="blended: blend weight of the key (default 0.15).")
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="blended, adaptive-blend: noise (default) or low-frequency.")
    ] = None,
    amplitude: Annotated[
        float | None, typer.Option(help="sig, sample-specific: amplitude (default 0.1).")
    ] = None,
    eps: Annotated[
        float | None, typer.Option(help="label-consistent: PGD radius, Linf (default 0.2).")
    ] = None,
    strength: Annotated[
        float | None, typer.Option(help="wanet: warp strength (default 0.5).")
    ] = None,
    grid: Annotated[int | None, typer.Option(help="wanet: control grid side (default 4).")] = None,
    magnitude: Annotated[
        float | None, typer.Option(help="frequency: peak pixel change (default 0.1).")
    ] = None,
    cover_rate: Annotated[
        float | None,
        typer.Option(help="adaptive-*: share triggered but kept labelled (default --rate)."),
    ] = None,
    model: ModelOpt = None,
    weights: Annotated[
        Path | None, typer.Option(help="label-consistent: surrogate model weights.")
    ] = None,
    allow_pickle: AllowPickle = False,
    bounds: Bounds = "0,1",
    mean: Mean = None,
    std: Std = None,
    device: Device = "cpu",
    label_column: Annotated[str, typer.Option(help="CSV label column.")] = "label",
    seed: Annotated[int, typer.Option(help="Seed of the sample choice and the trigger.")] = 0,
) -> int:
    """Poison a training set: the poisoned .npz plus OUT.mask.npy (ground truth).

    The .npz carries x, y, the mask, the original labels and the trigger (and the cover
    samples of wanet and adaptive-*: triggered, labels kept; not in the mask).
    """
    from redline.cli._poison_run import PoisonRequest, run_poison

    request = PoisonRequest(
        data=data,
        attack=attack,
        rate=rate,
        out=out,
        target_class=target_class,
        mode=mode,
        source_class=source_class,
        patch_size=patch_size,
        alpha=alpha,
        amplitude=amplitude,
        eps=eps,
        patch_pattern=patch_pattern,
        patch_shape=patch_shape,
        location=location,
        key=key,
        strength=strength,
        grid=grid,
        magnitude=magnitude,
        cover_rate=cover_rate,
        model=ModelSpec(model, weights, allow_pickle, bounds, mean, std, device),
        label_column=label_column,
        seed=seed,
    )
    poisoned, mask_path = run_poison(request)
    share = poisoned.target_share()
    typer.echo(
        f"{poisoned.attack}: poisoned {poisoned.n_poisoned} of {len(poisoned.mask)} samples"
        + ("" if share is None else f" ({share:.1%} of target class {poisoned.target_class})")
        + (f", {poisoned.n_cover} cover samples (labels kept)" if poisoned.n_cover else "")
        + f"; wrote {out} and {mask_path}",
        err=True,
    )
    return 0
