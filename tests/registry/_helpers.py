"""Small builders shared by the registry tests: weights files and scan verdicts."""

from __future__ import annotations

from pathlib import Path

from redline.evaluation import ScanResult
from redline.registry import Store, record_scan, register
from redline.results import PolicyFinding, PolicyVerdict


def judged(result: ScanResult, passed: bool) -> ScanResult:
    """``result`` carrying a policy verdict, detached from the weights it measured (so
    it can be filed under any version)."""
    finding = PolicyFinding(rule="robust@0.1", passed=passed, message="made up")
    verdict = PolicyVerdict(source="redline.toml", passed=passed, findings=[finding])
    target = result.target.model_copy(update={"sha256": None})
    return result.model_copy(update={"policy": verdict, "target": target})


def versions(
    store: Store, tmp_path: Path, base: ScanResult, name: str, verdicts: list[bool | None]
) -> None:
    """Register one version per verdict; scan it with that verdict (None: not scanned)."""
    for i, passed in enumerate(verdicts, start=1):
        path = tmp_path / f"{name}-{i}.pt"
        path.write_bytes(f"{name} weights {i}".encode())
        info = register(store, name, path, actor="ana")
        if passed is not None:
            record_scan(store, info.ref, judged(base, passed), actor="ci")
