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

    [[policy.certified]]      # needs redline scan --certify (randomized smoothing)
    radius = 0.25             # L2
    min_accuracy = 0.50

    [[policy.corruption]]     # needs redline scan --corruptions (natural shift)
    name = "mean"             # "mean" (default: every shift), or one shift's name
    severity = 3              # optional: that severity only (else the mean over them)
    min_accuracy = 0.80       # and/or
    max_drop = 0.10           # clean accuracy minus it, a share

    [policy.slices]
    max_gap = 0.15            # best minus worst slice: clean, every eps, natural shift

    [policy.drift]            # redline monitor drift
    alpha = 0.05              # false discovery rate (Benjamini-Hochberg)
    wasserstein = 0.1         # smallest effect that may alarm (also tvd, missing_share,
    max_alarms = 0            # auc, mmd2); the gate: confirmed alarms tolerated

    [policy.backdoor]
    max_anomaly_index = 2.0
    max_suspicious_classes = 0
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError, field_validator

from redline.errors import InputError
from redline.policy._drift import DriftRules, drift_findings
from redline.policy._shift import (
    CorruptionRule,
    SliceRules,
    at_least,
    corruption_findings,
    slice_findings,
)
from redline.results import (
    CHECK_IDS,
    BackdoorSection,
    DriftResult,
    PolicyFinding,
    PolicyVerdict,
    ScanResult,
    parse_eps,
)

__all__ = [
    "BackdoorRules",
    "CertifiedRule",
    "CorruptionRule",
    "DriftRules",
    "Policy",
    "RobustRule",
    "SliceRules",
    "load_policy",
    "parse_policy",
]

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


class CertifiedRule(_Strict):
    """Minimum certified accuracy (randomized smoothing, a guarantee) at one L2 radius."""

    radius: float
    min_accuracy: float

    @field_validator("radius", mode="before")
    @classmethod
    def _radius(cls, value: object) -> float:
        return parse_eps(str(value))


class BackdoorRules(_Strict):
    """Backdoor thresholds: how much of a trojan the gate tolerates (none, by default)."""

    max_anomaly_index: float | None = None
    """Neural Cleanse: the largest anomaly index allowed (2.0 is the paper's cut-off)."""
    max_suspicious_classes: int | None = None
    """Training-data detectors: classes that may be judged poisoned."""
    max_strip_far: float | None = None
    """STRIP: largest share of triggered inputs the guard may let through (needs a
    poisoned test set with a known trigger)."""
    max_asr_after_repair: float | None = None


class Policy(_Strict):
    """Thresholds a scan must meet; unknown keys are rejected (a typo must not pass a gate)."""

    min_clean_accuracy: float | None = None
    max_ece: float | None = None
    robust: list[RobustRule] = []
    certified: list[CertifiedRule] = []
    corruption: list[CorruptionRule] = []
    slices: SliceRules | None = None
    checks: Literal["all", "none"] | list[str] = "all"
    fail_on_warn: bool = False
    use_lower_bound: bool = False
    backdoor: BackdoorRules | None = None
    drift: DriftRules | None = None
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
        findings = [
            *self._clean(result),
            *self._robust(result),
            *self._certified(result),
            *corruption_findings(self.corruption, result, self.use_lower_bound),
            *slice_findings(self.slices, result, self.use_lower_bound),
            *self._checks(result),
            *_backdoor_findings(self.backdoor, result),
        ]
        return PolicyVerdict(
            source=self.source, passed=all(f.passed for f in findings), findings=findings
        )

    def evaluate_drift(self, result: DriftResult) -> PolicyVerdict:
        """The ``[policy.drift]`` gate on a drift run (no alarm allowed by default)."""
        findings = drift_findings(self.drift, result)
        return PolicyVerdict(
            source=self.source, passed=all(f.passed for f in findings), findings=findings
        )

    def _clean(self, result: ScanResult) -> list[PolicyFinding]:
        out = []
        if self.min_clean_accuracy is not None:
            acc = self._value(result.clean.accuracy.value, result.clean.accuracy.ci.low)
            out.append(
                at_least("min_clean_accuracy", acc, self.min_clean_accuracy, "clean accuracy")
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
                at_least(
                    name, acc, rule.min_accuracy, f"robust accuracy at {norm} eps {rule.eps:.6g}"
                )
            )
        return out

    def _certified(self, result: ScanResult) -> list[PolicyFinding]:
        """Certified accuracy at each rule's radius, from the per-sample certificates."""
        out, section = [], result.certified
        for rule in self.certified:
            name = f"certified[l2:{rule.radius:.6g}]"
            if section is None:
                message = "certified accuracy was not measured (run redline scan --certify)"
                missing = PolicyFinding(
                    rule=name, passed=False, threshold=rule.min_accuracy, message=message
                )
                out.append(missing)
                continue
            acc = section.accuracy_at(rule.radius)
            what = f"certified accuracy (guarantee) at L2 radius {rule.radius:.6g}"
            out.append(at_least(name, self._value(acc.value, acc.ci.low), rule.min_accuracy, what))
        return out

    def _checks(self, result: ScanResult) -> list[PolicyFinding]:
        if self.checks == "none" or result.config.norm is None:
            return []  # no evasion part (backdoor checks only): nothing for them to judge
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


def _backdoor_findings(rules: BackdoorRules | None, result: ScanResult) -> list[PolicyFinding]:
    """Apply the ``[policy.backdoor]`` rules; a rule whose evidence is missing fails."""
    if rules is None:
        return []
    section = result.backdoor
    wanted = {
        "max_anomaly_index": (rules.max_anomaly_index, _anomaly(section)),
        "max_suspicious_classes": (rules.max_suspicious_classes, _suspicious(section)),
        "max_strip_far": (
            rules.max_strip_far,
            section.strip.far if section and section.strip else None,
        ),
        "max_asr_after_repair": (
            rules.max_asr_after_repair,
            section.repair.asr_after if section and section.repair else None,
        ),
    }
    out = []
    for rule, (limit, actual) in wanted.items():
        if limit is None:
            continue
        name = f"backdoor.{rule}"
        if actual is None:
            out.append(
                PolicyFinding(
                    rule=name,
                    passed=False,
                    threshold=limit,
                    message=f"{name}: the evidence was not measured in this scan",
                )
            )
            continue
        out.append(
            PolicyFinding(
                rule=name,
                passed=actual <= limit,
                actual=actual,
                threshold=limit,
                message=f"{name}: {actual:.3g} (max {limit:.3g})",
            )
        )
    return out


def _anomaly(section: BackdoorSection | None) -> float | None:
    if section is None or section.model is None:
        return None
    return max(section.model.anomaly_index, default=0.0)


def _suspicious(section: BackdoorSection | None) -> float | None:
    if section is None or not section.data:
        return None
    return float(len({c for d in section.data for c in d.suspicious_classes}))


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
