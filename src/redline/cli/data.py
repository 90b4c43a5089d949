"""``redline data manifest|verify|check``: provenance and integrity of a training set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["app"]

app = typer.Typer(
    help="Training-data integrity: hash manifests, verification, duplicates, label issues.",
    no_args_is_help=True,
)

Data = Annotated[str, typer.Option(help="Data set (.npz, .csv, image folder, bundled:...).")]
LabelColumn = Annotated[str, typer.Option(help="CSV label column.")]
Bounds = Annotated[str, typer.Option(help="Valid input range 'low,high'.")]


def _load(data: str, label_column: str, bounds: str) -> Any:
    from redline.cli._common import parse_floats
    from redline.datasets import load_data

    low, high = parse_floats(bounds, "bounds", count=2) or [0.0, 1.0]
    return load_data(data, label_column=label_column, bounds=(low, high))


def _show(indices: Any, limit: int = 10) -> str:
    items = [int(i) for i in indices]
    return ", ".join(map(str, items[:limit])) + (", ..." if len(items) > limit else "")


@app.command("manifest")
def make_manifest(
    data: Data,
    out: Annotated[Path, typer.Option(help="Manifest JSON to write.")],
    label_column: LabelColumn = "label",
    bounds: Bounds = "0,1",
) -> int:
    """Write the SHA-256 manifest: one hash per sample (input and label) and one for the set."""
    from redline.datasets import manifest

    if out.is_dir() or not out.parent.is_dir():
        from redline.errors import InputError

        raise InputError(f"--out {out}: not a file path in an existing folder")
    found = manifest(_load(data, label_column, bounds))
    found.to_json(out)
    typer.echo(f"{len(found)} samples, dataset sha256 {found.dataset_hash}; wrote {out}", err=True)
    return 0


@app.command("verify")
def verify_manifest(
    data: Data,
    manifest: Annotated[Path, typer.Option(help="Manifest written by 'redline data manifest'.")],
    label_column: LabelColumn = "label",
    bounds: Bounds = "0,1",
) -> int:
    """Check the data against a manifest, sample by sample; exit 1 when anything changed."""
    from redline.datasets import Manifest, verify

    recorded = Manifest.from_json(manifest)
    result = verify(_load(data, label_column, bounds), recorded)
    if result.ok:
        typer.echo(f"OK: all {len(recorded)} samples match {manifest}", err=True)
        return 0
    for name in ("changed", "added", "removed", "moved"):
        rows = getattr(result, name)
        if rows:
            typer.echo(f"{name}: {len(rows)} sample(s): {_show(rows)}", err=True)
    typer.echo(f"FAIL: the data does not match {manifest}", err=True)
    return 1


@app.command("check")
def check(
    data: Data,
    out: Annotated[Path | None, typer.Option(help="Write the findings as JSON.")] = None,
    threshold: Annotated[
        float, typer.Option(help="Near-duplicate distance (RMS, in input units).")
    ] = 0.02,
    labels: Annotated[
        bool, typer.Option(help="Look for label issues (confident learning).")
    ] = True,
    label_column: LabelColumn = "label",
    bounds: Bounds = "0,1",
    seed: Annotated[int, typer.Option(help="Seed of the cross-validation folds.")] = 0,
) -> int:
    """Find exact and near duplicates, conflicting labels and likely label errors."""
    from redline.datasets import find_duplicates, find_label_issues

    dataset = _load(data, label_column, bounds)
    dups = find_duplicates(dataset.x, dataset.y, threshold=threshold)
    issues = find_label_issues(dataset.x, dataset.y, seed=seed) if labels else None
    typer.echo(
        f"{len(dataset.y)} samples: {len(dups.exact_groups)} exact duplicate group(s) "
        f"({dups.redundant} redundant samples), {len(dups.near_groups)} near-duplicate "
        f"group(s), {len(dups.conflicting)} samples in groups with conflicting labels",
        err=True,
    )
    if issues is not None:
        flagged = f"; most likely first: {_show(issues.indices)}" if len(issues.indices) else ""
        typer.echo(
            f"label issues: {len(issues.indices)} flagged (estimated noise rate "
            f"{issues.noise_rate:.1%}){flagged}",
            err=True,
        )
    if out is not None:
        _write_json(out, dups, issues)
    return 0


def _write_json(out: Path, dups: Any, issues: Any) -> None:
    from redline._atomic import atomic_writer

    body: dict[str, Any] = {
        "n_samples": dups.n_samples,
        "exact_groups": [list(g) for g in dups.exact_groups],
        "near_groups": [list(g) for g in dups.near_groups],
        "conflicting": dups.conflicting,
    }
    if issues is not None:
        body["label_issues"] = {
            "indices": issues.indices.tolist(),
            "suggested": issues.suggested.tolist(),
            "self_confidence": issues.self_confidence.round(4).tolist(),
            "noise_rate": issues.noise_rate,
            "per_class": {str(k): v for k, v in issues.per_class.items()},
        }
    with atomic_writer(out) as handle:
        handle.write((json.dumps(body, indent=1) + "\n").encode())


@app.command("shift")
def shift(
    data: Data,
    corruption: Annotated[
        str, typer.Option(help="NAME:SEVERITY, e.g. contrast:2 (see redline scan --corruptions).")
    ],
    out: Annotated[Path, typer.Option(help="The shifted copy (.npz: x, y) to write.")],
    label_column: LabelColumn = "label",
    bounds: Bounds = "0,1",
    seed: Annotated[int, typer.Option(help="Seed of the corruption's noise.")] = 0,
) -> int:
    """Write a copy of an image data set under one common corruption.

    A natural shift to rehearse monitoring (``redline monitor drift``) or robustness on."""
    import numpy as np

    from redline._atomic import atomic_writer
    from redline.datasets import corrupt
    from redline.errors import InputError

    name, sep, level = corruption.partition(":")
    if not sep or not level.strip().isdigit():
        raise InputError(f"--corruption {corruption!r}: expected NAME:SEVERITY, e.g. contrast:2")
    if out.suffix.lower() != ".npz":
        raise InputError(f"--out {out}: the shifted copy is written as .npz")
    dataset = _load(data, label_column, bounds)
    low, high = (float(v) for v in bounds.split(","))
    shifted = corrupt(dataset.x, name.strip(), int(level), seed=seed, bounds=(low, high))
    with atomic_writer(out) as handle:
        np.savez(handle, x=shifted, y=dataset.y)
    typer.echo(
        f"{len(dataset.y)} samples under {name.strip()} at severity {level}: {out}", err=True
    )
    return 0
