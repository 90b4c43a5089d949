"""``redline scan --member``: an ensemble scanned as one model from the command line,
the same numbers as the library's ensemble target, and every bad input a one-line exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tests.conftest import seeded

from redline.cli.main import run
from redline.datasets import load_breast_cancer
from redline.evaluation import scan
from redline.targets import ensemble_target, load_ensemble, load_model
from redline.zoo import mlp, train_classifier

BASE = ["scan", "--data", "bundled:breast_cancer:test", "--bounds", "-5,5", "--threat"]
BASE += ["linf:0.3", "--suite", "quick", "--limit", "60", "--no-progress", "--no-minimal"]
BASE += ["--check-samples", "20", "--seed", "1"]


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder, train = tmp_path_factory.mktemp("members"), load_breast_cancer("train")
    paths = []
    for seed in map(seeded, (0, 1, 2)):
        torch.manual_seed(seed)
        module = mlp()
        train_classifier(module, train.x, train.y, epochs=30, seed=seed)
        torch.save(module.state_dict(), folder / f"m{seed}.pt")
        paths.append(folder / f"m{seed}.pt")
    return paths


def _members(paths: list[Path]) -> list[str]:
    return [arg for p in paths for arg in ("--member", str(p))]


@pytest.mark.slow
def test_the_cli_scans_the_ensemble_as_the_library_does(
    members: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "rep"
    args = [*BASE, "--model", "redline.zoo:mlp", *_members(members), "--combine", "probs"]
    assert run([*args, "--out", str(out)]) in (0, 1)  # no policy: 0
    found = json.loads((out / "scan.json").read_text())
    loaded = load_ensemble([("redline.zoo:mlp", p) for p in members], combine="probs")
    assert found["target"]["format"] == "ensemble"
    assert found["target"]["source"].startswith("ensemble of 3 (probs): redline.zoo:mlp + ")
    assert found["target"]["sha256"] == loaded.sha256
    logits = load_ensemble([("redline.zoo:mlp", p) for p in members])
    assert logits.sha256 != loaded.sha256  # the combine rule is part of what was measured
    test = load_breast_cancer("test")
    built = [load_model("redline.zoo:mlp", p).module for p in members]
    target = ensemble_target(built, combine="probs", bounds=(-5, 5))
    x, y = torch.as_tensor(test.x[:60]), torch.as_tensor(test.y[:60])
    direct = scan(target, x, y, threat="linf", eps=[0.3], suite="quick", seed=1, minimal=False,
                  check_samples=20)  # fmt: skip
    robust = found["eps"][0]["robust"]
    assert robust["correct"] == direct.eps[0].robust.correct  # same ensemble, same attacks
    assert robust["value"] < found["clean"]["accuracy"]["value"] - 0.1  # the attack bites


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--member", "{0}"], "at least 2 --member"),
        (["--member", "{0}", "--member", "{1}", "--weights", "{0}"], "drop --weights"),
        (["--member", "{0}", "--member", "{1}", "--combine", "vote"], "'vote' is not one of"),
        (["--weights", "{0}", "--combine", "probs"], "--combine is for ensembles"),
        (["--member", "{0}", "--member", "{0}.missing"], "no such file"),
        (["--member", "{0}", "--member", "redline.zoo:digits_cnn={1}"], "digits_cnn"),
        (["--member", "{0}", "--member", "{1}", "--registry", "m@1"], "drop --weights/--member"),
    ],
)
def test_bad_ensembles_exit_2_and_write_nothing(
    members: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], extra, message
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "rep"
    filled = [a.format(*members) for a in extra]
    assert run([*BASE, "--model", "redline.zoo:mlp", *filled, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("redline: error: ") and err.count("\n") == 1 and message in err, err
    assert not out.exists()
