"""Policy rules on natural shift and slices: thresholds on the mean or one shift, drops
from clean, slice gaps, and rules whose evidence was not collected fail."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from redline import CallableTarget
from redline.errors import InputError
from redline.evaluation import ScanResult, image_shift
from redline.policy import parse_policy
from redline.results import GroupAccuracy
from redline.results.metrics import accuracy


def _findings(text: str, result: ScanResult) -> dict[str, bool]:
    verdict = parse_policy("[policy]\nchecks = 'none'\n" + text, source="p.toml").evaluate(result)
    return {f.rule: f.passed for f in verdict.findings}


@pytest.fixture(scope="module")
def shifted(digits_scan: ScanResult) -> ScanResult:
    """The digits scan with an exact natural-shift section: a model that always answers
    class 1 is right on exactly the 1s (40% here), under every corruption."""
    x = np.random.default_rng(0).uniform(0, 1, (30, 1, 8, 8)).astype(np.float32)
    y = np.array([1] * 12 + [0] * 18)
    target = CallableTarget(lambda b: torch.tensor([[0.0, 1.0]]).repeat(len(b), 1))
    groups = np.array(["a"] * 15 + ["b"] * 15)
    section = image_shift(target, x, y, corruptions=["contrast"], severities=[1, 3], groups=groups)
    return digits_scan.model_copy(update={"natural_shift": section})


def test_corruption_rules_judge_the_mean_a_row_and_a_severity(shifted: ScanResult) -> None:
    found = _findings(
        """
[[policy.corruption]]
min_accuracy = 0.35
max_drop = 0.0
[[policy.corruption]]
name = "contrast"
severity = 3
min_accuracy = 0.45
[[policy.corruption]]
name = "elastic_transform"
min_accuracy = 0.1
""",
        shifted,
    )
    assert found == {
        "corruption[mean]": True,  # 40% >= 35%
        "corruption[mean].max_drop": True,  # clean is 40% too: no drop
        "corruption[contrast:3]": False,  # 40% < 45%
        "corruption[elastic_transform]": False,  # not run: fails, never passes
    }


def test_a_corruption_rule_without_the_stage_fails(digits_scan: ScanResult) -> None:
    found = _findings("[[policy.corruption]]\nmin_accuracy = 0.0\n", digits_scan)
    assert found == {"corruption[mean]": False}


def test_a_corruption_rule_needs_a_threshold() -> None:
    with pytest.raises(InputError, match="min_accuracy or max_drop"):
        parse_policy("[policy]\n[[policy.corruption]]\nname = 'mean'\n", source="p.toml")
    with pytest.raises(InputError, match="unknown key"):
        parse_policy("[policy]\n[[policy.corruption]]\nmin_acc = 0.5\n", source="p.toml")


def _sliced(result: ScanResult, a: tuple[int, int], b: tuple[int, int]) -> ScanResult:
    """``result`` with two clean slices of ``correct, n``."""
    groups = [
        GroupAccuracy(name=name, accuracy=accuracy(np.arange(n) < k))
        for name, (k, n) in (("a", a), ("b", b))
    ]
    clean = result.clean.model_copy(update={"per_slice": groups})
    return result.model_copy(update={"clean": clean, "eps": [], "natural_shift": None})


def test_slice_gap_rule_uses_the_point_or_the_pessimistic_bound(digits_scan: ScanResult) -> None:
    result = _sliced(digits_scan, (45, 50), (40, 50))  # 90% vs 80%: a 10-point gap
    assert _findings("[policy.slices]\nmax_gap = 0.12\n", result) == {"slices.max_gap[clean]": True}
    strict = "use_lower_bound = true\n[policy.slices]\nmax_gap = 0.12\n"
    assert _findings(strict, result) == {"slices.max_gap[clean]": False}  # upper bound ~24 pts
    assert _findings("[policy.slices]\nmax_gap = 0.05\n", result) == {
        "slices.max_gap[clean]": False
    }


def test_slice_rules_fail_without_slices_and_cover_the_shift(
    digits_scan: ScanResult, shifted: ScanResult
) -> None:
    assert _findings("[policy.slices]\nmax_gap = 1.0\n", digits_scan) == {
        "slices.max_gap": False  # no slices: nothing was measured, so the rule cannot pass
    }
    both = _sliced(shifted, (9, 10), (8, 10)).model_copy(
        update={"natural_shift": shifted.natural_shift}
    )
    found = _findings("[policy.slices]\nmax_gap = 0.5\n", both)
    assert found == {"slices.max_gap[clean]": True, "slices.max_gap[natural shift]": False}
