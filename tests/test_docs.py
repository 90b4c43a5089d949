"""The user guide's examples run, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide.md"


@pytest.mark.slow
def test_guide_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 5
    namespace: dict[str, object] = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{GUIDE.name}[block {i}]", "exec"), namespace)
    out = capsys.readouterr().out
    assert "robust accuracy" in out and "gate passed: False" in out


@pytest.mark.slow
def test_backdoor_guide_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    guide = GUIDE.with_name("backdoors.md")
    blocks = re.findall(r"```python\n(.*?)```", guide.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 5
    namespace: dict[str, object] = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{guide.name}[block {i}]", "exec"), namespace)
    out = capsys.readouterr().out
    assert "suspicious classes: [0]" in out and "trojaned -" in out and "DER" in out
