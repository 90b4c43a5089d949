"""Attack names as used on the command line and in reports."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from redline.attacks._base import Attack
from redline.attacks._geometry import Norm
from redline.attacks.apgd import APGD, APGDT
from redline.attacks.cw import CarliniWagner
from redline.attacks.fgsm import FGSM
from redline.attacks.fmn import FMN
from redline.attacks.hsj import HopSkipJump
from redline.attacks.pgd import PGD
from redline.attacks.square import Square
from redline.attacks.trees import TreeExact, TreeGreedy
from redline.errors import InputError

__all__ = ["ATTACKS", "AttackFactory", "attack_factory", "make_attack"]


AttackFactory = Callable[..., Attack]
"""Builds an attack from keyword arguments ``norm``, ``eps``, ``seed`` (and overrides)."""


ATTACKS: dict[str, AttackFactory] = {
    "fgsm": FGSM,
    "pgd": PGD,
    "apgd-ce": partial(APGD, loss="ce"),
    "apgd-dlr": partial(APGD, loss="dlr"),
    "apgd-t": APGDT,
    "square": Square,
    "cw": CarliniWagner,
    "fmn": FMN,
    "hop-skip-jump": HopSkipJump,
    "tree-greedy": TreeGreedy,
    "tree-exact": TreeExact,
}
"""Every attack by name, with its default hyper-parameters."""


def attack_factory(name: str, **params: object) -> AttackFactory:
    """The factory of a registered attack, with some defaults overridden."""
    try:
        factory = ATTACKS[name.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(ATTACKS))
        raise InputError(f"unknown attack {name!r}; known attacks: {known}") from None
    return partial(factory, **params) if params else factory


def make_attack(name: str, *, norm: Norm, eps: float, seed: int = 0) -> Attack:
    """Build a registered attack by name with its default hyper-parameters."""
    return attack_factory(name)(norm=norm, eps=eps, seed=seed)
