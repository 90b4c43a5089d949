"""Suites: attacks run worst-case per sample, each only on the samples still standing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from redline.attacks import Attack
from redline.attacks._geometry import Norm
from redline.attacks._registry import ATTACKS, AttackFactory, attack_factory
from redline.errors import InputError
from redline.targets import Target

__all__ = ["SUITES", "AttackRun", "Suite", "SuiteOutcome", "get_suite"]


@dataclass(frozen=True)
class AttackRun:
    """Cost and yield of one attack of a suite on one batch."""

    attack: str
    attacked: int
    broken: int
    forward: int
    backward: int
    queries: int
    seconds: float


@dataclass(frozen=True)
class SuiteOutcome:
    """Worst case over the suite, per sample.

    ``broken_by[i]`` is the index of the first attack that broke sample ``i`` or -1;
    ``x_adv``/``logits`` hold that attack's example, or the last attempt when none did.
    """

    x_adv: torch.Tensor
    logits: torch.Tensor
    broken_by: torch.Tensor
    runs: list[AttackRun]


@dataclass(frozen=True)
class Suite:
    """An ordered list of attacks, cheapest and strongest first (AutoAttack style)."""

    name: str
    description: str
    factories: tuple[AttackFactory, ...]

    def build(self, norm: Norm, eps: float, seed: int = 0) -> list[Attack]:
        """Instantiate the attacks for one threat model."""
        return [factory(norm=norm, eps=eps, seed=seed) for factory in self.factories]

    def run(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        norm: Norm,
        eps: float,
        seed: int = 0,
        on_attack: Callable[[int, Attack, int], None] | None = None,
    ) -> SuiteOutcome:
        """Attack correctly classified ``x``; each attack sees only the survivors so far.

        ``on_attack(i, attack, n)`` is called as attack ``i`` starts on ``n`` samples.
        """
        attacks = self.build(norm, eps, seed)
        broken_by = torch.full((len(x),), -1, dtype=torch.long, device=x.device)
        x_adv, logits = x.clone(), torch.empty(0)
        runs: list[AttackRun] = []
        for i, attack in enumerate(attacks):
            idx = (broken_by < 0).nonzero().squeeze(1)
            if on_attack is not None:
                on_attack(i, attack, len(idx))
            if not len(idx):
                runs.append(AttackRun(attack.name, 0, 0, 0, 0, 0, 0.0))
                continue
            res = attack(target, x[idx], y[idx], assume_correct=True)
            if logits.numel() == 0:
                logits = torch.zeros(len(x), res.logits.shape[1], device=x.device)
            x_adv[idx], logits[idx] = res.x_adv, res.logits
            broken_by[idx[res.success]] = i
            queries = int(res.queries.sum()) if res.queries is not None else 0
            runs.append(
                AttackRun(
                    attack.name,
                    len(idx),
                    int(res.success.sum()),
                    res.forward,
                    res.backward,
                    queries,
                    res.seconds,
                )
            )
        return SuiteOutcome(x_adv, logits, broken_by, runs)


SUITES: dict[str, Suite] = {
    "standard": Suite(
        "standard",
        "AutoAttack-standard budgets: APGD-CE (100 steps), APGD-T (9 targets x 100 steps), "
        "Square (5000 queries).",
        (
            attack_factory("apgd-ce", steps=100),
            attack_factory("apgd-t", steps=100, n_target_classes=9),
            attack_factory("square", queries=5000),
        ),
    ),
    "quick": Suite(
        "quick",
        "CI smoke run: APGD-CE (20 steps), APGD-T (3 targets x 20 steps), Square (300 queries). "
        "Weaker than standard: never the basis of a robustness claim.",
        (
            attack_factory("apgd-ce", steps=20),
            attack_factory("apgd-t", steps=20, n_target_classes=3),
            attack_factory("square", queries=300),
        ),
    ),
}


def get_suite(name: str) -> Suite:
    """A predefined suite, or an ad-hoc one from a comma list of attack names."""
    key = name.strip().lower()
    if key in SUITES:
        return SUITES[key]
    names = [part.strip() for part in key.split(",") if part.strip()]
    if not names:
        raise InputError(f"empty suite {name!r}")
    unknown = [n for n in names if n not in ATTACKS]
    if unknown:
        what = "suite or attack" if len(names) == 1 else "attack"
        raise InputError(
            f"unknown {what} {unknown[0]!r}: use a suite ({', '.join(SUITES)}) or a comma "
            f"list of attacks ({', '.join(sorted(ATTACKS))})"
        )
    factories = tuple(attack_factory(n) for n in names)
    return Suite(
        ",".join(names), "Ad-hoc suite: " + ", ".join(names) + " at default budgets.", factories
    )
