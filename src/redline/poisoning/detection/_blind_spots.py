"""What each backdoor check is known to miss, measured by ``benchmarks/backdoor_family.py``
(triggers drawn from seven families, random target classes, 8x8 digits and 16x16 MNIST).

The scan copies the entries of the checks that ran into its result, so a report says what
a "clean" verdict covers. Numbers are the benchmark's worst case over its draws; update
them with the benchmark (README "Backdoor family benchmark").
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["BLIND_SPOTS", "known_blind_spots"]

_LABEL = (
    "clean-label poison (SIG, label-consistent): it rests on label evidence, so a "
    "poisoned sample that keeps its true label looks clean (AUROC 0.30-0.38 on SIG)"
)
_SELF_SIMILAR = (
    "triggers strong enough to make poisoned samples each other's nearest neighbours, so "
    "the wrong half of the target class looks mislabelled: WaNet-style warps (worst AUROC "
    "0.28 on 8x8 digits and 0.41 on 16x16 MNIST at 10%, 0.52 / 0.91 at 1%; all 10 "
    "input-space neighbours of a poisoned sample were fellow poison), dense blends at "
    "5-10% (worst 0.75 digits, 0.59-0.72 MNIST) and DCT triggers at 10% on digits (0.79)"
)
BLIND_SPOTS: dict[str, str] = {
    "spectral": f"{_LABEL}; {_SELF_SIMILAR}",
    "clustering": f"{_LABEL}; {_SELF_SIMILAR}",
    "robust": f"{_LABEL}; {_SELF_SIMILAR}",
    "isolation": (
        f"{_LABEL}; {_SELF_SIMILAR}; also weak on patches at 10% (worst AUROC 0.65), "
        "where a patched sample is learned as fast as a clean one"
    ),
    "combined": (
        f"what its members all miss: {_LABEL}; {_SELF_SIMILAR}. Neural Cleanse covers "
        "part of this: it named the target in 9 of 14 strong warp models"
    ),
    "neural-cleanse": (
        "warping triggers that no small patch reproduces: it named the target in 9 of 14 "
        "warp models with ASR >= 90% (105 of 111 over every family), and flagged a class "
        "in 2 of 10 clean models on both data sets (a class a small patch really reaches): "
        "a 'trojaned' verdict from it alone needs the reversed trigger looked at"
    ),
    "strip": (
        "triggers that do not survive superimposition: at 1% FRR it lets through a median "
        "93-100% of warped inputs and 68-100% of sample-specific ones on digits, and most "
        "triggers of a weakly implanted backdoor; it guards only strong, additive triggers"
    ),
}
"""Check name (a training-data detector, ``neural-cleanse``, ``strip``) -> what it misses."""


def known_blind_spots(checks: Iterable[str]) -> list[tuple[str, str]]:
    """``(check, what it misses)`` for each of ``checks`` that has a known blind spot."""
    return [(c, BLIND_SPOTS[c]) for c in dict.fromkeys(checks) if c in BLIND_SPOTS]
