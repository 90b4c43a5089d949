"""The public API is pinned: changing it must be a deliberate act."""

from __future__ import annotations

import subprocess
import sys

import redline
import redline.attacks
import redline.evaluation
import redline.results
import redline.results.metrics


def test_top_level_names() -> None:
    assert redline.__all__ == [
        "CallableTarget",
        "InputError",
        "Policy",
        "RedlineError",
        "ScanResult",
        "Target",
        "TorchTarget",
        "__version__",
        "load_policy",
        "scan",
        "scan_backdoor",
    ]
    for name in redline.__all__:
        assert getattr(redline, name) is not None


def test_attack_names() -> None:
    assert sorted(redline.attacks.__all__) == sorted(
        [
            "APGD",
            "APGDT",
            "Adversarial",
            "Attack",
            "AttackResult",
            "CarliniWagner",
            "FGSM",
            "FMN",
            "HopSkipJump",
            "Norm",
            "PGD",
            "SchemaSpace",
            "Square",
        ]
    )


def test_cli_help_does_not_import_torch() -> None:
    code = "import redline.cli.main, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_results_names() -> None:
    """The ground floor's schema: every layer imports these names from here."""
    assert redline.results.__all__ == [
        "CHECK_IDS",
        "DRIFT_SCHEMA_VERSION",
        "SCHEMA_VERSION",
        "Accuracy",
        "AttackConfig",
        "AttackStats",
        "BackdoorSection",
        "BlindSpot",
        "CertifiedPoint",
        "CertifiedSection",
        "CheckResult",
        "CheckStatus",
        "CleanResult",
        "Cost",
        "CurvePoint",
        "DataDetection",
        "DataInfo",
        "DetectorClass",
        "Distribution",
        "DriftFinding",
        "DriftResult",
        "DriftSettings",
        "Effect",
        "Environment",
        "EpsResult",
        "Example",
        "FeatureChange",
        "FeatureHarm",
        "GroupAccuracy",
        "Histogram",
        "Interval",
        "MinimalPerturbation",
        "ModelDetection",
        "NaturalShiftSection",
        "PerformanceEstimate",
        "PoisonInfo",
        "PolicyFinding",
        "PolicyVerdict",
        "Reliability",
        "RepairSummary",
        "ReversedTrigger",
        "Samples",
        "ScanConfig",
        "ScanResult",
        "SchemaSummary",
        "ShiftLevel",
        "ShiftRow",
        "SliceGap",
        "SliceShift",
        "StripSummary",
        "TabularExample",
        "TabularSection",
        "TargetInfo",
        "UnconstrainedPoint",
        "WindowInfo",
        "load_result",
        "parse_eps",
        "result_from_dict",
        "slice_gap",
        "wilson",
    ]
    assert redline.results.metrics.__all__ == [
        "accuracy",
        "ece",
        "group_accuracies",
        "reliability",
        "wilson",
    ]
    assert redline.ScanResult is redline.results.ScanResult is redline.evaluation.ScanResult


def test_results_import_no_math_and_no_page() -> None:
    """Reading a result (policy, registry, reports) must not pull torch, numpy or a page."""
    code = (
        "import redline.results, redline.policy, sys; "
        "print(sorted(m for m in ('torch', 'numpy', 'sklearn', 'redline.reports', "
        "'redline.evaluation') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
