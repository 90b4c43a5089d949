"""Formatting helpers shared by every report."""

from __future__ import annotations

import pytest

from redline.reports._format import (
    fmt_eps,
    fmt_num,
    fmt_pct,
    fmt_value,
    sorted_checks,
    status_counts,
)
from redline.results import ScanResult


@pytest.mark.parametrize(
    ("eps", "text"),
    [
        (8 / 255, "8/255"),
        (1 / 255, "1/255"),
        (0.5, "0.5"),
        (0.2, "0.2"),
        (0.0, "0"),
        (0.0314, "0.0314"),
    ],
)
def test_fmt_eps(eps: float, text: str) -> None:
    assert fmt_eps(eps) == text


def test_numbers() -> None:
    assert fmt_pct(0.9752) == "97.5%" and fmt_pct(None) == "—"
    assert fmt_num(470000) == "470,000" and fmt_num(0.031372) == "0.03137"
    assert fmt_num(None) == "—" and fmt_num(2.5e-5) == "2.500e-05"
    assert fmt_value(True) == "yes" and fmt_value(None) == "none"
    assert fmt_value(list(range(20))).endswith("… (20 items)]")
    assert len(fmt_value("x" * 500)) == 160


def test_check_order_and_counts(image_result: ScanResult) -> None:
    ordered = sorted_checks(image_result.checks)
    assert [c.status for c in ordered] == ["FAIL", "WARN", "PASS", "PASS", "SKIP"]
    assert ordered[2].id == "eps-monotone"  # stable within a status
    assert status_counts(image_result.checks) == {"FAIL": 1, "WARN": 1, "PASS": 2, "SKIP": 1}
