"""``redline audit verify|export``: the hash-chained audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redline.cli._store_opts import StoreUrl, open_cli_store, out_file

__all__ = ["app"]

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
def verify(
    anchor: Annotated[
        str | None,
        typer.Option(
            help="SEQ:HASH printed earlier by 'redline audit head' and kept outside the "
            "store: the chain must still hold that event (catches a rewritten chain)."
        ),
    ] = None,
    store: StoreUrl = None,
) -> int:
    """Walk the hash chain; exit 1 naming the first bad event when it was tampered with."""
    from redline.errors import IntegrityError

    opened = open_cli_store(store, "read")
    expected = _anchor(anchor) if anchor is not None else None
    found = opened.verify_audit()
    if not found.ok:
        raise IntegrityError(f"audit event #{found.bad_seq}: {found.reason}")
    if expected is not None:
        events = opened.events()
        seq, digest = expected
        if seq > len(events) or events[seq - 1].hash != digest:
            raise IntegrityError(
                f"audit event #{seq}: does not match the anchor {digest[:16]}… "
                "(the chain was rewritten or truncated)"
            )
    typer.echo(f"OK: {found.events} audit event(s), chain intact", err=True)
    return 0


def _anchor(text: str) -> tuple[int, str]:
    from redline.errors import InputError

    seq, _, digest = text.partition(":")
    if not seq.isdigit() or int(seq) < 1 or len(digest) != 64:
        raise InputError(f"--anchor {text!r}: expected SEQ:HASH as 'redline audit head' prints")
    return int(seq), digest.lower()


@app.command("head")
def head(store: StoreUrl = None) -> int:
    """Print the last event as SEQ:HASH, the anchor for 'audit verify --anchor'.

    Keep it outside the store (a CI log, a ticket): 'audit verify --anchor' then proves
    the chain was not rewritten wholesale."""
    events = open_cli_store(store, "read").events()
    if not events:
        typer.echo("0:" + "0" * 64)
        return 0
    typer.echo(f"{events[-1].seq}:{events[-1].hash}")
    return 0


@app.command("export")
def export(
    out: Annotated[
        Path | None, typer.Option(help="JSON-lines file to write (default: stdout).")
    ] = None,
    store: StoreUrl = None,
) -> int:
    """Write every audit event as JSON lines, enough to re-verify the chain elsewhere.

    Each line: seq, at, actor, action, subject, details, prev_hash, hash."""
    import json
    from dataclasses import asdict

    target = out_file(out) if out is not None else None
    events = open_cli_store(store, "read").events()
    lines = "".join(json.dumps(asdict(e), sort_keys=True) + "\n" for e in events)
    if target is None:
        typer.echo(lines, nl=False)
        return 0
    from redline._atomic import atomic_writer

    with atomic_writer(target) as handle:
        handle.write(lines.encode("utf-8"))
    typer.echo(f"{len(events)} event(s) written to {target}", err=True)
    return 0
