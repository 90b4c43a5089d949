"""``redline scan --corruptions`` on an image model: the natural-shift section in the
result, the report (looked at in Chromium) and the policy gate; bad specs exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch

from redline.cli.main import run

if TYPE_CHECKING:
    from tests.conftest import Trained


@pytest.fixture(scope="module")
def weights(digits_cnn: Trained, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shift") / "cnn.pt"
    torch.save(digits_cnn.module.state_dict(), path)
    return path


def _args(weights: Path, out: Path, *extra: str) -> list[str]:
    return [
        "scan", "--model", "redline.zoo:small_cnn", "--weights", str(weights),
        "--data", "bundled:digits:test", "--threat", "linf:0.1", "--suite", "fgsm",
        "--limit", "60", "--no-minimal", "--no-checks", "--no-progress", "--out", str(out),
        *extra,
    ]  # fmt: skip


def test_corruptions_are_measured_reported_and_gated(weights: Path, tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text(
        "[policy]\nchecks = 'none'\n[[policy.corruption]]\nname = 'contrast'\nseverity = 5\n"
        "min_accuracy = 0.9\n"
    )
    out = tmp_path / "r"
    spec = "contrast,gaussian_noise:1,5"
    assert run(_args(weights, out, "--corruptions", spec, "--policy", str(policy))) == 1
    result = json.loads((out / "scan.json").read_text())
    shift = result["natural_shift"]
    assert result["schema_version"] == "1.5" and shift["kind"] == "image"
    assert [r["name"] for r in shift["rows"]] == ["contrast", "gaussian_noise"]
    assert all([lv["severity"] for lv in r["levels"]] == [1, 5] for r in shift["rows"])
    assert shift["clean"] == result["clean"]["accuracy"]  # the same 60 samples
    contrast5 = shift["rows"][0]["levels"][1]["accuracy"]["value"]
    # worst over 5 seeds x 3 kernels: 0.10-0.25 at contrast 5 (clean 0.97-0.98)
    assert contrast5 < 0.5
    finding = next(f for f in result["policy"]["findings"] if f["rule"] == "corruption[contrast:5]")
    assert not finding["passed"] and finding["actual"] == pytest.approx(contrast5)
    assert "Natural shift" in (out / "summary.md").read_text()


@pytest.mark.browser
def test_the_heat_map_in_a_real_browser(weights: Path, tmp_path: Path) -> None:
    from tests.reports.test_report_browser import FLAGS, _chromium, _run

    out = tmp_path / "r"
    assert run(_args(weights, out, "--corruptions", "all:1,3,5")) == 0
    chromium = _chromium()
    base = [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,3000"]
    dom = _run([*base, "--dump-dom", (out / "report.html").as_uri()])
    assert 'id="natural-shift"' in dom and 'href="#natural-shift"' in dom
    assert dom.count('class="num heat-cell"') == 10 * 3  # ten corruptions x three severities
    assert "elastic_transform" in dom and "Mean shifted accuracy" in dom


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fog", "unknown corruption 'fog'"),
        ("contrast:7", "must be in 1..5"),
        ("contrast:x", "must be integers"),
    ],
)
def test_bad_corruption_specs_exit_2(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, message: str
) -> None:
    out = tmp_path / "r"
    capsys.readouterr()
    assert run(_args(weights, out, "--corruptions", spec)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()
