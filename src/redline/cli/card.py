"""``redline card``: the model card of a registered version, as Markdown or HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redline.cli._store_opts import StoreUrl

__all__ = ["card"]

_FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}


def card(
    ref: Annotated[str, typer.Argument(help="Version: name@3, name@production or name.")],
    out: Annotated[
        Path, typer.Option("--out", help="File to write; .html or .md picks the format.")
    ],
    store: StoreUrl = None,
    intended_use: Annotated[
        Path | None,
        typer.Option(
            "--intended-use",
            help="TOML file with an [intended_use] table (purpose, users, out_of_scope, "
            "limitations, ethical_considerations, contact). Without it the card says "
            "'not documented'.",
        ),
    ] = None,
) -> int:
    """Write the model card of a registered version, as Markdown or HTML.

    The card of REF, from the registry store: identity, intended use, data lineage,
    latest scan, incidents, promotions and governance mapping."""
    from redline._atomic import atomic_writer
    from redline.cli._store_opts import open_cli_store, out_file
    from redline.errors import InputError
    from redline.reports import build_card, card_html, card_markdown

    fmt = _FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise InputError(f"--out {out}: use a .html or .md file name (the suffix picks the format)")
    target = out_file(out)
    opened = open_cli_store(store, "read")
    try:
        built = build_card(opened, ref, intended_use)
    finally:
        opened.engine.dispose()
    text = card_html(built) if fmt == "html" else card_markdown(built)
    try:
        with atomic_writer(target) as handle:
            handle.write(text.encode("utf-8"))
    except OSError as exc:
        raise InputError(f"{target}: cannot write the card ({exc.strerror or exc})") from None
    typer.echo(f"model card of {built.version.ref} written to {target}", err=True)
    return 0
