"""Work budgets: the most model passes an attack or a sanity check may spend on n samples.

The progress bar counts work in model passes, weighted by cost: a forward pass is 1, a
backward pass 2 (so a gradient step is 3, times the target's EOT draws) and a black-box
query 1. The budgets mirror the loops of the attacks and checks, so a stage never spends
more than its budget; early exits spend less.
"""

from __future__ import annotations

from dataclasses import dataclass

from redline.attacks import Attack
from redline.attacks._geometry import Norm
from redline.attacks.apgd import APGD, APGDT
from redline.attacks.cw import CarliniWagner
from redline.attacks.fgsm import FGSM
from redline.attacks.fmn import FMN
from redline.attacks.pgd import PGD
from redline.attacks.square import Square
from redline.evaluation._checks_attack import _strengthen
from redline.evaluation._suite import Suite
from redline.targets import Target

__all__ = ["BACKWARD_WEIGHT", "Scope", "attack_work", "check_work", "work_done"]

BACKWARD_WEIGHT = 2
"""A backward pass costs about two forward passes."""


def work_done(target: Target) -> int:
    """The target's weighted passes so far (forward + 2 x backward)."""
    return target.usage.forward + BACKWARD_WEIGHT * target.usage.backward


@dataclass(frozen=True)
class Scope:
    """What every budget of one scan depends on besides the sample counts."""

    norm: Norm
    eps: tuple[float, ...]
    suite: Suite
    num_classes: int
    eot: int
    differentiable: bool
    seed: int

    def attack(self, attack: Attack, n: int) -> int:
        """:func:`attack_work` for this scan's classes and EOT."""
        return attack_work(attack, n, self.num_classes, self.eot)


def attack_work(attack: Attack, n: int, num_classes: int, eot: int = 1) -> int:
    """Upper bound of the weighted passes ``attack`` spends on ``n`` correct samples.

    The base class's final re-check (one forward per sample) is included.
    """
    return n * (_per_sample(attack, num_classes, (1 + BACKWARD_WEIGHT) * eot) + 1)


def _per_sample(attack: Attack, num_classes: int, grad: int) -> int:
    """Weighted passes of ``attack.run`` per sample; ``grad`` is the cost of one gradient."""
    restarts = int(getattr(attack, "restarts", 1))
    if isinstance(attack, Square):
        return restarts * (attack.queries + 1)  # the init query, then one per iteration
    if isinstance(attack, APGD | APGDT):
        run = attack.steps * grad + 1  # the last iterate is evaluated without a gradient
        if isinstance(attack, APGDT):
            return 1 + min(attack.n_target_classes, num_classes - 1) * restarts * run
        return restarts * run
    if isinstance(attack, FMN):
        extra = max(0, min(attack.targets, num_classes - 1) - 1) if attack.targets > 1 else 0
        return (1 + extra) * attack.steps * grad + int(attack.targets > 1)
    if isinstance(attack, PGD):
        return restarts * attack.steps * grad + restarts - 1
    if isinstance(attack, CarliniWagner):
        return attack.binary_search_steps * attack.steps * grad
    if isinstance(attack, FGSM):
        return grad
    steps = int(getattr(attack, "steps", getattr(attack, "queries", 1)))
    return restarts * steps * (grad if attack.needs_gradients else 1)


def check_work(check_id: str, scope: Scope, n: int, survivors: int, probe_eps: float) -> int:
    """Upper bound of a sanity check's weighted passes on ``n`` samples (``survivors`` of
    them left standing by the suite at ``probe_eps``); mirrors ``checks.py``."""
    grad = (1 + BACKWARD_WEIGHT) * scope.eot
    if check_id == "gradients":
        return 3 * grad * n  # margin gradients at x and at a random start, CE at x
    if check_id == "determinism":
        return 2 * n
    if check_id == "eps-sweep":
        sweep: list[Attack] = [Square(norm=scope.norm, eps=1.0, queries=1000)] * (
            1 + len(scope.eps)
        )
        if scope.differentiable:
            sweep = [PGD(norm=scope.norm, eps=1.0, steps=s) for s in [50] + [20] * len(scope.eps)]
        return sum(scope.attack(a, n) for a in sweep)
    if check_id == "convergence" and scope.differentiable:
        built = scope.suite.build(scope.norm, probe_eps, scope.seed)
        stronger = [_strengthen(a, 0) for a in built if a.needs_gradients and hasattr(a, "steps")]
        return sum(scope.attack(a, survivors) for a in stronger)
    if check_id == "single-step" and scope.differentiable:
        return scope.attack(FGSM(norm=scope.norm, eps=1.0), survivors)
    if check_id == "noise":
        return 20 * survivors
    if check_id == "black-box-gap" and scope.differentiable:
        built = scope.suite.build(scope.norm, probe_eps, scope.seed)
        if all(a.needs_gradients for a in built):
            return scope.attack(Square(norm=scope.norm, eps=1.0, queries=1000), survivors)
    return 0
