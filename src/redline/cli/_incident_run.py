"""Printing incidents for the ``redline incident`` commands."""

from __future__ import annotations

import typer

from redline.registry import IncidentInfo, Store, list_incidents

__all__ = ["print_incident", "print_list", "show_line"]


def _line(found: IncidentInfo) -> str:
    return (
        f"#{found.id} [{found.severity}] {found.state}: {found.title} "
        f"({found.model}, {len(found.timeline)} event(s))"
    )


def show_line(found: IncidentInfo) -> None:
    """One line about the incident, on stderr."""
    typer.echo(_line(found), err=True)


def print_list(store: Store, model: str | None, open_only: bool) -> None:
    """One line per incident on stdout."""
    for found in list_incidents(store, model, open_only=open_only):
        typer.echo(_line(found))


def print_incident(found: IncidentInfo) -> None:
    """The incident and its timeline on stdout."""
    typer.echo(_line(found))
    for e in found.timeline:
        links = ", ".join(
            e.links.get("versions", []) + [f"scan #{s}" for s in e.links.get("scans", [])]
        )
        extra = f" [{links}]" if links else ""
        note = f": {e.note}" if e.note else ""
        typer.echo(f"  {e.at} {e.actor} {e.action} -> {e.state}{note}{extra}")
