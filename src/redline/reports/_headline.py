"""The one sentence a reviewer quotes: accuracy at the eps that matters, and why that eps.

With a policy that gates robust accuracy it is the eps the policy gates on (its first
failed robust rule, else its first robust rule); without one it is the largest eps at
which any sample survives, so the sentence never reads "falls to 0.0%" at an eps far
past the point where the model is broken."""

from __future__ import annotations

import math
import re

from redline.reports._format import fmt_ci, fmt_eps, fmt_pct, fmt_value, norm_label
from redline.results import EpsResult, PolicyFinding, ScanResult

__all__ = ["gated_eps", "headline", "quoted_eps"]

_ROBUST_RULE = re.compile(r"^robust\[(?P<norm>[^:\]]+):(?P<eps>[^\]]+)\]$")
"""How :mod:`redline.policy` names a robust rule; the verdict keeps its eps only there."""


def _rule_eps(finding: PolicyFinding, norm: str | None) -> float | None:
    """The eps of a robust-accuracy rule on the scan's norm, else None."""
    found = _ROBUST_RULE.match(finding.rule)
    if found is None or found["norm"] != norm:
        return None
    try:
        return float(found["eps"])
    except ValueError:
        return None


def gated_eps(result: ScanResult) -> tuple[EpsResult, PolicyFinding] | None:
    """The scanned eps the policy gates robust accuracy on, with its rule's finding: the
    first failed robust rule, else the first robust rule (None without such a rule)."""
    if result.policy is None:
        return None
    gated = []
    for finding in result.policy.findings:
        eps = _rule_eps(finding, result.config.norm)
        match = next(
            (r for r in result.eps if eps is not None and math.isclose(r.eps, eps, rel_tol=1e-4)),
            None,
        )
        if match is not None:
            gated.append((match, finding))
    return next((g for g in gated if not g[1].passed), gated[0] if gated else None)


def quoted_eps(result: ScanResult) -> tuple[EpsResult, str]:
    """Without a gating policy: the largest eps at which a sample survives, and why."""
    surviving = [r for r in result.eps if r.robust.correct > 0]
    if not surviving:
        return result.eps[0], "the smallest ε scanned"
    if surviving[-1] is result.eps[-1]:
        return surviving[-1], "the largest ε scanned"
    return surviving[-1], "the largest ε at which any sample survives"


def _after(result: ScanResult, chosen: EpsResult) -> str:
    """The eps past ``chosen`` where nothing survives, in a trailing clause."""
    broken = [r for r in result.eps if r.eps > chosen.eps and r.robust.correct == 0]
    if not broken:
        return ""
    return f"; at ε = {', '.join(fmt_eps(r.eps) for r in broken)} no sample survives"


def headline(result: ScanResult) -> str:
    """The report's headline sentence (evasion scans with at least one eps)."""
    clean = result.clean.accuracy
    threat = f"{norm_label(result.config.norm)} attacks ({result.config.suite} suite)"
    gate = gated_eps(result)
    chosen, why = (gate[0], "the ε the policy gates on") if gate else quoted_eps(result)
    text = (
        f"Under {threat} at ε = {fmt_eps(chosen.eps)} ({why}), accuracy falls from "
        f"{fmt_pct(clean.value)} to {fmt_pct(chosen.robust.value)} "
        f"(Wilson 95% {fmt_ci(chosen.robust)}) on {clean.n:,} samples{_after(result, chosen)}."
    )
    if gate is None:
        return text
    finding, verdict = gate[1], "PASS" if gate[1].passed else "FAIL"
    judged = finding.actual
    basis = (
        f" (judged by the Wilson lower bound, {fmt_pct(judged)})"
        if isinstance(judged, float) and not math.isclose(judged, chosen.robust.value)
        else ""
    )
    wanted = _share(finding.threshold)
    return f"{text} The policy asks for at least {wanted} there{basis}: {verdict}."


def _share(threshold: float | str | None) -> str:
    """A rule's threshold as a percentage when it is a fraction."""
    if isinstance(threshold, float | int) and not isinstance(threshold, bool):
        return fmt_pct(float(threshold))
    return fmt_value(threshold)
