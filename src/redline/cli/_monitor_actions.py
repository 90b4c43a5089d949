"""What a confirmed drift alarm sets off: one incident per cause in the registry (a new
alarm on a cause that already has an open incident adds evidence to its timeline), a
retraining command with the alarm JSON on stdin, and a webhook."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

import typer

from redline.errors import InputError

if TYPE_CHECKING:
    from redline.cli._monitor_run import DriftRequest
    from redline.results import DriftFinding, DriftResult

__all__ = ["act_on_alarm", "alarm_payload", "check_actions"]

COMMAND_TIMEOUT = 3600
WEBHOOK_TIMEOUT = 15


def check_actions(req: DriftRequest) -> None:
    """Bad action options fail before anything is computed."""
    from redline.cli._store_opts import actor_name

    if req.webhook is not None:
        url = urllib.parse.urlparse(req.webhook)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise InputError(f"--webhook must be an http(s) URL, got {url.scheme or 'no'} scheme")
    if req.on_alarm is not None and not req.on_alarm.strip():
        raise InputError("--on-alarm needs a command")
    if req.incident is not None:
        actor_name(req.actor)
        if not req.incident.strip():
            raise InputError("--incident needs a registered model name")


def _evidence(f: DriftFinding) -> dict[str, Any]:
    e = f.effect
    return {
        "feature": f.feature, "slice": f.slice, "kind": f.kind, "test": f.test,
        "p_value": f.p_value, "q_value": f.q_value,
        "effect": None if e is None else e.model_dump(exclude={"ci"}),
    }  # fmt: skip


def alarm_payload(req: DriftRequest, result: DriftResult) -> dict[str, Any]:
    """The alarm as JSON: windows, every alarm's evidence and where the report is."""
    return {
        "kind": "redline.drift.alarm",
        "created_at": result.created_at,
        "reference": result.reference.model_dump(),
        "current": result.current.model_dump(),
        "alarms": [_evidence(f) for f in result.alarms],
        "report": str(req.out.resolve()),
    }


def _note(f: DriftFinding, result: DriftResult) -> str:
    e = f.effect
    effect = "" if e is None else f", {e.name} {e.value:.3g} (threshold {e.threshold:g})"
    return (
        f"drift alarm: {f.key}, {f.test} q={f.q_value:.2g}{effect}; current "
        f"{result.current.source} ({result.current.n_rows:,} rows) vs reference "
        f"{result.reference.source} ({result.reference.n_rows:,} rows)"
    )


def _incidents(req: DriftRequest, result: DriftResult) -> None:
    from redline.cli._store_opts import actor_name, open_cli_store
    from redline.registry import add_note, list_incidents, open_incident

    assert req.incident is not None
    store = open_cli_store(req.store, "write")
    actor = actor_name(req.actor)
    name = req.incident.split("@", 1)[0]
    open_ones = {i.title: i for i in list_incidents(store, name, open_only=True)}
    for f in result.alarms:
        title = f"drift: {f.key}"
        if title in open_ones:
            add_note(store, open_ones[title].id, _note(f, result), actor=actor)
            typer.echo(f"incident #{open_ones[title].id} ({title}): evidence added", err=True)
        else:
            made = open_incident(store, req.incident, severity="medium", title=title,
                                 actor=actor, note=_note(f, result))  # fmt: skip
            typer.echo(f"incident #{made.id} opened: {title}", err=True)


def _command(command: str, payload: bytes) -> None:
    try:
        done = subprocess.run(
            command, shell=True, input=payload, timeout=COMMAND_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        typer.echo(
            f"--on-alarm: the command ran past {COMMAND_TIMEOUT} s and was stopped", err=True
        )
        return
    if done.returncode != 0:
        typer.echo(f"--on-alarm: the command exited {done.returncode}", err=True)


def _webhook(url: str, payload: bytes) -> None:
    host = urllib.parse.urlparse(url).netloc.rsplit("@", 1)[-1]  # never print credentials
    request = urllib.request.Request(url, data=payload, method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as answer:
            typer.echo(f"webhook {host}: HTTP {answer.status}", err=True)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "code", None) or getattr(exc, "reason", exc)
        typer.echo(f"webhook {host}: not delivered ({reason})", err=True)


def act_on_alarm(req: DriftRequest, result: DriftResult) -> None:
    """Open or update incidents, run the command, call the webhook (in that order)."""
    payload = json.dumps(alarm_payload(req, result)).encode("utf-8")
    if req.incident is not None:
        _incidents(req, result)
    if req.on_alarm is not None:
        _command(req.on_alarm, payload)
    if req.webhook is not None:
        _webhook(req.webhook, payload)
