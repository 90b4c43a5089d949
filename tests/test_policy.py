"""Policy files: parsing, one-line errors, and verdicts on a real scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.errors import InputError
from redline.evaluation import ScanResult
from redline.policy import Policy, load_policy


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "redline.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_full_policy(tmp_path: Path) -> None:
    policy = load_policy(
        _write(
            tmp_path,
            """
[policy]
min_clean_accuracy = 0.9
max_ece = 0.2
checks = ["gradients", "validity"]
fail_on_warn = true
use_lower_bound = true
[[policy.robust]]
eps = "8/255"
min_accuracy = 0.4
norm = "linf"
""",
        )
    )
    assert policy.robust[0].eps == pytest.approx(8 / 255)
    assert policy.checks == ["gradients", "validity"]
    assert policy.source is not None and policy.source.endswith("redline.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[policy]\nmin_clean_acuracy = 0.9\n", "unknown key at policy.min_clean_acuracy"),
        (
            "[policy]\n[[policy.robust]]\neps = 0.1\nmin_accuracy = 0.5\ntypo = 1\n",
            "unknown key at policy.robust.0.typo",
        ),
        ("[polcy]\nmax_ece = 0.1\n", "unknown section 'polcy'"),
        ("max_ece = 0.1\n", "unknown section 'max_ece'"),
        ("", r"no \[policy\] section"),
        ("[policy\n", "not a valid TOML policy"),
        ("[policy]\n[[policy.robust]]\neps = 0\nmin_accuracy = 0.5\n", "eps must be > 0"),
        ("[policy]\nchecks = 'some'\n", "policy.checks"),
        ("[policy]\nchecks = ['gradient']\n", "unknown check 'gradient'"),
        ("[policy]\nsource = 'x'\n", "unknown key at policy.source"),
    ],
)
def test_bad_policy_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        load_policy(_write(tmp_path, text))
    assert "\n" not in str(info.value)
    assert "redline.toml" in str(info.value)


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="policy file not found"):
        load_policy(tmp_path / "nope.toml")


def test_verdict_passes_and_fails_on_thresholds(digits_scan: ScanResult) -> None:
    clean = digits_scan.clean.accuracy.value
    at = digits_scan.eps[1]
    ok = Policy(
        min_clean_accuracy=clean - 0.01,
        checks="none",
        robust=[{"eps": at.eps, "min_accuracy": at.robust.value}],
    )  # type: ignore[list-item]
    assert ok.evaluate(digits_scan).passed
    strict = Policy(
        min_clean_accuracy=clean + 0.01,
        checks="none",
        robust=[{"eps": at.eps, "min_accuracy": at.robust.value + 0.01}],
    )  # type: ignore[list-item]
    verdict = strict.evaluate(digits_scan)
    assert not verdict.passed
    assert [f.passed for f in verdict.findings] == [False, False]


def test_lower_bound_is_stricter(digits_scan: ScanResult) -> None:
    value = digits_scan.clean.accuracy.value
    assert Policy(min_clean_accuracy=value, checks="none").evaluate(digits_scan).passed
    lower = Policy(min_clean_accuracy=value, checks="none", use_lower_bound=True)
    assert not lower.evaluate(digits_scan).passed


def test_unscanned_eps_fails_instead_of_passing(digits_scan: ScanResult) -> None:
    policy = Policy(checks="none", robust=[{"eps": 0.777, "min_accuracy": 0.0}])  # type: ignore[list-item]
    verdict = policy.evaluate(digits_scan)
    assert not verdict.passed
    assert "was not scanned" in verdict.findings[0].message
    other_norm = Policy(checks="none", robust=[{"eps": 0.1, "min_accuracy": 0.0, "norm": "l2"}])  # type: ignore[list-item]
    assert not other_norm.evaluate(digits_scan).passed


def test_checks_rule_follows_status(digits_scan: ScanResult) -> None:
    statuses = {c.id: c.status for c in digits_scan.checks}
    verdict = Policy(checks="all").evaluate(digits_scan)
    assert verdict.passed == ("FAIL" not in statuses.values())
    no_checks = digits_scan.model_copy(update={"checks": []})
    assert not Policy(checks="all").evaluate(no_checks).passed
    assert Policy(checks="none").evaluate(no_checks).passed


def test_check_ids_match_the_checks_run(digits_scan: ScanResult) -> None:
    from redline.evaluation._checks_base import CHECK_IDS

    assert tuple(c.id for c in digits_scan.checks) == CHECK_IDS


def _section(anomaly: list[float], suspicious: list[int]) -> object:
    from redline.results import (
        BackdoorSection,
        DataDetection,
        Histogram,
        ModelDetection,
    )

    hist = Histogram(edges=[0.0, 1.0], groups={"all": [3]})
    data = DataDetection(
        detector="spectral",
        layer="4",
        n=3,
        flagged=len(suspicious),
        suspicious_classes=suspicious,
        classes=[],
        histogram=hist,
        top=[],
        seconds=0.1,
    )
    model = ModelDetection(
        detector="neural-cleanse",
        anomaly_index=anomaly,
        mask_l1=anomaly,
        flagged_classes=[],
        threshold=2.0,
        triggers=[],
        details={},
        seconds=0.1,
    )
    return BackdoorSection(verdict="clean", summary="", data=[data], model=model)


def test_backdoor_rules(tmp_path: Path, digits_scan: ScanResult) -> None:
    policy = load_policy(
        _write(
            tmp_path,
            """
[policy]
checks = "none"
[policy.backdoor]
max_anomaly_index = 2.0
max_suspicious_classes = 0
""",
        )
    )
    missing = policy.evaluate(digits_scan)
    assert not missing.passed
    assert all("not measured" in f.message for f in missing.findings)
    clean = digits_scan.model_copy(update={"backdoor": _section([1.1, 0.4], [])})
    assert policy.evaluate(clean).passed
    trojan = digits_scan.model_copy(update={"backdoor": _section([1.1, 3.7], [0])})
    verdict = policy.evaluate(trojan)
    assert [f.passed for f in verdict.findings] == [False, False]


def test_backdoor_rules_reject_unknown_keys(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"unknown key at policy\.backdoor\.max_anomaly"):
        load_policy(_write(tmp_path, "[policy.backdoor]\nmax_anomaly = 2\n"))
