"""Eps as people write it: a decimal or a fraction such as ``8/255`` (policy files, the CLI)."""

from __future__ import annotations

from fractions import Fraction

from redline.errors import InputError

__all__ = ["parse_eps"]


def parse_eps(text: str) -> float:
    """One eps: a decimal or a fraction such as ``8/255``; must be > 0."""
    try:
        value = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise InputError(f"eps {text!r} is not a number (use e.g. 0.1 or 8/255)") from None
    if not value > 0:
        raise InputError(f"eps must be > 0, got {text!r}")
    return value
