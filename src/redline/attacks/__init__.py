"""Evasion attacks. Each takes ``(target, x, y)`` and returns an :class:`AttackResult`."""

from redline.attacks._base import Adversarial, Attack, AttackResult
from redline.attacks._geometry import Norm
from redline.attacks._schema_space import SchemaSpace
from redline.attacks.apgd import APGD, APGDT
from redline.attacks.cw import CarliniWagner
from redline.attacks.fgsm import FGSM
from redline.attacks.fmn import FMN
from redline.attacks.hsj import HopSkipJump
from redline.attacks.pgd import PGD
from redline.attacks.square import Square

__all__ = [
    "APGD",
    "APGDT",
    "FGSM",
    "FMN",
    "PGD",
    "Adversarial",
    "Attack",
    "AttackResult",
    "CarliniWagner",
    "HopSkipJump",
    "Norm",
    "SchemaSpace",
    "Square",
]
