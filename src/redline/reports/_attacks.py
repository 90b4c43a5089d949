"""The attacks table and the attack settings, as rows the HTML template prints.

Two counts of the scan mean different things: an attack's :class:`AttackStats` are what
it did at one eps (samples attacked there, samples it broke there), while
``EpsResult.broken_by`` credits every sample broken so far, at this eps or a smaller
one, to the first attack that broke it (a broken sample stays broken as eps grows).
The rows split the credit into "broken at this eps" and "broken at a smaller eps" so
neither reads as the other."""

from __future__ import annotations

import math
from dataclasses import dataclass

from redline.reports._format import fmt_eps, fmt_num, fmt_value
from redline.results import AttackConfig, AttackStats, EpsResult, ScanResult

__all__ = ["AttackRow", "EpsAttacks", "SettingsRow", "attack_rows", "eps_header", "settings_rows"]


@dataclass(frozen=True)
class AttackRow:
    """One attack at one eps. ``stats`` is None for an attack outside the suite whose
    breaks were folded in (the minimum-norm attack's, re-verified within eps)."""

    attack: str
    broken_here: int
    broken_before: int
    stats: AttackStats | None


@dataclass(frozen=True)
class EpsAttacks:
    """The rows of one eps of the attacks table."""

    eps: EpsResult
    rows: list[AttackRow]


def attack_rows(result: ScanResult) -> list[EpsAttacks]:
    """Per eps, every attack's samples attacked and broken there and those it broke
    first at a smaller eps (read off the previous eps's ``broken_by``)."""
    out, before = [], dict[str, int]()
    for r in result.eps:
        rows = [AttackRow(s.attack, s.broken, before.get(s.attack, 0), s) for s in r.attacks]
        suite = {s.attack for s in r.attacks}
        for name, credited in r.broken_by.items():
            if name not in suite:
                earlier = before.get(name, 0)
                rows.append(AttackRow(name, max(credited - earlier, 0), earlier, None))
        out.append(EpsAttacks(r, rows))
        before = r.broken_by
    return out


@dataclass(frozen=True)
class SettingsRow:
    """One attack's settings: the ones ε leaves alone, and its step at every ε."""

    attack: str
    minimal: bool
    settings: str
    steps: list[str]
    rule: str


_SKIP = {"name", "norm", "eps"}


def _step_rule(
    config: AttackConfig, norm: str | None, grid: list[float]
) -> tuple[str, list[float]]:
    """How the attack's step follows eps, as a formula in ε, and the step at every eps of
    ``grid`` ("" and no steps when the attack has no step tied to ε)."""
    name, params = config.name, config.params
    if name.startswith("apgd"):
        return "2ε, halved when progress stalls", [2.0 * e for e in grid]
    if name == "fgsm":
        return "ε, one step", list(grid)
    if name == "square" and norm == "linf":
        return "±2ε per square", [2.0 * e for e in grid]
    step, steps = params.get("step_size"), params.get("steps")
    if name == "pgd" and isinstance(step, float) and isinstance(steps, int) and steps > 0:
        if grid and math.isclose(step, 2.5 * grid[0] / steps, rel_tol=1e-6):
            return "2.5ε / steps", [2.5 * e / steps for e in grid]
        return "fixed step_size", [step] * len(grid)
    return "", []


def _settings(params: dict[str, object]) -> str:
    return ", ".join(f"{k}={fmt_value(v)}" for k, v in params.items())


def settings_rows(result: ScanResult) -> list[SettingsRow]:
    """The suite's attacks (their settings are recorded once, at the first eps) and the
    minimum-norm attack, each with its step at every eps of the grid."""
    grid, norm = result.config.eps, result.config.norm
    rows = []
    for config in result.config.attacks:
        rule, steps = _step_rule(config, norm, grid)
        kept = {k: v for k, v in config.params.items() if k not in _SKIP}
        if steps:
            kept.pop("step_size", None)
        shown = [fmt_num(v) for v in steps] or ["—"] * len(grid)
        rows.append(SettingsRow(config.name, False, _settings(kept), shown, rule))
    if (m := result.config.minimal) is not None:
        kept = {k: v for k, v in m.params.items() if k not in _SKIP}
        rows.append(SettingsRow(m.name, True, _settings(kept), ["—"] * len(grid), "no ε budget"))
    return rows


def eps_header(result: ScanResult) -> list[str]:
    """The eps grid as column labels."""
    return [fmt_eps(e) for e in result.config.eps]
