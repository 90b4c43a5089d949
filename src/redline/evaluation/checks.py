"""Sanity checks of the evaluation itself: is the robust accuracy we report believable?

Each check returns PASS / WARN / FAIL (or SKIP) with evidence and a suggested fix.
They follow the failure modes catalogued by Carlini et al. (2019) "On Evaluating
Adversarial Robustness" and Athalye et al. (2018) "Obfuscated Gradients".
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from redline.attacks._geometry import enforce, lp_norm, random_in_ball
from redline.attacks._losses import cross_entropy, margin
from redline.evaluation._checks_attack import (
    check_blackbox_gap,
    check_convergence,
    check_eps_sweep,
    check_noise,
    check_single_step,
)
from redline.evaluation._checks_base import CHECK_IDS, CheckContext, finding, rng_for
from redline.results import CheckResult, CheckStatus

__all__ = ["CHECKS", "run_checks"]

_MASKING_FIX = (
    "Treat the robust accuracy as unverified: look for gradient masking (non-differentiable "
    "or randomised layers, saturated softmax) and attack it with BPDA / EOT or a stronger, "
    "longer attack before claiming robustness."
)


def check_gradients(ctx: CheckContext) -> CheckResult:
    """Gradients of the margin loss must be finite and non-zero at and around the inputs."""
    cid, title = "gradients", "Gradients are finite and informative"
    if not ctx.target.differentiable or not len(ctx.x):
        return finding(cid, title, "SKIP", "no white-box access or no correctly classified sample")
    start = enforce(
        ctx.x,
        ctx.x + random_in_ball(ctx.x, ctx.norm, ctx.probe_eps, rng_for(ctx, 1)),
        ctx.norm,
        ctx.probe_eps,
        ctx.target.bounds,
    )
    bad = zero = 0
    for point in (ctx.x, start):
        logits, _, grad = ctx.target.logits_and_grad(point, lambda z: margin(z, ctx.y))
        finite = torch.isfinite(grad.flatten(1)).all(1) & torch.isfinite(logits).all(1)
        bad += int((~finite).sum())
        zero += int((finite & (lp_norm(grad, "l2") == 0)).sum())
    _, _, ce_grad = ctx.target.logits_and_grad(ctx.x, lambda z: cross_entropy(z, ctx.y))
    saturated = int((lp_norm(ce_grad, "l2") == 0).sum())
    n = 2 * len(ctx.x)
    ev = {"points": n, "non_finite": bad, "zero": zero, "ce_saturated": saturated}
    if bad:
        return finding(
            cid,
            title,
            "FAIL",
            f"{bad} of {n} gradients are NaN or infinite",
            "The model's backward pass is not finite (log(0), sqrt(0), division by "
            "zero): gradient attacks stall, so robustness is overstated. " + _MASKING_FIX,
            evidence=ev,
        )
    status: CheckStatus = "PASS" if zero == 0 else ("WARN" if zero <= 0.1 * n else "FAIL")
    summary = (
        f"{zero} of {n} margin-loss gradients are exactly zero"
        if zero
        else f"all {n} margin-loss gradients are finite and non-zero"
    )
    if saturated:
        summary += f"; cross-entropy saturates for {saturated} of {len(ctx.x)} clean inputs"
    fix = (
        "Zero gradients mean shattered or obfuscated gradients (quantisation, thresholds, "
        "argmax in the forward pass). Use BPDA (identity in the backward pass) or a "
        "black-box attack. " + _MASKING_FIX
    )
    return finding(cid, title, status, summary, fix, evidence=ev)


def check_determinism(ctx: CheckContext) -> CheckResult:
    """Two identical forward passes must agree, or the evaluation must use EOT."""
    cid, title = "determinism", "Forward pass is deterministic"
    if not len(ctx.x):
        return finding(cid, title, "SKIP", "no correctly classified sample")
    a, b = ctx.target.logits(ctx.x), ctx.target.logits(ctx.x)
    diff = float((a - b).abs().max())
    flips = int((a.argmax(1) != b.argmax(1)).sum())
    eot = int(getattr(ctx.target, "eot", 1))
    ev = {"max_logit_difference": diff, "prediction_flips": flips, "eot": eot}
    if diff <= 1e-5 * max(1.0, float(a.abs().max())):
        return finding(
            cid, title, "PASS", "two identical forward passes gave the same logits", evidence=ev
        )
    fix = (
        "The model is randomised: attack the expectation (EOT), e.g. `--eot 20` or "
        "TorchTarget(..., eot=20). A single-draw attack overstates its robustness."
    )
    if eot > 1:
        return finding(
            cid,
            title,
            "WARN",
            f"randomised model; gradients averaged over {eot} draws (EOT)",
            "Check that robust accuracy is stable when eot doubles.",
            evidence=ev,
        )
    if flips:
        return finding(
            cid,
            title,
            "FAIL",
            f"{flips} of {len(ctx.x)} predictions changed between two identical forward passes",
            fix,
            evidence=ev,
        )
    return finding(
        cid,
        title,
        "WARN",
        f"logits differ by up to {diff:.3g} between identical passes (predictions stable)",
        fix,
        evidence=ev,
    )


def check_validity(ctx: CheckContext) -> CheckResult:
    """Every returned example must lie inside the eps ball and the input bounds."""
    cid, title = "validity", "Adversarial examples respect the threat model"
    ev = {"violations": ctx.violations, "checked": ctx.checked_examples}
    if ctx.violations:
        return finding(
            cid,
            title,
            "FAIL",
            f"{ctx.violations} of {ctx.checked_examples} returned "
            f"examples lie outside the eps ball or the bounds{_rules(ctx, ' or break')}",
            "An attack does not project its output: its successes are not valid "
            "under this threat model. Report the attack as buggy.",
            evidence=ev,
        )
    if ctx.target.judges_threat:
        where = f"satisfy the feature schema{_rules(ctx, '')} at their eps"
    else:
        where = f"are inside the {ctx.norm} ball and the bounds"
    return finding(cid, title, "PASS", f"all {ctx.checked_examples} examples {where}", evidence=ev)


def _rules(ctx: CheckContext, verb: str) -> str:
    """The target's own input rules, where it has them (a feature schema)."""
    schema = getattr(ctx.target, "schema", None)
    if schema is None:
        return ""
    return f"{verb} the feature schema ({schema.source})" if verb else f" ({schema.source})"


CHECKS: tuple[Callable[[CheckContext], CheckResult], ...] = (
    check_gradients,
    check_determinism,
    check_validity,
    check_eps_sweep,
    check_convergence,
    check_single_step,
    check_noise,
    check_blackbox_gap,
)
"""Every sanity check, in report order."""


def run_checks(
    ctx: CheckContext, on_start: Callable[[str], None] | None = None
) -> list[CheckResult]:
    """Run all checks; ``on_start(check_id)`` before each (progress bars)."""
    results = []
    for check_id, check in zip(CHECK_IDS, CHECKS, strict=True):
        if on_start is not None:
            on_start(check_id)
        results.append(check(ctx))
    return results
