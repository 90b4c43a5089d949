"""Help-page fixes typer does not make, applied to the built command tree before it runs:
flags show no ``<bool>`` label, and help text is shown literally (``[policy.backdoor]``
is text, not rich markup to be swallowed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from typer.core import TyperGroup, TyperOption

if TYPE_CHECKING:
    from typer._click.core import Command, Parameter

__all__ = ["polish"]


def polish(command: Command) -> Command:
    """Fix the help of ``command`` and of every subcommand, in place (call once per
    freshly built tree: escaping twice would show the escapes); return ``command``."""
    command.help = _literal(command.help)
    command.short_help = _literal(command.short_help)
    help_option = command.get_help_option(typer.Context(command))
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        _polish_param(param)
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            polish(sub)
    return command


def _polish_param(param: Parameter) -> None:
    if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
        param.metavar = ""  # an empty label: the flag's name says it all
    text = getattr(param, "help", None)
    if isinstance(text, str):
        param.help = _literal(text)  # type: ignore[attr-defined]


def _literal(text: str | None) -> str | None:
    return escape(text) if text else text
