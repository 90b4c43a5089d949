"""``redline certify``: the certified-accuracy table (labelled as a guarantee), the JSON
file matching the library, and every bad input a one-line exit 2 with nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import torch
from tests.conftest import seeded

from redline.cli import main
from redline.datasets import load_breast_cancer
from redline.defenses import SmoothedClassifier, certify_dataset, gaussian_augment_train
from redline.zoo import digits_cnn, mlp

Run = Callable[[Sequence[str]], int]
GUARANTEE = "certified (guarantee, 1-alpha per sample)"
DATA = ["--data", "bundled:breast_cancer:test"]
FAST = ["--sigma", "0.25", "--n", "200", "--n0", "20"]


@pytest.fixture
def cli() -> Run:
    """``redline.cli.main.run``, where ``certify`` is registered."""
    assert any(c.name == "certify" for c in main.app.registered_commands)
    return main.run


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The breast_cancer MLP after a few epochs under N(0, 0.25^2) noise."""
    train = load_breast_cancer("train")
    x, y = torch.as_tensor(train.x), torch.as_tensor(train.y)

    def batches(epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seeded(epoch)))
        for start in range(0, len(x), 64):
            yield x[order[start : start + 64]], y[order[start : start + 64]]

    torch.manual_seed(seeded(0))
    module = mlp()
    gaussian_augment_train(module, batches, sigma=0.25, epochs=15, seed=seeded(0))
    path = tmp_path_factory.mktemp("certify") / "mlp.pt"
    torch.save(module.state_dict(), path)
    return path


def _model(weights: Path) -> list[str]:
    return ["--model", "redline.zoo:mlp", "--weights", str(weights)]


def test_certify_prints_the_guarantee_and_writes_the_library_result(
    cli: Run, weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, page = tmp_path / "cert.json", tmp_path / "cert.html"
    assert (
        cli(["certify", *_model(weights), *DATA, *FAST, "--out", str(out), "--report", str(page)])
        == 0
    )
    err = capsys.readouterr().err
    html = page.read_text()
    assert GUARANTEE in html and "not an empirical robust accuracy" in html and "<svg" in html
    assert GUARANTEE in err and "L2 radius" in err and "certified accuracy" in err
    assert "not an empirical robust accuracy" in err and "abstained" in err
    saved = json.loads(out.read_text())
    assert saved["kind"] == "certified" and saved["guarantee"].startswith(GUARANTEE)
    assert saved["settings"] == {"sigma": 0.25, "n0": 20, "n": 200, "alpha": 0.001}
    assert saved["data"]["source"] == "bundled:breast_cancer[test]" and saved["samples"] == 114
    assert saved["model"]["sha256"] and saved["forward_passes"] == 114 * 220
    accuracies = [p["certified_accuracy"] for p in saved["curve"]]
    assert accuracies == sorted(accuracies, reverse=True) and accuracies[1] > 0.3
    module = mlp()
    module.load_state_dict(torch.load(weights, weights_only=True))
    test = load_breast_cancer("test")
    expected = certify_dataset(SmoothedClassifier(module, 0.25), test.x, test.y, n0=20, n=200)
    assert saved["per_sample"]["radius"] == list(expected.radii)
    assert saved["per_sample"]["prediction"] == list(expected.predictions)


def test_without_out_nothing_is_written(
    cli: Run, weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["certify", *_model(weights), *DATA, *FAST, "--limit", "5", "--batch-size", "7"]
    assert cli(args) == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sigma", "0"], "sigma must be in (0, 10]"),
        (["--sigma", "-1"], "sigma must be in (0, 10]"),
        (["--sigma", "10.5"], "sigma must be in (0, 10]"),
        (["--n", "0"], "n and n0 must be >= 1"),
        (["--n0", "0"], "n and n0 must be >= 1"),
        (["--alpha", "0"], "alpha must be in (0, 0.5)"),
        (["--alpha", "0.5"], "alpha must be in (0, 0.5)"),
        (["--batch-size", "0"], "--batch-size must be >= 1"),
        (["--limit", "0"], "--limit must be >= 1"),
        (["--bounds", "1,0"], "bounds must satisfy low < high"),
        (["--data", "missing.npz"], "missing.npz"),
        (["--data", "bundled:nope"], "unknown bundled data set"),
    ],
)
def test_bad_inputs_exit_2_in_one_line_and_write_nothing(
    cli: Run,
    weights: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    out = tmp_path / "cert.json"
    args = ["certify", *_model(weights), *DATA, *FAST, *extra, "--out", str(out)]
    assert cli(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []


def test_unknown_weights_and_out_folders_exit_2(
    cli: Run, weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = ["--model", "redline.zoo:mlp", "--weights", str(tmp_path / "nope.pt")]
    assert cli(["certify", *missing, *DATA, *FAST]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    for out in (tmp_path, tmp_path / "no" / "cert.json"):
        assert cli(["certify", *_model(weights), *DATA, *FAST, "--out", str(out)]) == 2
        assert "--out" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_data_that_does_not_fit_the_model_exits_2(
    cli: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights, out = tmp_path / "cnn.pt", tmp_path / "cert.json"
    torch.save(digits_cnn().state_dict(), weights)
    model = ["--model", "redline.zoo:digits_cnn", "--weights", str(weights)]
    assert cli(["certify", *model, *DATA, *FAST, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model failed on inputs of shape (30,)" in err
    assert not out.exists()


def test_the_command_module_does_not_import_torch() -> None:
    code = "import redline.cli.certify, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
