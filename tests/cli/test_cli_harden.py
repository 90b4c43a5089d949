"""``redline harden``: weights written, registered beside their parent and scanned, and
every bad input a one-line exit 2 with nothing written or registered."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from redline.cli.main import run
from redline.registry import get_version, latest_scan, list_versions, open_store
from redline.zoo import digits_cnn, mlp

CANCER = ["--data", "bundled:breast_cancer:train", "--bounds", "-5,5"]


@pytest.fixture
def cancer_weights(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "mlp.pt"
    torch.save(mlp().state_dict(), path)
    return path


def _harden(weights: Path, out: Path, *extra: str) -> int:
    model = ["--model", "redline.zoo:mlp", "--weights", str(weights)]
    return run(["harden", *model, *CANCER, "--threat", "linf:0.1", "--out", str(out), *extra])


def test_harden_writes_loadable_weights(cancer_weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "hard.pt"
    assert _harden(cancer_weights, out, "--epochs", "1", "--method", "trades", "--steps", "2") == 0
    state = torch.load(out, weights_only=True)
    mlp().load_state_dict(state)
    before = torch.load(cancer_weights, weights_only=True)
    assert any(not torch.equal(state[k], before[k]) for k in before)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "mart"], "unknown method 'mart'"),
        (["--threat", "linf:0"], "eps must be > 0"),
        (["--threat", "linf:0.1,0.2"], "training takes one eps"),
        (["--beta", "0"], "beta must be"),
        (["--epochs", "0"], "epochs and steps must be"),
        (["--batch-size", "0"], "--batch-size must be >= 1"),
        (["--resume"], "--resume needs --checkpoint"),
        (["--scan-data", "bundled:digits"], "are for --registry runs"),
        (["--on-overfit", "ignore"], "on_overfit"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(
    cancer_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra, message
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "hard.pt"
    assert _harden(cancer_weights, out, *extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_data_that_does_not_fit_the_model_exits_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    weights, out = tmp_path / "cnn.pt", tmp_path / "hard.pt"
    torch.save(digits_cnn().state_dict(), weights)
    model = ["--model", "redline.zoo:digits_cnn", "--weights", str(weights)]
    assert run(["harden", *model, *CANCER, "--threat", "linf:0.1", "--out", str(out)]) == 2
    assert "model failed on inputs of shape (30,)" in capsys.readouterr().err
    assert not out.exists()


def test_bad_checkpoints_exit_2(cancer_weights: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    ckpt, out = tmp_path / "run.ckpt", tmp_path / "hard.pt"
    ckpt.write_bytes(b"garbage")
    assert _harden(cancer_weights, out, "--checkpoint", str(ckpt), "--resume") == 2
    assert "not a readable checkpoint" in capsys.readouterr().err
    other = tmp_path / "other.ckpt"
    assert (
        _harden(cancer_weights, out, "--epochs", "1", "--steps", "1", "--checkpoint", str(other))
        == 0
    )
    wider = tmp_path / "wide.py"
    wider.write_text("from redline.zoo import mlp\ndef build():\n    return mlp(hidden=32)\n")
    torch.save(
        __import__("redline.zoo", fromlist=["mlp"]).mlp(hidden=32).state_dict(), tmp_path / "w32.pt"
    )
    argv = ["harden", "--model", f"{wider}:build", "--weights", str(tmp_path / "w32.pt"), *CANCER]
    argv += ["--threat", "linf:0.1", "--out", str(tmp_path / "x.pt"), "--checkpoint", str(other)]
    assert run([*argv, "--resume"]) == 2
    assert "another architecture" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.slow
def test_harden_a_registered_version_registers_and_scans_the_child(
    cancer_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REDLINE_STORE", f"sqlite:///{tmp_path / 'reg' / 'r.db'}")
    add = ["registry", "add", "cancer", "--weights", str(cancer_weights), "--model"]
    assert run([*add, "redline.zoo:mlp", "--bounds", "-5,5"]) == 0
    hard = ["harden", "--registry", "cancer@1", *CANCER, "--threat", "linf:0.2", "--epochs", "2"]
    hard += ["--steps", "3", "--out", str(tmp_path / "h.pt"), "--report", str(tmp_path / "rep")]
    assert run(hard) == 2  # never scanned: no data to scan the child on
    assert "give --scan-data" in capsys.readouterr().err
    scan = ["scan", "--registry", "cancer@1", "--data", "bundled:breast_cancer:test"]
    scan += ["--threat", "linf:0.05,0.1", "--suite", "quick", "--limit", "60", "--seed", "3"]
    assert run([*scan, "--out", str(tmp_path / "parent")]) == 0
    assert run(hard) == 0  # scanned as its parent was, plus the training eps
    assert "scanning it at linf:0.05,0.1,0.2 with the quick suite" in capsys.readouterr().err
    store = open_store()
    child = get_version(store, "cancer@2")
    assert child.parent == get_version(store, "cancer@1").id
    assert child.training_config["method"] == "pgd-at" and child.training_config["epochs_run"] == 2
    record = latest_scan(store, "cancer@2")
    assert record is not None
    result = record.scan_result()
    assert result.target.sha256 == child.artifact_sha256
    assert result.config.eps == [0.05, 0.1, 0.2] and result.config.suite == "quick"
    assert result.data.n_samples == 60 and result.config.seed == 3
    assert (tmp_path / "rep" / "report.html").is_file()
    assert [v.number for v in list_versions(store, "cancer")] == [1, 2]
    store.engine.dispose()
    compare = ["report", "compare", "cancer@1", "cancer@2", "--out", str(tmp_path / "c.md")]
    assert run(compare) == 0
    text = (tmp_path / "c.md").read_text()
    assert "ε only in `cancer@2`: 0.2" in text and "cancer@2 was derived from cancer@1" in text
    assert "robust L∞ ε = 0.1" in text and "robust L∞ ε = 0.05" in text
