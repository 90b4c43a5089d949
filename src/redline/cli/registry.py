"""``redline registry``: register versions, promote them through the policy gate, roll
production back, and check the artifact store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redline.cli._options import Bounds, Mean, ModelOpt, Std
from redline.cli._store_opts import Actor, StoreUrl, actor_name, open_cli_store

__all__ = ["app"]

app = typer.Typer(
    help="Model registry: versions, aliases, policy-gated promotion, rollback.",
    no_args_is_help=True,
)

PolicyOpt = Annotated[
    Path | None,
    typer.Option("--policy", help="Judge the latest scan against this policy (redline.toml)."),
]
Reason = Annotated[str | None, typer.Option(help="Why (kept in the audit log).")]


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Model name.")],
    weights: Annotated[Path, typer.Option(help="The artifact to register (weights file).")],
    model: ModelOpt = None,
    data_manifest: Annotated[
        list[Path] | None,
        typer.Option(help="Training-data manifest ('redline data manifest'); repeatable."),
    ] = None,
    parent: Annotated[str | None, typer.Option(help="Parent version, e.g. fraud@2.")] = None,
    training_config: Annotated[
        Path | None, typer.Option(help="JSON file of the training configuration.")
    ] = None,
    note: Annotated[str | None, typer.Option(help="Free-text note.")] = None,
    bounds: Bounds = "0,1",
    mean: Mean = None,
    std: Std = None,
    check_load: Annotated[
        bool, typer.Option(help="Load the weights with --model first (refuse what won't load).")
    ] = True,
    store: StoreUrl = None,
    actor: Actor = None,
) -> int:
    """Register a new version of NAME (created if new); prints name@number."""
    from redline.cli._registry_run import AddRequest, run_add

    request = AddRequest(name, weights, model, data_manifest or [], parent, training_config, note)
    run_add(request, (bounds, mean, std), check_load, store, actor_name(actor))
    return 0


@app.command("list")
def list_cmd(
    name: Annotated[str | None, typer.Argument(help="Model name (all models if omitted).")] = None,
    store: StoreUrl = None,
) -> int:
    """List models, or the versions of one model with aliases and scan verdicts."""
    from redline.cli._registry_run import print_list

    print_list(open_cli_store(store, "read"), name)
    return 0


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="Version: name, name@3 or name@alias.")],
    store: StoreUrl = None,
) -> int:
    """Print one version as JSON: artifact, lineage, scans, aliases."""
    from redline.cli._registry_run import print_show

    print_show(open_cli_store(store, "read"), ref)
    return 0


@app.command("promote")
def promote(
    ref: Annotated[str, typer.Argument(help="Version to promote, e.g. fraud@3.")],
    to: Annotated[str, typer.Option(help="Alias to move.")] = "production",
    policy: PolicyOpt = None,
    force: Annotated[
        bool, typer.Option(help="Override a failing gate (needs --reason; audited).")
    ] = False,
    reason: Reason = None,
    store: StoreUrl = None,
    actor: Actor = None,
) -> int:
    """Move an alias to REF if its latest scan passes the policy; exit 1 when refused."""
    from redline.cli._registry_run import run_promote

    who = actor_name(actor)
    run_promote(ref, to, (policy, force, reason), open_cli_store(store, "write"), who)
    return 0


@app.command("rollback")
def rollback(
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str, typer.Option(help="Alias to roll back.")] = "production",
    policy: PolicyOpt = None,
    reason: Reason = None,
    incident: Annotated[int | None, typer.Option(help="Incident to note the rollback on.")] = None,
    store: StoreUrl = None,
    actor: Actor = None,
) -> int:
    """Move production back to the newest known-good version; exit 1 when there is none.

    The version's artifact is verified before the alias moves."""
    from redline.cli._registry_run import run_rollback

    who = actor_name(actor)
    run_rollback(name, alias, (policy, reason, incident), open_cli_store(store, "write"), who)
    return 0


@app.command("alias")
def alias(
    ref: Annotated[str, typer.Argument(help="Version, e.g. fraud@3.")],
    name: Annotated[str, typer.Argument(help="Alias (any but production).")],
    reason: Reason = None,
    store: StoreUrl = None,
    actor: Actor = None,
) -> int:
    """Point an alias such as 'candidate' at a version (production moves only by promote)."""
    from redline.registry import set_alias

    who = actor_name(actor)
    moved = set_alias(open_cli_store(store, "write"), ref, name, actor=who, reason=reason)
    before = f" (was {moved.previous.ref})" if moved.previous else ""
    typer.echo(f"{moved.alias} -> {moved.version.ref}{before}", err=True)
    return 0


@app.command("get")
def get(
    ref: Annotated[str, typer.Argument(help="Version, e.g. fraud@production.")],
    out: Annotated[Path, typer.Option(help="Where to write the artifact.")],
    store: StoreUrl = None,
) -> int:
    """Write a version's artifact to a file, after verifying its SHA-256 (exit 1 if not)."""
    from redline.cli._registry_run import run_get

    run_get(open_cli_store(store, "read"), ref, out)
    return 0


@app.command("check")
def check(
    clean: Annotated[
        bool, typer.Option(help="Remove partial writes and unreferenced blobs.")
    ] = False,
    min_age: Annotated[
        float, typer.Option(help="With --clean: leave files younger than this (seconds).")
    ] = 60.0,
    store: StoreUrl = None,
) -> int:
    """Verify every version's artifact; report partial writes and orphans.

    Exit 1 when anything needs attention (after --clean, when anything is still wrong)."""
    from redline.cli._registry_run import run_check

    return run_check(open_cli_store(store, "read"), clean, min_age)


@app.command("migrate")
def migrate(store: StoreUrl = None) -> int:
    """Upgrade an existing store to this redline's schema.

    Read-only commands refuse an older schema rather than change it."""
    from redline.registry import SCHEMA_HEAD

    opened = open_cli_store(store, "write")
    was = f"migrated from {opened.migrated_from}" if opened.migrated_from else "already current"
    typer.echo(f"{opened.location}: schema {SCHEMA_HEAD} ({was})", err=True)
    return 0
