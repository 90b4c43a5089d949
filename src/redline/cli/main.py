"""The ``redline`` command. Exit codes: 0 pass; 1 policy failed, a gate refused, or stored
data failed its integrity check; 2 usage or input error."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer
from typer.exceptions import Abort, TyperException

from redline._version import __version__
from redline.cli import audit as audit_cmd
from redline.cli import backdoor as backdoor_cmd
from redline.cli import calibrate as calibrate_cmd
from redline.cli import card as card_cmd
from redline.cli import certify as certify_cmd
from redline.cli import data as data_cmd
from redline.cli import demo as demo_cmd
from redline.cli import harden as harden_cmd
from redline.cli import incident as incident_cmd
from redline.cli import monitor as monitor_cmd
from redline.cli import poison as poison_cmd
from redline.cli import registry as registry_cmd
from redline.cli import report as report_cmd
from redline.cli import scan as scan_cmd
from redline.cli import train as train_cmd
from redline.cli._help import polish
from redline.errors import IntegrityError, RedlineError, RefusedError

__all__ = ["app", "main", "run"]

app = typer.Typer(
    name="redline",
    help="Red-team, measure and gate the security of machine-learning models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("scan")(scan_cmd.scan)
app.command("demo")(demo_cmd.demo)
app.add_typer(report_cmd.app, name="report")
app.command("attacks")(report_cmd.attacks)
app.command("poison")(poison_cmd.poison)
app.command("train")(train_cmd.train)
app.command("card")(card_cmd.card)
app.command("harden")(harden_cmd.harden)
app.command("calibrate")(calibrate_cmd.calibrate)
app.command("certify")(certify_cmd.certify)
app.add_typer(backdoor_cmd.app, name="backdoor")
app.add_typer(data_cmd.app, name="data")
app.add_typer(registry_cmd.app, name="registry")
app.add_typer(incident_cmd.app, name="incident")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(monitor_cmd.app, name="monitor")


@app.command("version")
def version() -> None:
    """Print the redline version."""
    typer.echo(__version__)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the redline version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    """Red-team, measure and gate the security of machine-learning models."""


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (what ``main`` passes to ``sys.exit``)."""
    try:
        command = polish(typer.main.get_command(app))
        code = command.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            typer.echo(exc.format_message(), err=True)
            return 0
        typer.echo(f"redline: error: {_one_line(exc.format_message())}", err=True)
        return int(exc.exit_code)
    except Abort:
        typer.echo("redline: aborted", err=True)
        return 130
    except (IntegrityError, RefusedError) as exc:
        typer.echo(f"redline: {_label(exc)}: {_one_line(str(exc))}", err=True)
        return 1
    except RedlineError as exc:
        typer.echo(f"redline: error: {_one_line(str(exc))}", err=True)
        return 2
    return code if isinstance(code, int) else 0


def _label(exc: RedlineError) -> str:
    return "integrity failure" if isinstance(exc, IntegrityError) else "refused"


def _one_line(message: str) -> str:
    return " ".join(message.split())


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
