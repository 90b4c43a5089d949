"""Errors redline raises on purpose; the CLI maps them to exit codes."""

from __future__ import annotations

__all__ = ["InputError", "IntegrityError", "RedlineError", "RefusedError"]


class RedlineError(Exception):
    """Base class of every error redline raises deliberately."""


class InputError(RedlineError):
    """Bad user input (file, flag, data, model): the CLI prints one line and exits 2."""


class IntegrityError(RedlineError):
    """Stored data fails its own check (a tampered artifact or audit row): exit code 1,
    with the row or file named."""


class RefusedError(RedlineError):
    """A guarded operation said no (a promotion whose scan fails the policy, a rollback
    with no known-good version): exit code 1, nothing changed."""
