"""Options every registry-backed command shares: where the store is and who acts."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from redline.errors import InputError

if TYPE_CHECKING:
    from redline.registry import Store
    from redline.registry._open import Mode

__all__ = ["Actor", "StoreUrl", "actor_name", "open_cli_store", "out_file"]

StoreUrl = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Registry URL: sqlite:///path.db or postgresql+psycopg://user@host/db "
        "(default: $REDLINE_STORE, else sqlite:///.redline/registry.db).",
        show_default=False,
    ),
]
Actor = Annotated[
    str | None,
    typer.Option(
        "--actor", help="Who acts, for the audit log (default: $REDLINE_ACTOR, else the login)."
    ),
]


def actor_name(actor: str | None) -> str:
    """The audit log's actor: ``--actor``, ``$REDLINE_ACTOR`` or the login name."""
    chosen = actor or os.environ.get("REDLINE_ACTOR") or _login()
    if not chosen.strip() or len(chosen) > 200:
        raise InputError("--actor must be 1 to 200 characters")
    return chosen


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def open_cli_store(url: str | None, mode: Mode) -> Store:
    """Open the store (``--store``, else ``$REDLINE_STORE``, else the default file) for
    ``mode``: commands that only read open it for reading, so a mistyped URL or another
    folder is an error, not an empty registry; a new store is announced on stderr."""
    from redline.registry import open_store

    opened = open_store(url, mode=mode)
    if opened.created:
        typer.echo(f"created new store at {opened.location}", err=True)
    return opened


def out_file(path: Path) -> Path:
    """An output file path in an existing folder (input error otherwise)."""
    if path.is_dir() or not path.parent.is_dir():
        raise InputError(f"--out {path}: not a file path in an existing folder")
    return path
