"""Sanity checks that re-attack: eps sweep, convergence, single step, noise, black-box gap."""

from __future__ import annotations

import math

import torch

from redline.attacks import FGSM, PGD, Attack
from redline.attacks._geometry import enforce, lp_norm, random_in_ball
from redline.attacks._registry import make_attack
from redline.evaluation._checks_base import CheckContext, finding, graded, rng_for, tolerance
from redline.results import CheckResult, CheckStatus

__all__ = [
    "check_blackbox_gap",
    "check_convergence",
    "check_eps_sweep",
    "check_noise",
    "check_single_step",
]

_MASKING = (
    "A weaker attack succeeded where the suite failed: the suite's gradients are misleading "
    "(gradient masking) or it is misconfigured. Do not trust the robust accuracy; add "
    "BPDA/EOT, more restarts, or a stronger black-box attack."
)


def _survivors(ctx: CheckContext) -> tuple[torch.Tensor, torch.Tensor]:
    return ctx.x[ctx.survivors], ctx.y[ctx.survivors]


def _unbounded_eps(ctx: CheckContext) -> float:
    lo, hi = ctx.target.bounds
    if ctx.norm == "linf":
        return hi - lo
    return (hi - lo) * math.sqrt(ctx.x[0].numel())


def _sweep_attack(ctx: CheckContext, eps: float, steps: int) -> Attack:
    if ctx.target.differentiable:
        return PGD(norm=ctx.norm, eps=eps, steps=steps, seed=ctx.seed)
    return make_attack("square", norm=ctx.norm, eps=eps, seed=ctx.seed).with_params(queries=1000)


def check_eps_sweep(ctx: CheckContext) -> CheckResult:
    """Robust accuracy must fall as eps grows and reach zero with unbounded perturbations."""
    cid, title = "eps-sweep", "Robust accuracy falls to zero as eps grows"
    n = len(ctx.x)
    if not n:
        return finding(cid, title, "SKIP", "no correctly classified sample")
    if ctx.target.judges_threat:
        why = "a feature schema bounds every change (immutables, budgets): no eps is unbounded"
        return finding(cid, title, "SKIP", why)
    big = _unbounded_eps(ctx)
    acc_big = _sweep_attack(ctx, big, 50)(ctx.target, ctx.x, ctx.y, assume_correct=True)
    at_big = acc_big.robust_accuracy
    sweep = [
        _sweep_attack(ctx, e, 20)(ctx.target, ctx.x, ctx.y, assume_correct=True).robust_accuracy
        for e in ctx.eps
    ]
    rises = [
        (ctx.eps[k], ctx.eps[k + 1])
        for k in range(len(sweep) - 1)
        if sweep[k + 1] > sweep[k] + tolerance(n) / n
    ]
    chance = 1.0 / ctx.num_classes
    ev = {
        "unbounded_eps": big,
        "accuracy_unbounded": at_big,
        "chance": chance,
        "independent_sweep": dict(zip(map(str, ctx.eps), sweep, strict=True)),
        "scan_robust_accuracy": dict(zip(map(str, ctx.eps), ctx.robust_accuracy, strict=True)),
    }
    if at_big > chance:
        return finding(
            cid,
            title,
            "FAIL",
            f"with unbounded perturbations (eps={big:.3g}) "
            f"{at_big:.1%} of samples stay correct, above chance ({chance:.1%})",
            "An attack that cannot flip a prediction when it may change the whole "
            "input is being blocked by the model's gradients. " + _MASKING,
            evidence=ev,
        )
    if at_big * n > tolerance(n):
        return finding(
            cid,
            title,
            "WARN",
            f"unbounded attack leaves {at_big:.1%} correct (expected 0%)",
            _MASKING,
            evidence=ev,
        )
    if rises:
        return finding(
            cid,
            title,
            "WARN",
            f"independent attacks are not monotone in eps: "
            f"accuracy rises between eps {rises[0][0]:.3g} and {rises[0][1]:.3g}",
            "The attack is unstable across budgets; increase steps/restarts.",
            evidence=ev,
        )
    return finding(
        cid,
        title,
        "PASS",
        f"accuracy falls with eps and reaches {at_big:.1%} at unbounded eps {big:.3g}",
        evidence=ev,
    )


def check_convergence(ctx: CheckContext) -> CheckResult:
    """Doubling the steps and adding restarts must not break many more samples."""
    cid, title = "convergence", "More steps and restarts do not help"
    xs, ys = _survivors(ctx)
    n = len(ctx.x)
    if not len(xs):
        return finding(
            cid,
            title,
            "PASS",
            f"no sample survived the suite at eps {ctx.probe_eps:.4g}: nothing left to converge on",
            evidence={"survivors": 0},
        )
    stronger = [
        _strengthen(a, ctx.seed + 1)
        for a in ctx.suite.build(ctx.norm, ctx.probe_eps, ctx.seed)
        if a.needs_gradients and hasattr(a, "steps")
    ]
    if not stronger or not ctx.target.differentiable:
        return finding(cid, title, "SKIP", "the suite has no iterative gradient attack")
    standing = torch.ones(len(xs), dtype=torch.bool, device=xs.device)
    for attack in stronger:
        idx = standing.nonzero().squeeze(1)
        if len(idx):
            standing[idx[attack(ctx.target, xs[idx], ys[idx], assume_correct=True).success]] = False
    broken = int((~standing).sum())
    status: CheckStatus = (
        "PASS" if broken <= tolerance(n) else "WARN" if broken <= tolerance(n, 0.03) else "FAIL"
    )
    ev = {
        "eps": ctx.probe_eps,
        "samples": n,
        "survivors": len(xs),
        "newly_broken": broken,
        "attacks": [repr(a) for a in stronger],
    }
    return finding(
        cid,
        title,
        status,
        f"2x steps and +2 restarts broke {broken} more of {n} samples at eps {ctx.probe_eps:.4g}",
        "The suite has not converged: use "
        "more steps and restarts (e.g. the standard suite) before trusting it.",
        evidence=ev,
    )


def _strengthen(attack: Attack, seed: int) -> Attack:
    changes: dict[str, object] = {"steps": 2 * int(getattr(attack, "steps", 1)), "seed": seed}
    if hasattr(attack, "restarts"):
        changes["restarts"] = int(attack.restarts) + 2
    if getattr(attack, "step_size", None) is not None:
        changes["step_size"] = None
    return attack.with_params(**changes)


def check_single_step(ctx: CheckContext) -> CheckResult:
    """FGSM must not break samples that the iterative suite left standing."""
    cid, title = "single-step", "Iterative attacks beat a single step"
    xs, ys = _survivors(ctx)
    if not ctx.target.differentiable:
        return finding(cid, title, "SKIP", "no white-box access")
    if not len(xs):
        return finding(cid, title, "PASS", "no survivor to test", evidence={"survivors": 0})
    res = FGSM(norm=ctx.norm, eps=ctx.probe_eps)(ctx.target, xs, ys, assume_correct=True)
    broken = int(res.success.sum())
    return finding(
        cid,
        title,
        graded(broken, len(ctx.x)),
        f"FGSM broke {broken} of {len(xs)} samples the suite missed at eps {ctx.probe_eps:.4g}",
        _MASKING,
        evidence={"eps": ctx.probe_eps, "survivors": len(xs), "broken": broken},
    )


def check_noise(ctx: CheckContext, draws: int = 20) -> CheckResult:
    """Random perturbations inside the ball must not beat the suite."""
    cid, title = "noise", "Random noise does not beat the attacks"
    xs, ys = _survivors(ctx)
    if not len(xs):
        return finding(cid, title, "PASS", "no survivor to test", evidence={"survivors": 0})
    rng, hit = rng_for(ctx, 2), torch.zeros(len(xs), dtype=torch.bool, device=xs.device)
    for d in range(draws):
        delta = random_in_ball(xs, ctx.norm, ctx.probe_eps, rng)
        if d % 2:  # corners / sphere surface: the strongest random directions
            delta = delta.sign() * ctx.probe_eps if ctx.norm == "linf" else _to_surface(delta, ctx)
        x_noisy = enforce(xs, xs + delta, ctx.norm, ctx.probe_eps, ctx.target.bounds)
        x_noisy = ctx.target.constrain(xs, x_noisy, ctx.probe_eps)
        hit |= ctx.target.predict(x_noisy) != ys
    broken = int(hit.sum())
    return finding(
        cid,
        title,
        graded(broken, len(ctx.x)),
        f"{draws} random draws per sample "
        f"broke {broken} of {len(xs)} survivors at eps {ctx.probe_eps:.4g}",
        _MASKING,
        evidence={"eps": ctx.probe_eps, "survivors": len(xs), "broken": broken, "draws": draws},
    )


def _to_surface(delta: torch.Tensor, ctx: CheckContext) -> torch.Tensor:
    norms = lp_norm(delta, "l2").clamp_min(1e-12)
    return delta * (ctx.probe_eps / norms).view(-1, *([1] * (delta.dim() - 1)))


def check_blackbox_gap(ctx: CheckContext) -> CheckResult:
    """A black-box attack must not break what the white-box attacks missed."""
    cid, title = "black-box-gap", "Black-box attacks do not beat white-box ones"
    if not ctx.target.differentiable:
        return finding(cid, title, "SKIP", "black-box target: every attack is black-box")
    attacks = ctx.suite.build(ctx.norm, ctx.probe_eps, ctx.seed)
    if any(not a.needs_gradients for a in attacks):
        broken, n, where = ctx.blackbox_broken, ctx.clean_correct, "in the suite"
    else:
        xs, ys = _survivors(ctx)
        square = make_attack("square", norm=ctx.norm, eps=ctx.probe_eps, seed=ctx.seed)
        res = (
            square.with_params(queries=1000)(ctx.target, xs, ys, assume_correct=True)
            if len(xs)
            else None
        )
        broken = 0 if res is None else int(res.success.sum())
        n, where = len(ctx.x), "by a 1000-query Square run"
    frac = broken / n if n else 0.0
    status: CheckStatus = "PASS" if frac <= 0.005 else ("WARN" if frac <= 0.02 else "FAIL")
    return finding(
        cid,
        title,
        status,
        f"{broken} of {n} samples ({frac:.1%}) were broken only "
        f"{where} after the white-box attacks",
        _MASKING,
        evidence={"eps": ctx.probe_eps, "blackbox_only": broken, "samples": n},
    )
