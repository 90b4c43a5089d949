"""The user guides' examples run, in order, in one namespace per guide."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
EXPECTED = {
    "guide.md": ("robust accuracy", "gate passed: False"),
    "backdoors.md": ("suspicious classes: [0]", "trojaned -", "DER"),
    "hardening.md": (
        "registered digits@2 from digits@1 - pgd-at",
        "compare gate: exit 0",
        "robust at 0.1: better",
        "certified accuracy at L2 radius 0.25:",
    ),
    "registry.md": (
        "refused: fraud@1 not promoted",
        "rolled back fraud@1 -> fraud@2",
        "resolve -> resolved retrained",
        "# Model card: fraud@2",
        "audit chain intact: True",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_guide_examples_run(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    guide = DOCS / name
    blocks = re.findall(r"```python\n(.*?)```", guide.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 5
    namespace: dict[str, object] = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{guide.name}[block {i}]", "exec"), namespace)
    out = capsys.readouterr().out
    assert all(text in out for text in EXPECTED[name]), out
