"""``redline incident``: open an incident on a model and walk it through
open -> acknowledged -> mitigated -> resolved, with notes and links."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from redline.cli._store_opts import Actor, StoreUrl, actor_name, open_cli_store

__all__ = ["app"]

app = typer.Typer(
    help="Incidents: open, acknowledge, mitigate, resolve, with a timeline.", no_args_is_help=True
)

Id = Annotated[int, typer.Argument(help="Incident number.")]
Note = Annotated[str | None, typer.Option(help="What happened / what was done.")]
Versions = Annotated[
    list[str] | None, typer.Option("--version", help="Link a version, e.g. fraud@3; repeatable.")
]
Scans = Annotated[list[int] | None, typer.Option("--scan", help="Link a scan id; repeatable.")]


@app.command("open")
def open_cmd(
    ref: Annotated[str, typer.Argument(help="Model (links production) or version, e.g. fraud@3.")],
    severity: Annotated[str, typer.Option(help="low, medium, high or critical.")],
    title: Annotated[str, typer.Option(help="One-line summary.")],
    note: Note = None,
    scan: Scans = None,
    store: StoreUrl = None,
    actor: Actor = None,
) -> int:
    """Open an incident; prints its number."""
    from redline.cli._incident_run import show_line
    from redline.registry import open_incident

    who = actor_name(actor)
    found = open_incident(
        open_cli_store(store, "write"),
        ref,
        severity=severity,
        title=title,
        actor=who,
        note=note,
        scans=scan or [],
    )
    typer.echo(found.id)
    show_line(found)
    return 0


def _move(
    move: str,
    incident: int,
    note: str | None,
    links: tuple[list[str], list[int]],
    store: str | None,
    actor: str | None,
) -> int:
    from redline.cli._incident_run import show_line
    from redline.registry import transition

    who = actor_name(actor)
    found = transition(
        open_cli_store(store, "write"),
        incident,
        move,
        actor=who,
        note=note,
        versions=links[0],
        scans=links[1],
    )
    show_line(found)
    return 0


def _transition_command(move: str, doc: str) -> Any:
    """One state-machine command (``ack``, ``mitigate``...): same options, one move."""

    def command(
        incident: Id,
        note: Note = None,
        version: Versions = None,
        scan: Scans = None,
        store: StoreUrl = None,
        actor: Actor = None,
    ) -> int:
        return _move(move, incident, note, (version or [], scan or []), store, actor)

    command.__doc__ = doc
    return command


for _name, _action, _doc in (
    ("ack", "acknowledge", "Acknowledge an open incident (someone is on it)."),
    ("mitigate", "mitigate", "Mark an acknowledged incident mitigated (the harm is contained)."),
    ("resolve", "resolve", "Resolve an acknowledged or mitigated incident."),
    ("reopen", "reopen", "Reopen a resolved incident."),
):
    app.command(_name)(_transition_command(_action, _doc))


@app.command("note")
def note_cmd(
    incident: Id,
    note: Annotated[str, typer.Option(help="The note.")],
    version: Versions = None,
    scan: Scans = None,
    store: StoreUrl = None,
    actor: Actor = None,
) -> int:
    """Add a note to the timeline without changing the state."""
    from redline.cli._incident_run import show_line
    from redline.registry import add_note

    who = actor_name(actor)
    found = add_note(
        open_cli_store(store, "write"),
        incident,
        note,
        actor=who,
        versions=version or [],
        scans=scan or [],
    )
    show_line(found)
    return 0


@app.command("list")
def list_cmd(
    model: Annotated[str | None, typer.Argument(help="Only this model's incidents.")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only unresolved ones.")] = False,
    store: StoreUrl = None,
) -> int:
    """List incidents, newest first."""
    from redline.cli._incident_run import print_list

    print_list(open_cli_store(store, "read"), model, open_only)
    return 0


@app.command("show")
def show(incident: Id, store: StoreUrl = None) -> int:
    """Print an incident and its timeline."""
    from redline.cli._incident_run import print_incident
    from redline.registry import get_incident

    print_incident(get_incident(open_cli_store(store, "read"), incident))
    return 0
