"""What a scan tells its progress bar: the running stage, and the work expected before it.

A scan's stages are, per batch, the minimum-norm attack, then each attack of the suite at
each eps, and at the end each sanity check. Their budgets scale with the samples they
attack; before a stage starts, that count is estimated (as a fraction of the batch) and
refined as the scan learns: the clean accuracy, the minimal perturbations (a sample whose
smallest adversarial distance is below eps is broken at that eps), and each stage's
survivors. Batches not started yet are expected to look like the current one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from redline.attacks import Attack
from redline.evaluation._budget import Scope, check_work
from redline.evaluation._checks_base import CHECK_IDS
from redline.evaluation._progress import Progress

if TYPE_CHECKING:
    from redline.evaluation._scan import ScanPlan

__all__ = ["ScanProgress"]


class ScanProgress:
    """Labels and budgets of one scan's stages, fed to a :class:`Progress` bar."""

    def __init__(
        self, bar: Progress, plan: ScanPlan, scope: Scope, sizes: list[int], check_samples: int
    ) -> None:
        """``sizes`` are the batch sizes; ``check_samples`` 0 means no sanity checks."""
        self.bar = bar
        self._scope, self._eps, self._sizes = scope, plan.eps, sizes
        attacks = [plan.suite.build(plan.norm, e, plan.seed) for e in plan.eps]
        self._per = [[scope.attack(a, 1) for a in row] for row in attacks]
        self._fmn = scope.attack(plan.minimal, 1) if plan.minimal is not None else 0
        self._check_samples = check_samples
        self._b, self._n, self._rest, self._at = -1, 1, sum(sizes), -1
        self._correct_seen = 0
        self._correct = 1.0  # the current batch's expected fractions: correct, and
        self._frac = [[1.0] * len(row) for row in self._per]  # attacked per (eps, attack)
        self._replan()

    def _label(self, text: str) -> str:
        many = len(self._sizes) > 1
        return f"{text} [batch {self._b + 1}/{len(self._sizes)}]" if many else text

    def _index(self, k: int, i: int) -> int:
        """Position of attack ``i`` at eps ``k`` among a batch's stages (0 is the minimal)."""
        return 1 + k * len(self._per[0]) + i

    def begin_batch(self, b: int, n: int) -> None:
        """Batch ``b`` of ``n`` samples starts (after the previous one ended)."""
        if self.bar.enabled:
            self._b, self._n, self._at = b, n, -1
            self._rest -= n
            self._replan()

    def clean(self, correct: int) -> None:
        """The batch's clean accuracy is known: only correct samples are attacked."""
        if self.bar.enabled:
            self._correct_seen += correct
            self._correct = correct / self._n
            self._frac = [[min(f, self._correct) for f in row] for row in self._frac]
            self._replan()

    def minimal_start(self, count: int) -> None:
        """The minimum-norm attack starts on ``count`` samples."""
        self._at = 0
        self.bar.start(self._label("minimal perturbations"), ("fmn", self._b), self._fmn * count)

    def minimal_done(self, dist: npt.NDArray[np.float64], correct: npt.NDArray[np.bool_]) -> None:
        """Smallest adversarial distances (correct samples): who can stand at which eps."""
        if not self.bar.enabled:
            return
        self.bar.end()
        above = [float((correct & (dist > e)).sum()) / self._n for e in self._eps]
        for k, row in enumerate(self._frac):
            first = self._correct if k == 0 else above[k - 1]  # folded in at the smaller eps
            self._frac[k] = [first] + [above[k]] * (len(row) - 1)
        self._replan()

    def attack_start(self, k: int, i: int, attack: Attack, count: int) -> None:
        """Attack ``i`` of the suite starts at eps ``k`` on ``count`` samples."""
        if not self.bar.enabled:
            return
        self._at = self._index(k, i)
        self._frac[k][i] = count / self._n
        label = self._label(f"attacks eps={self._eps[k]:.4g} ({attack.name})")
        self.bar.start(label, ("atk", self._b, k, i), self._scope.attack(attack, count))

    def eps_done(self, k: int, standing: int) -> None:
        """The suite ended at eps ``k``; ``standing`` samples are left for the larger eps."""
        if not self.bar.enabled:
            return
        self.bar.end()
        for i in range(len(self._per[k])):  # attacks the suite skipped: nobody was standing
            if self._index(k, i) > self._at:
                self.bar.plan(("atk", self._b, k, i), 0)
                self._frac[k][i] = 0.0
        self._at = self._index(k, len(self._per[k]) - 1)
        for row in self._frac[k + 1 :]:
            row[:] = [min(f, standing / self._n) for f in row]
        self._replan()

    def checks_begin(self, n: int, survivors: int, probe_eps: float) -> None:
        """The sanity checks start on ``n`` samples, ``survivors`` of them standing."""
        if not self.bar.enabled:
            return
        for cid in CHECK_IDS:
            self.bar.plan(("check", cid), check_work(cid, self._scope, n, survivors, probe_eps))

    def check_start(self, check_id: str) -> None:
        """One sanity check starts."""
        self.bar.start(f"sanity checks: {check_id}", ("check", check_id))

    def _replan(self) -> None:
        """Expected work of every stage not started: this batch's, the rest, the checks."""
        current = self._b >= 0
        if current and self._at < 0:
            self.bar.plan(("fmn", self._b), round(self._fmn * self._correct * self._n))
        per_sample = self._fmn * self._correct
        for k, row in enumerate(self._per):
            for i, per in enumerate(row):
                per_sample += per * self._frac[k][i]
                if current and self._index(k, i) > self._at:
                    work = round(per * self._frac[k][i] * self._n)
                    self.bar.plan(("atk", self._b, k, i), work)
        self.bar.plan(("rest",), round(per_sample * self._rest))
        if self._check_samples:
            self._plan_checks()

    def _plan_checks(self) -> None:
        """Checks on the first correct samples; survivors as at the largest eps left."""
        expected = self._correct_seen + self._correct * self._rest
        n = min(self._check_samples, round(expected))
        left = [k for k, row in enumerate(self._frac) if row[-1] > 0]
        probe = left[-1] if left else 0
        share = self._frac[probe][-1] / self._correct if left and self._correct else 0.0
        self.checks_begin(n, round(n * min(1.0, share)), self._eps[probe])
