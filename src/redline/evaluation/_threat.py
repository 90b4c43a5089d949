"""Threat-model strings: ``linf:8/255``, ``l2:0.5,1.0``."""

from __future__ import annotations

from dataclasses import dataclass

from redline.attacks._geometry import NORMS, Norm
from redline.errors import InputError
from redline.results import parse_eps

__all__ = ["Threat", "parse_eps", "parse_threat"]


@dataclass(frozen=True)
class Threat:
    """A norm and an increasing grid of eps values."""

    norm: Norm
    eps: tuple[float, ...]


def parse_threat(text: str) -> Threat:
    """Parse ``norm:eps[,eps...]`` into a :class:`Threat` with sorted, unique eps."""
    norm, sep, rest = text.strip().lower().partition(":")
    if norm not in NORMS:
        raise InputError(
            f"unknown threat {text!r}: write NORM:EPS[,EPS...], the norm must be one of "
            f"{', '.join(NORMS)} (e.g. {_example(rest if sep else norm)})"
        )
    if not sep or not rest.strip():
        raise InputError(f"threat {text!r} has no eps (use e.g. {norm}:0.1)")
    values = sorted({parse_eps(part) for part in rest.split(",")})
    return Threat(norm=norm, eps=tuple(values))


def _example(eps: str) -> str:
    """A well-formed threat for the message: the user's eps under linf when they parse
    (``8/255`` -> ``linf:8/255``), else ``linf:8/255``."""
    try:
        [parse_eps(part) for part in eps.split(",")]
    except InputError:
        return "linf:8/255"
    return f"{NORMS[0]}:{eps.strip()}"
