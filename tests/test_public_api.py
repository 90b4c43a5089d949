"""The public API is pinned: changing it must be a deliberate act."""

from __future__ import annotations

import subprocess
import sys

import redline
import redline.attacks
import redline.evaluation


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
            "Norm",
            "PGD",
            "Square",
        ]
    )


def test_cli_help_does_not_import_torch() -> None:
    code = "import redline.cli.main, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
