"""``redline train``: seeded training from the command line into weights the other commands
load, zoo models addressable as ``zoo:NAME``, and every bad input -> exit 2, one line, no file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import redline.zoo
from redline.cli._options import ZOO_NAMES
from redline.cli.main import run
from redline.datasets import load_digits
from redline.errors import InputError
from redline.targets import load_model
from redline.targets._loading import build_module
from redline.zoo import train_classifier

pytestmark = pytest.mark.slow


def _weights(path: Path) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = torch.load(path, weights_only=True)
    return state


@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The first 300 training and 100 test digits as .npz files (train fast)."""
    root = tmp_path_factory.mktemp("data")
    train, test = load_digits("train"), load_digits("test")
    np.savez(root / "train.npz", x=train.x[:300], y=train.y[:300])
    np.savez(root / "test.npz", x=test.x[:100], y=test.y[:100])
    return root / "train.npz", root / "test.npz"


def test_train_writes_a_state_dict_that_scan_loads_and_reports_accuracy(
    digits_npz: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "w.pt"
    args = ["train", "--data", str(digits_npz[0]), "--model", "zoo:digits_cnn", "--no-progress"]
    assert run([*args, "--epochs", "8", "--lr", "3e-3", "--val", "0.2", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    found = re.search(
        r"train accuracy ([\d.]+)%, validation accuracy ([\d.]+)% \(60 samples\)", err
    )
    assert found, err
    assert f"wrote {out}" in err and "on 240 samples" in err
    loaded = load_model("zoo:digits_cnn", out)  # what scan --model ... --weights does
    assert loaded.format == "state_dict"
    test = load_digits("test")
    with torch.no_grad():
        acc = (loaded.module(torch.as_tensor(test.x)).argmax(1).numpy() == test.y).mean()
    assert acc > 0.5  # trained: ten classes, chance is 0.1


def test_same_seed_same_weights_other_seed_other_weights(
    digits_npz: tuple[Path, Path], tmp_path: Path
) -> None:
    paths = {name: tmp_path / f"{name}.pt" for name in ("a", "b", "c")}
    base = ["train", "--data", str(digits_npz[0]), "--model", "zoo:digits_cnn", "--no-progress"]
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        assert run([*base, "--epochs", "2", "--seed", seed, "--out", str(paths[name])]) == 0
    a, b, c = (_weights(p) for p in paths.values())
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_val_file_and_a_user_builder_with_normalisation(
    digits_npz: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    builder = tmp_path / "arch.py"
    builder.write_text(
        "from torch import nn\n\n"
        "def build():\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))\n"
    )
    out = tmp_path / "lin.pt"
    train, test = digits_npz
    args = ["train", "--data", str(train), "--model", f"{builder}:build", "--val", str(test)]
    extra = ["--mean", "0.3", "--std", "0.4", "--epochs", "3", "--no-progress"]
    assert run([*args, *extra, "--out", str(out)]) == 0
    assert "validation accuracy" in (err := capsys.readouterr().err) and "(100 samples)" in err
    assert set(_weights(out)) == {"1.weight", "1.bias"}  # the model's own keys, no normaliser
    load_model(f"{builder}:build", out)


def test_zoo_names_resolve_everywhere_and_match_the_zoo() -> None:
    assert ZOO_NAMES == redline.zoo.ZOO_MODELS
    for name in ZOO_NAMES:
        assert isinstance(build_module(f"zoo:{name}"), torch.nn.Module)
    with pytest.raises(InputError, match=r"unknown zoo model 'nope' \(known: zoo:digits_cnn, "):
        build_module("zoo:nope")


def test_help_lists_the_zoo_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert all(name in text for name in ZOO_NAMES), text


def test_on_batch_sees_every_batch_of_every_epoch() -> None:
    train = load_digits("train").take(130)
    losses: list[float] = []
    train_classifier(redline.zoo.digits_cnn(), train.x, train.y, epochs=2, batch_size=64,
                     on_batch=losses.append)  # fmt: skip
    assert len(losses) == 2 * 3 and all(np.isfinite(losses))


def _args(data: str = "bundled:digits:train", model: str = "zoo:digits_cnn") -> list[str]:
    return ["train", "--data", data, "--model", model, "--no-progress"]


def _bad_cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    out = ["--out", str(tmp / "w.pt")]
    two = tmp / "two.py"
    two.write_text(
        "from torch import nn\n\n"
        "def build():\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(64, 2))\n"
    )
    return {
        "unknown zoo model": ([*_args(model="zoo:resnet"), *out], "known: zoo:digits_cnn, zoo:mlp"),
        "bad entry point": ([*_args(model="nomodule"), *out], "expected 'package.module:factory'"),
        "data does not fit": ([*_args("bundled:breast_cancer:train"), *out], "does not fit zoo"),
        "too few scores": ([*_args(model=f"{two}:build"), *out], "has 10 classes but"),
        "epochs": ([*_args(), "--epochs", "0", *out], "--epochs must be >= 1"),
        "lr": ([*_args(), "--lr", "-1", *out], "--lr must be a positive number"),
        "lr nan": ([*_args(), "--lr", "nan", *out], "--lr must be a positive number"),
        "batch size": ([*_args(), "--batch-size", "0", *out], "--batch-size must be >= 1"),
        "val share": ([*_args(), "--val", "1.5", *out], "between 0 and 1"),
        "val too small": ([*_args(), "--val", "0.0001", *out], "both parts need one"),
        "val file": ([*_args(), "--val", str(tmp / "none.npz"), *out], "no such file"),
        "val shape": ([*_args(), "--val", "bundled:breast_cancer", *out], "inputs of shape"),
        "missing data": ([*_args(str(tmp / "none.npz")), *out], "no such file"),
        "bad bounds": ([*_args(), "--bounds", "0", *out], "--bounds"),
        "out folder": ([*_args(), "--out", str(tmp / "no" / "w.pt")], "does not exist"),
        "out is a dir": ([*_args(), "--out", str(tmp)], "is a directory"),
        "not a number": ([*_args(), "--epochs", "x", *out], "--epochs"),
        "no model": (["train", "--data", "bundled:digits:train", *out], "--model"),
    }


def test_every_bad_input_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = _bad_cases(tmp_path)
    capsys.readouterr()
    for case, (args, expected) in cases.items():
        before = sorted(p.name for p in tmp_path.iterdir())
        code = run(args)
        err = capsys.readouterr().err.strip()
        assert code == 2, (case, err)
        assert len(err.splitlines()) == 1 and err.startswith("redline: error:"), (case, err)
        assert expected in err, (case, err)
        assert sorted(p.name for p in tmp_path.iterdir()) == before, case


def test_an_unwritable_out_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Through os.access, so that the check is exercised under root too (root writes anyway).
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path)
    assert run([*_args(), "--out", str(tmp_path / "w.pt")]) == 2
    assert "is not writable" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
