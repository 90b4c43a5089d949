"""HopSkipJump (Chen, Jordan & Wainwright, IEEE S&P 2020): decision-based, labels only.

From a misclassified starting point it walks along the decision boundary: a binary
search puts the point on the boundary, a Monte-Carlo estimate of the boundary's normal
(signs of ``num_evals`` random probes, baseline-corrected) gives the direction, and a
geometric step search moves towards the clean point's side while staying adversarial.
Every probe goes through ``target.constrain`` (so under a feature schema only valid
inputs are ever queried) and every query is counted per sample against ``queries``.
Samples run together: one target call per stage for all active samples.
"""

from __future__ import annotations

import math

import torch

from redline.attacks._base import Adversarial, Attack
from redline.attacks._geometry import Norm, lp_norm
from redline.errors import InputError
from redline.targets import Target

__all__ = ["HopSkipJump"]

_FAR = 1e6
"""A step that the bounds or the schema's budgets clip to the edge of what is allowed."""
_STEP_SEARCH = 12
"""Halvings of the geometric step before the iteration gives up on a sample."""


class HopSkipJump(Attack):
    """Minimum-norm decision-based attack (L2 or L-inf); with ``eps`` it stops a sample
    as soon as its example is within eps. ``queries`` is the budget per sample."""

    name = "hop-skip-jump"
    norms = ("l2", "linf")
    needs_gradients = False
    needs_scores = False
    minimum_norm = True

    def __init__(
        self,
        *,
        norm: Norm = "l2",
        eps: float | None = None,
        queries: int = 5000,
        init_evals: int = 100,
        max_evals: int = 1000,
        init_tries: int = 100,
        gamma: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__(norm=norm, eps=eps, seed=seed)
        if min(queries, init_evals, max_evals, init_tries) < 1 or gamma <= 0:
            raise InputError("queries, init_evals, max_evals, init_tries must be >= 1, gamma > 0")
        self.queries = int(queries)
        self.init_evals = int(init_evals)
        self.max_evals = int(max_evals)
        self.init_tries = int(init_tries)
        self.gamma = float(gamma)

    def run(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator
    ) -> Adversarial:
        run = _Run(self, target, x, y, rng)
        run.initialise()
        run.iterate()
        return Adversarial(run.best, run.used)


class _Run:
    """The state of one HopSkipJump call over a batch."""

    def __init__(
        self,
        attack: HopSkipJump,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        rng: torch.Generator,
    ) -> None:
        self.a, self.t, self.x, self.y, self.rng = attack, target, x, y, rng
        self.d = x[0].numel()
        self.used = torch.zeros(len(x), dtype=torch.long, device=x.device)
        self.best = x.clone()
        self.found = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        self.dist = torch.full((len(x),), math.inf, device=x.device)
        exp = 1.5 if attack.norm == "l2" else 2.0
        self.theta = attack.gamma / self.d**exp

    # --- queries -----------------------------------------------------------------

    def _adversarial(self, idx: torch.Tensor, points: torch.Tensor, per: int = 1) -> torch.Tensor:
        """Label query for ``points`` (``per`` rows for each sample of ``idx``), constrained."""
        x0 = self.x[idx].repeat_interleave(per, dim=0)
        valid = self.t.constrain(x0, self._box(x0, points), self.a.eps)
        self.used[idx] += per
        labels = self.t.predict(valid)
        return labels != self.y[idx].repeat_interleave(per)

    def _box(self, x0: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        lo, hi = self.t.bounds
        return points.clamp(lo, hi)

    def _valid(self, idx: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        return self.t.constrain(self.x[idx], self._box(self.x[idx], points), self.a.eps)

    def _left(self, idx: torch.Tensor) -> torch.Tensor:
        return idx[self.used[idx] < self.a.queries]

    # --- stages ------------------------------------------------------------------

    def initialise(self) -> None:
        """A misclassified starting point per sample: the batch's samples of other classes
        and the farthest allowed point in their direction (both constrained to what the
        sample may become), then random points in the bounds (a growing box where
        unbounded)."""
        todo = torch.arange(len(self.x), device=self.x.device)
        order = torch.randperm(len(self.x), generator=self.rng, device=self.x.device)
        for attempt in range(self.a.init_tries):
            todo = self._left(todo)
            if not len(todo):
                break
            cand = self._other_class(todo, order, attempt // 2)
            if cand is not None and attempt % 2:  # the far corner in that sample's direction
                cand = self.x[todo] + torch.sign(cand - self.x[todo]) * _FAR
            if cand is None:
                cand = self._random_points(todo, attempt)
            hit = self._adversarial(todo, cand)
            ok = todo[hit]
            self.best[ok] = self._valid(ok, cand[hit])
            self.found[ok] = True
            todo = todo[~hit]
        ok = self.found.nonzero().squeeze(1)
        if len(ok):
            self._binary_search(ok, self.best[ok])

    def _other_class(
        self, idx: torch.Tensor, order: torch.Tensor, attempt: int
    ) -> torch.Tensor | None:
        """The ``attempt``-th sample (in a seeded order) whose label differs, per sample;
        None once the batch has no more of them for some sample."""
        differs = self.y[order][None, :] != self.y[idx][:, None]
        rank = differs.cumsum(dim=1)
        pick = (rank == attempt + 1) & differs
        if not bool(pick.any(dim=1).all()):
            return None
        return self.x[order[pick.float().argmax(dim=1)]]

    def _random_points(self, idx: torch.Tensor, attempt: int) -> torch.Tensor:
        """Uniform in the bounds; where they are infinite, in a box around the sample
        whose half-width doubles with every attempt (1, 2, 4, ... up to 2^20): a batch of
        one class has no other-class sample to start from."""
        lo, hi = self.t.bounds
        x0 = self.x[idx]
        if math.isfinite(lo) and math.isfinite(hi):
            u = torch.rand(x0.shape, generator=self.rng, device=x0.device)
            return lo + (hi - lo) * u
        noise = torch.rand(x0.shape, generator=self.rng, device=x0.device) * 2 - 1
        return x0 + noise * 2.0 ** min(attempt, 20)

    def _binary_search(self, idx: torch.Tensor, adv: torch.Tensor) -> None:
        """Shrink ``adv`` towards ``x`` along the segment (L2) or the box (L-inf) while it
        stays adversarial; keeps the closest adversarial point found."""
        x0 = self.x[idx]
        if self.a.norm == "linf":
            high = lp_norm(adv - x0, "linf")
        else:
            high = torch.ones(len(idx), device=x0.device)
        low = torch.zeros_like(high)
        tol = self.theta
        top = high.clone()
        for _ in range(64):
            open_ = (high - low) / top.clamp(min=1e-12) > tol
            open_ &= self.used[idx] < self.a.queries - 1  # one left for the final check
            if not bool(open_.any()):
                break
            sel = open_.nonzero().squeeze(1)
            mid = (low[sel] + high[sel]) / 2
            pts = self._blend(x0[sel], adv[sel], mid, top[sel])
            hit = self._adversarial(idx[sel], pts)
            high[sel] = torch.where(hit, mid, high[sel])
            low[sel] = torch.where(hit, low[sel], mid)
        final = self._valid(idx, self._blend(x0, adv, high, top))
        self._keep(idx, final)

    def _blend(
        self, x0: torch.Tensor, adv: torch.Tensor, t: torch.Tensor, top: torch.Tensor
    ) -> torch.Tensor:
        shape = (-1, *([1] * (x0.dim() - 1)))
        if self.a.norm == "linf":
            r = t.view(shape)
            return torch.minimum(torch.maximum(adv, x0 - r), x0 + r)
        return x0 + t.view(shape) * (adv - x0)

    def _keep(self, idx: torch.Tensor, points: torch.Tensor) -> None:
        """Record points that are adversarial and closer than the best so far (re-checked:
        the constrained blend may have moved)."""
        labels = self.t.predict(points)
        self.used[idx] += 1
        adv = labels != self.y[idx]
        dist = lp_norm(points - self.x[idx], self.a.norm)
        better = adv & (dist < self.dist[idx])
        self.best[idx[better]] = points[better]
        self.dist[idx[better]] = dist[better]

    def iterate(self) -> None:
        """Gradient estimate at the boundary point, geometric step, binary search."""
        active = self.found.nonzero().squeeze(1)
        step = 0
        while len(active):
            step += 1
            if self.a.eps is not None:
                active = active[self.dist[active] > self.a.eps]
            active = self._left(active)
            if not len(active):
                break
            evals = min(self.a.max_evals, int(self.a.init_evals * math.sqrt(step)))
            spare = self.a.queries - self.used[active]  # never overrun a sample's budget
            active = active[spare > _STEP_SEARCH]
            if not len(active):
                break
            evals = min(evals, int((spare[spare > _STEP_SEARCH]).min()) - _STEP_SEARCH)
            direction = self._direction(active, evals)
            moved = self._step(active, direction, step)
            if len(moved):
                self._binary_search(moved, self._stepped)
            active = active[self.dist[active] > 0]

    def _direction(self, idx: torch.Tensor, evals: int) -> torch.Tensor:
        xb = self.best[idx]
        dist = self.dist[idx]
        scale = (math.sqrt(self.d) if self.a.norm == "l2" else self.d) * self.theta
        delta = (scale * dist).clamp(min=1e-6)
        shape = (len(idx), evals, *xb.shape[1:])
        u = torch.randn(shape, generator=self.rng, device=xb.device)
        u = u / lp_norm(u.flatten(0, 1), "l2").view(len(idx), evals, *([1] * (xb.dim() - 1)))
        probes = xb[:, None] + delta.view(-1, 1, *([1] * (xb.dim() - 1))) * u
        hit = self._adversarial(idx, probes.flatten(0, 1), per=evals).view(len(idx), evals)
        phi = hit.float() * 2 - 1
        mean = phi.mean(dim=1, keepdim=True)
        centred = torch.where((mean.abs() == 1), phi, phi - mean)
        grad = (centred.view(*centred.shape, *([1] * (xb.dim() - 1))) * u).mean(dim=1)
        if self.a.norm == "linf":
            return grad.sign()
        return grad / lp_norm(grad, "l2").clamp(min=1e-12).view(-1, *([1] * (xb.dim() - 1)))

    def _step(self, idx: torch.Tensor, direction: torch.Tensor, step: int) -> torch.Tensor:
        """Geometric search for a step along ``direction`` that stays adversarial; leaves
        the stepped points in ``self._stepped`` and returns the samples that moved."""
        xi = self.dist[idx] / math.sqrt(step)
        shape = (-1, *([1] * (direction.dim() - 1)))
        out = self.best[idx].clone()
        moved = torch.zeros(len(idx), dtype=torch.bool, device=out.device)
        todo = torch.arange(len(idx), device=out.device)
        for _ in range(_STEP_SEARCH):
            todo = todo[self.used[idx[todo]] < self.a.queries]
            if not len(todo):
                break
            cand = self.best[idx[todo]] + xi[todo].view(shape) * direction[todo]
            hit = self._adversarial(idx[todo], cand)
            out[todo[hit]] = cand[hit]
            moved[todo[hit]] = True
            xi[todo[~hit]] /= 2
            todo = todo[~hit]
        self._stepped = out[moved]
        return idx[moved]
