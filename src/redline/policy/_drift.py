"""``[policy.drift]``: the rules a drift run is held to (its FDR, numeric test and effect
thresholds) and how many alarms the gate tolerates (none, by default)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from redline.results import DriftResult, PolicyFinding

__all__ = ["DriftRules", "drift_findings"]


class DriftRules(BaseModel):
    """Settings of ``redline monitor drift`` and its gate; unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alpha: float = 0.05
    numeric_test: Literal["ks", "cvm"] = "ks"
    wasserstein: float | None = None
    tvd: float | None = None
    missing_share: float | None = None
    auc: float | None = None
    mmd2: float | None = None
    max_alarms: int = 0

    def thresholds(self) -> dict[str, float]:
        """The effect thresholds set here (the others keep their defaults)."""
        named = {
            "wasserstein": self.wasserstein,
            "tvd": self.tvd,
            "missing-share": self.missing_share,
            "auc": self.auc,
            "mmd2": self.mmd2,
        }
        return {k: v for k, v in named.items() if v is not None}


def drift_findings(rules: DriftRules | None, result: DriftResult) -> list[PolicyFinding]:
    """The gate: at most ``max_alarms`` confirmed alarms."""
    limit = 0 if rules is None else rules.max_alarms
    found = len(result.alarms)
    names = ", ".join(f.key for f in result.alarms[:5])
    return [
        PolicyFinding(
            rule="drift.max_alarms", passed=found <= limit, actual=float(found),
            threshold=float(limit),
            message=f"{found} drift alarm(s) (max {limit})" + (f": {names}" if names else ""),
        )
    ]  # fmt: skip
