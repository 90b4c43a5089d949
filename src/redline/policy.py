"""Policy: thresholds from ``redline.toml`` applied to a scan result, for CI gates.

Example::

    [policy]
    min_clean_accuracy = 0.90
    max_ece = 0.10
    checks = "all"            # checks that may not FAIL: "all", "none" or a list of ids
    fail_on_warn = false      # also fail on WARN for those checks
    use_lower_bound = false   # judge robust accuracy by its Wilson 95% lower bound

    [[policy.robust]]
    eps = "8/255"
    min_accuracy = 0.40
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError, field_validator

from redline.errors import InputError
from redline.evaluation._checks_base import CHECK_IDS
from redline.evaluation._result import PolicyFinding, PolicyVerdict, ScanResult
from redline.evaluation._threat import parse_eps

__all__ = ["Policy", "RobustRule", "load_policy", "parse_policy"]

_EPS_MATCH = 1e-6


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RobustRule(_Strict):
    """Minimum robust accuracy at one eps (optionally pinned to a norm)."""

    eps: float
    min_accuracy: float
    norm: Literal["linf", "l2"] | None = None

    @field_validator("eps", mode="before")
    @classmethod
    def _eps(cls, value: object) -> float:
        return parse_eps(str(value))


class Policy(_Strict):
    """Thresholds a scan must meet; unknown keys are rejected (a typo must not pass a gate)."""

    min_clean_accuracy: float | None = None
    max_ece: float | None = None
    robust: list[RobustRule] = []
    checks: Literal["all", "none"] | list[str] = "all"
    fail_on_warn: bool = False
    use_lower_bound: bool = False
    _source: str | None = PrivateAttr(default=None)

    @property
    def source(self) -> str | None:
        """The file this policy was read from, if any."""
        return self._source

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, value: object) -> object:
        if isinstance(value, list):
            unknown = [c for c in value if c not in CHECK_IDS]
            if unknown:
                raise ValueError(f"unknown check {unknown[0]!r} (known: {', '.join(CHECK_IDS)})")
        return value

    def evaluate(self, result: ScanResult) -> PolicyVerdict:
        """Apply every rule; the verdict passes only if all findings pass."""
        findings = [*self._clean(result), *self._robust(result), *self._checks(result)]
        return PolicyVerdict(
            source=self.source, passed=all(f.passed for f in findings), findings=findings
        )

    def _clean(self, result: ScanResult) -> list[PolicyFinding]:
        out = []
        if self.min_clean_accuracy is not None:
            acc = self._value(result.clean.accuracy.value, result.clean.accuracy.ci.low)
            out.append(
                _at_least("min_clean_accuracy", acc, self.min_clean_accuracy, "clean accuracy")
            )
        if self.max_ece is not None:
            ece, limit = result.clean.ece, self.max_ece
            out.append(
                PolicyFinding(
                    rule="max_ece",
                    passed=ece <= limit,
                    actual=ece,
                    threshold=limit,
                    message=f"clean ECE {ece:.3f} (max {limit:.3f})",
                )
            )
        return out

    def _robust(self, result: ScanResult) -> list[PolicyFinding]:
        out = []
        for rule in self.robust:
            norm = rule.norm or result.config.norm
            name = f"robust[{norm}:{rule.eps:.6g}]"
            match = [r for r in result.eps if abs(r.eps - rule.eps) <= _EPS_MATCH * rule.eps]
            if norm != result.config.norm or not match:
                out.append(
                    PolicyFinding(
                        rule=name,
                        passed=False,
                        threshold=rule.min_accuracy,
                        message=f"{norm} eps {rule.eps:.6g} was not scanned",
                    )
                )
                continue
            acc = self._value(match[0].robust.value, match[0].robust.ci.low)
            out.append(
                _at_least(
                    name, acc, rule.min_accuracy, f"robust accuracy at {norm} eps {rule.eps:.6g}"
                )
            )
        return out

    def _checks(self, result: ScanResult) -> list[PolicyFinding]:
        if self.checks == "none":
            return []
        wanted = None if self.checks == "all" else set(self.checks)
        if not result.checks:
            return [
                PolicyFinding(
                    rule="checks",
                    passed=False,
                    message="the policy requires sanity checks but none were run",
                )
            ]
        bad = {"FAIL", "WARN"} if self.fail_on_warn else {"FAIL"}
        return [
            PolicyFinding(
                rule=f"check:{c.id}",
                passed=c.status not in bad,
                actual=c.status,
                threshold="PASS" if self.fail_on_warn else "not FAIL",
                message=f"{c.title}: {c.status} - {c.summary}",
            )
            for c in result.checks
            if wanted is None or c.id in wanted
        ]

    def _value(self, point: float, lower: float) -> float:
        return lower if self.use_lower_bound else point


def _at_least(rule: str, actual: float, threshold: float, what: str) -> PolicyFinding:
    return PolicyFinding(
        rule=rule,
        passed=actual >= threshold,
        actual=actual,
        threshold=threshold,
        message=f"{what} {actual:.1%} (min {threshold:.1%})",
    )


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; every problem is one line naming the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: policy file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not a readable policy file ({exc})") from None
    return parse_policy(text, source=str(p))


def parse_policy(text: str, *, source: str) -> Policy:
    """Validate policy TOML text; ``source`` names it in errors and in the verdict."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: not a valid TOML policy ({exc})") from None
    unknown = set(raw) - {"policy"}
    if unknown or "policy" not in raw:
        what = f"unknown section {sorted(unknown)[0]!r}" if unknown else "no [policy] section"
        raise InputError(f"{source}: {what}")
    try:
        policy = Policy.model_validate(raw["policy"])
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in ("policy", *err["loc"]))
        reason = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise InputError(f"{source}: {reason} at {where}") from None
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    policy._source = source
    return policy
