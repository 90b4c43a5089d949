"""What each backdoor check is known to miss, measured by ``benchmarks/backdoor_family.py``
(triggers drawn from seven families, random target classes, 8x8 digits and 16x16 MNIST).

The scan copies the entries of the checks that ran into its result, so a report says what
a "clean" verdict covers. Numbers are the benchmark's worst case over its draws; update
them with the benchmark (README "Backdoor family benchmark").
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["BLIND_SPOTS", "known_blind_spots"]

BLIND_SPOTS: dict[str, str] = {}
"""Check name (a training-data detector, ``neural-cleanse``, ``strip``) -> what it misses."""


def known_blind_spots(checks: Iterable[str]) -> list[tuple[str, str]]:
    """``(check, what it misses)`` for each of ``checks`` that has a known blind spot."""
    return [(c, BLIND_SPOTS[c]) for c in dict.fromkeys(checks) if c in BLIND_SPOTS]
