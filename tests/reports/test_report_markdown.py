"""The Markdown summary: headline table, checks with fixes, policy verdict."""

from __future__ import annotations

from pathlib import Path

from redline.reports import render_markdown, write_markdown
from redline.reports._format import fmt_ci, fmt_pct
from redline.results import ScanResult


def test_headline_table(image_result: ScanResult) -> None:
    md = render_markdown(image_result)
    lines = md.splitlines()
    header = lines.index("| | accuracy | 95% CI (Wilson) | attack success | n |")
    assert lines[header + 1] == "|---|---:|---:|---:|---:|"
    assert lines[header + 2].startswith(f"| clean | {fmt_pct(image_result.clean.accuracy.value)}")
    for r, line in zip(image_result.eps, lines[header + 3 : header + 6], strict=True):
        assert fmt_pct(r.robust.value) in line and fmt_ci(r.robust) in line


def test_checks_and_policy(image_result: ScanResult) -> None:
    md = render_markdown(image_result)
    assert "**Policy (policies/release.yaml):** FAIL, 2 of 3 rules failed" in md
    assert "- `robust_accuracy@8/255`: robust accuracy 10.6% at 8/255 is below 40%" in md
    assert "1 FAIL, 1 WARN, 2 PASS, 1 SKIP" in md
    fail = md.index("| FAIL | `blackbox-vs-whitebox`")
    assert fail < md.index("| WARN |") < md.index("| PASS |") < md.index("| SKIP |")
    assert "*Fix:* Evaluate with BPDA/EOT" in md


def test_minimal_result(tabular_result: ScanResult, tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    write_markdown(tabular_result, path)
    md = path.read_text(encoding="utf-8")
    assert "**Policy:** none given." in md
    assert "| L2 ε = 0.2 | **17.5%** |" in md
    assert "model sha256 `n/a`" in md


def test_pipes_escaped(image_result: ScanResult) -> None:
    check = image_result.checks[0].model_copy(update={"summary": "a | b"})
    md = render_markdown(image_result.model_copy(update={"checks": [check]}))
    assert "a \\| b" in md


def test_headline_sentence_names_its_eps(tabular_result: ScanResult) -> None:
    md = render_markdown(tabular_result)
    assert "Under L2 attacks (fast suite) at ε = 0.2 (the largest ε scanned), accuracy falls" in md
    assert md.index("Under L2 attacks") < md.index("| | accuracy |")
    assert "Under" not in render_markdown(tabular_result.model_copy(update={"eps": []}))
