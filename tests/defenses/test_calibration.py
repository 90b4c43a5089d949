"""Temperature scaling: recovers a known temperature, lowers ECE and NLL without
touching accuracy, and the CLI writes a self-contained model scan can load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from redline import TorchTarget
from redline.cli.main import run
from redline.defenses import calibrate, fit_temperature
from redline.defenses._calibration import calibration_metrics
from redline.errors import InputError
from redline.targets import load_model
from redline.zoo import digits_cnn


def _overconfident(k: float, n: int = 6000) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels drawn from softmax(z): z is calibrated, z * k is k-times overconfident."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(n, 5, generator=gen) * 1.5
    y = torch.multinomial(torch.softmax(z, dim=1), 1, generator=gen).squeeze(1)
    return z * k, y


@pytest.mark.parametrize("k", [0.5, 3.0])
def test_the_fitted_temperature_undoes_known_miscalibration(k: float) -> None:
    logits, y = _overconfident(k)
    temperature = fit_temperature(logits, y)
    assert temperature == pytest.approx(k, rel=0.1)
    before, after = calibration_metrics(logits, y), calibration_metrics(logits / temperature, y)
    assert after.ece < before.ece / 2 and after.nll < before.nll
    assert after.accuracy == before.accuracy


def test_too_little_data_is_an_input_error() -> None:
    with pytest.raises(InputError, match="at least 2"):
        fit_temperature(torch.zeros(1, 3), torch.zeros(1, dtype=torch.long))


def test_calibrate_wraps_the_module_and_keeps_predictions(digits_cnn) -> None:  # type: ignore[no-untyped-def]
    scaled, result = calibrate(digits_cnn.target, digits_cnn.x, digits_cnn.y)
    with torch.no_grad():
        raw = digits_cnn.module(digits_cnn.x[:16])
        assert torch.allclose(scaled(digits_cnn.x[:16]), raw / result.temperature)
    assert result.after.nll <= result.before.nll + 1e-9
    assert result.after.accuracy == result.before.accuracy and result.n == len(digits_cnn.y)


@pytest.mark.parametrize("suffix", [".pt", ".pt2"])
def test_cli_writes_a_model_scan_loads_without_a_factory(
    tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.manual_seed(0)
    weights, out, page = tmp_path / "w.pt", tmp_path / f"cal{suffix}", tmp_path / "cal.html"
    module = digits_cnn()
    torch.save(module.state_dict(), weights)
    argv = ["calibrate", "--model", "redline.zoo:digits_cnn", "--weights", str(weights)]
    argv += ["--data", "bundled:digits:test", "--out", str(out), "--report", str(page)]
    assert run(argv) == 0
    temperature = float(capsys.readouterr().out)
    loaded = load_model(None, out).module
    x = torch.as_tensor(np.random.default_rng(0).random((4, 1, 8, 8), dtype=np.float32))
    with torch.no_grad():
        assert torch.allclose(loaded(x), module(x) / temperature, atol=1e-5)
    html = page.read_text()
    assert "Temperature scaling" in html and "<svg" in html and "in-sample" in html
    assert TorchTarget(loaded).predict(x).shape == (4,)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--out", "cal.onnx"], "use .pt or .pt2"),
        (["--data", "bundled:breast_cancer"], "model failed on inputs of shape (30,)"),
        (["--out", "/nonexistent/dir/cal.pt"], "not a file path"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, extra, message
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    torch.save(digits_cnn().state_dict(), tmp_path / "w.pt")
    argv = ["calibrate", "--model", "redline.zoo:digits_cnn", "--weights", "w.pt"]
    argv += ["--data", "bundled:digits:test", "--out", "cal.pt", *extra]
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pt"]
