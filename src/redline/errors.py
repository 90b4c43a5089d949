"""Errors redline raises on purpose; the CLI maps them to exit codes."""

from __future__ import annotations

__all__ = ["InputError", "RedlineError"]


class RedlineError(Exception):
    """Base class of every error redline raises deliberately."""


class InputError(RedlineError):
    """Bad user input (file, flag, data, model): the CLI prints one line and exits 2."""
