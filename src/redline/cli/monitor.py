"""``redline monitor profile|merge|drift``: profiles of data windows, their merge, and
drift between two of them with alarms a team can trust (exit 1 on a confirmed alarm)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redline.cli._options import MODEL_HELP
from redline.cli._store_opts import Actor, StoreUrl

__all__ = ["app"]

app = typer.Typer(
    help="Monitoring: profile data windows, merge them, test drift between two.",
    no_args_is_help=True,
)


@app.command("profile")
def profile(
    data: Annotated[
        list[str],
        typer.Option(
            help="Data: .csv / .parquet files or globs (streamed in chunks), or .npz, "
            "an image folder or bundled:NAME[:split] (loaded whole). Repeat for more files."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Profile file to write.")],
    model: Annotated[str | None, typer.Option(help=MODEL_HELP)] = None,
    weights: Annotated[Path | None, typer.Option(help="The model's weights (state_dict).")] = None,
    bounds: Annotated[str, typer.Option(help="Valid input range 'low,high' of the model.")] = "0,1",
    label_column: Annotated[
        str | None,
        typer.Option(
            help="Label column: left out of the features; with --model it gives the "
            "realised accuracy."
        ),
    ] = None,
    group_column: Annotated[
        str | None, typer.Option(help="Slice column (one profile per slice).")
    ] = None,
    categorical: Annotated[
        str | None, typer.Option(help="Comma list of numeric columns to treat as categories.")
    ] = None,
    chunk_rows: Annotated[int, typer.Option(help="Rows per chunk: memory is set by it.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed of the row samples.")] = 0,
) -> None:
    """Profile a window of data (and what a model made of it) in one bounded-memory pass."""
    from redline.cli._monitor_run import ProfileRequest, run_profile

    request = ProfileRequest(
        tuple(data), out, model, weights, bounds, label_column, group_column,
        tuple(c.strip() for c in (categorical or "").split(",") if c.strip()), chunk_rows, seed,
    )  # fmt: skip
    run_profile(request)


@app.command("merge")
def merge(
    profiles: Annotated[list[Path], typer.Argument(help="Profiles to merge (shards or windows).")],
    out: Annotated[Path, typer.Option(help="Merged profile to write.")],
) -> None:
    """Merge profiles of shards or windows into one, without the raw rows."""
    from redline.cli._monitor_run import run_merge

    run_merge(profiles, out)


@app.command("drift")
def drift(
    reference: Annotated[Path, typer.Option(help="Reference profile (e.g. the training data).")],
    current: Annotated[Path, typer.Option(help="Current window's profile.")],
    out: Annotated[Path, typer.Option(help="Report folder: drift.json, report.html, summary.md.")],
    policy: Annotated[Path | None, typer.Option(help="Policy file with [policy.drift].")] = None,
    alpha: Annotated[
        float | None, typer.Option(help="False discovery rate (default 0.05).")
    ] = None,
    test: Annotated[str | None, typer.Option(help="Numeric test: ks (default) or cvm.")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples of each effect size.")] = 200,
    seed: Annotated[
        int, typer.Option(help="Seed of the bootstrap and the multivariate tests.")
    ] = 0,
    multivariate: Annotated[
        bool, typer.Option(help="Run MMD and the classifier two-sample test.")
    ] = True,
    incident: Annotated[
        str | None,
        typer.Option(
            help="On a confirmed alarm, open (or add evidence to) an incident on this "
            "registered model."
        ),
    ] = None,
    on_alarm: Annotated[
        str | None,
        typer.Option(help="On a confirmed alarm, run this command with the alarm JSON on stdin."),
    ] = None,
    webhook: Annotated[
        str | None, typer.Option(help="On a confirmed alarm, POST the alarm JSON to this URL.")
    ] = None,
    store: StoreUrl = None,
    actor: Actor = None,
) -> int:
    """Test the current window against the reference: FDR-controlled, effect-gated alarms."""
    from redline.cli._monitor_run import DriftRequest, run_drift

    request = DriftRequest(
        reference, current, out, policy, alpha, test, bootstrap, seed, multivariate,
        incident, on_alarm, webhook, store, actor,
    )  # fmt: skip
    return run_drift(request)
