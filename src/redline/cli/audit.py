"""``redline audit verify|export``: the hash-chained audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redline.cli._store_opts import StoreUrl, open_cli_store, out_file

__all__ = ["app"]

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
def verify(store: StoreUrl = None) -> int:
    """Walk the hash chain; exit 1 naming the first bad event when it was tampered with."""
    from redline.errors import IntegrityError

    found = open_cli_store(store).verify_audit()
    if not found.ok:
        raise IntegrityError(f"audit event #{found.bad_seq}: {found.reason}")
    typer.echo(f"OK: {found.events} audit event(s), chain intact", err=True)
    return 0


@app.command("export")
def export(
    out: Annotated[
        Path | None, typer.Option(help="JSON-lines file to write (default: stdout).")
    ] = None,
    store: StoreUrl = None,
) -> int:
    """Write every audit event as JSON lines (seq, at, actor, action, subject, details,
    prev_hash, hash): enough to re-verify the chain elsewhere."""
    import json
    from dataclasses import asdict

    target = out_file(out) if out is not None else None
    events = open_cli_store(store).events()
    lines = "".join(json.dumps(asdict(e), sort_keys=True) + "\n" for e in events)
    if target is None:
        typer.echo(lines, nl=False)
        return 0
    from redline._atomic import atomic_writer

    with atomic_writer(target) as handle:
        handle.write(lines.encode("utf-8"))
    typer.echo(f"{len(events)} event(s) written to {target}", err=True)
    return 0
