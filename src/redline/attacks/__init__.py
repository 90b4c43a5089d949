"""Evasion attacks. Each takes ``(target, x, y)`` and returns an :class:`AttackResult`."""

from redline.attacks._base import Adversarial, Attack, AttackResult
from redline.attacks._geometry import Norm
from redline.attacks.fgsm import FGSM
from redline.attacks.pgd import PGD

__all__ = ["FGSM", "PGD", "Adversarial", "Attack", "AttackResult", "Norm"]
