"""``redline report SCAN_JSON``: where it writes, and that it never replaces a report silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from redline.cli.main import run
from redline.evaluation import scan
from redline.reports import REPORT_FILES
from redline.targets import TorchTarget


@pytest.fixture(scope="module")
def scan_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, tiny scan (a linear model on 40 points, FGSM, two eps) saved as scan.json."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(40, 4, generator=gen)
    y = (x[:, 0] > x[:, 1]).long()
    model = nn.Sequential(nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[-4.0, 4.0, 0, 0], [4.0, -4.0, 0, 0]]))
        model[0].bias.zero_()
    result = scan(
        TorchTarget(model.eval()), x.numpy(), y.numpy(), threat="linf", eps=[0.05, 0.5],
        suite="fgsm", minimal=False, checks=False,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("scan") / "scan.json"
    result.to_json(path)
    return path


def _policy(tmp_path: Path, min_clean: float) -> Path:
    path = tmp_path / f"p{min_clean}.toml"
    path.write_text(f"[policy]\nchecks = 'none'\nmin_clean_accuracy = {min_clean}\n")
    return path


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("redline: error:"), err
    return err


def test_existing_default_report_is_refused(
    scan_json: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["report", str(scan_json)]) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "redline-report").iterdir()}
    capsys.readouterr()
    assert run(["report", str(scan_json), "--policy", str(_policy(tmp_path, 0.5))]) == 2
    err = _error(capsys)
    assert "redline-report: a report is already there" in err and "--force" in err
    after = {p.name: p.read_bytes() for p in (tmp_path / "redline-report").iterdir()}
    assert after == before


def test_force_replaces_the_report(scan_json: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert run(["report", str(scan_json), "--out", str(out)]) == 0
    assert json.loads((out / "scan.json").read_text())["policy"] is None
    strict = _policy(tmp_path, 1.01)
    args = ["report", str(scan_json), "--out", str(out), "--policy", str(strict)]
    assert run([*args, "--force"]) == 1  # the new policy fails: re-judged, and written
    assert json.loads((out / "scan.json").read_text())["policy"]["passed"] is False
    assert sorted(p.name for p in out.iterdir()) == sorted(REPORT_FILES)


def test_force_never_deletes_other_files(
    scan_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo's folder holds its model and policy: re-rendering into it would drop them."""
    out = tmp_path / "demo"
    assert run(["report", str(scan_json), "--out", str(out)]) == 0
    (out / "model.pt").write_bytes(b"weights")
    capsys.readouterr()
    assert run(["report", str(out / "scan.json"), "--out", str(out), "--force"]) == 2
    assert "--force would also delete model.pt" in _error(capsys)
    assert (out / "model.pt").read_bytes() == b"weights"


def test_summary_lists_every_file_written(
    scan_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "listed"
    assert run(["report", str(scan_json), "--out", str(out)]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert f"({', '.join(REPORT_FILES)})" in err and "summary.md" in err


def test_help_documents_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["report", "rebuild", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--force" in text and "never replaced silently" in text
