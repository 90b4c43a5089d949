"""``redline poison`` and ``redline backdoor ...``: the user's path from a poisoned training
set to a verdict and a repaired model, and every bad input -> exit 2, one line, no file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.conftest import seeded

from redline.cli.main import run
from redline.datasets import load_digits
from redline.zoo import digits_cnn, train_classifier

pytestmark = pytest.mark.slow

MODEL = ["--model", "redline.zoo:digits_cnn"]


def _train(x: np.ndarray, y: np.ndarray, path: Path) -> Path:
    torch.manual_seed(seeded(0))
    module = digits_cnn()
    train_classifier(module, x, y, epochs=20, lr=3e-3, seed=seeded(0))
    torch.save(module.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Clean train/test files, a BadNets-poisoned training set (10%), and a model each."""
    root = tmp_path_factory.mktemp("backdoor")
    train, test = load_digits("train"), load_digits("test")
    np.savez(root / "train.npz", x=train.x, y=train.y)
    np.savez(root / "test.npz", x=test.x, y=test.y)
    poisoned = root / "poisoned.npz"
    args = ["poison", "--data", str(root / "train.npz"), "--attack", "badnets"]
    assert run([*args, "--target-class", "0", "--rate", "0.1", "--out", str(poisoned)]) == 0
    with np.load(poisoned) as p:
        bad = _train(p["x"], p["y"], root / "bad.pt")
    good = _train(train.x, train.y, root / "good.pt")
    return {
        "root": root,
        "train": root / "train.npz",
        "test": root / "test.npz",
        "poisoned": poisoned,
        "mask": root / "poisoned.mask.npy",
        "bad": bad,
        "good": good,
    }


def _json(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / "scan.json").read_text())


def test_poison_writes_data_and_mask_deterministically(
    files: dict[str, Path], tmp_path: Path
) -> None:
    mask = np.load(files["mask"])
    with np.load(files["poisoned"]) as p, np.load(files["train"]) as clean:
        assert mask.dtype == bool and mask.sum() == round(0.1 * len(clean["y"]))
        np.testing.assert_array_equal(p["mask"], mask)
        assert (p["y"][mask] == 0).all()
        np.testing.assert_array_equal(p["x"][~mask], clean["x"][~mask])
        assert not np.array_equal(p["x"][mask], clean["x"][mask])
        again = tmp_path / "again.npz"
        args = ["poison", "--data", str(files["train"]), "--attack", "badnets", "--rate", "0.1"]
        assert run([*args, "--out", str(again)]) == 0
        with np.load(again) as q:
            np.testing.assert_array_equal(q["x"], p["x"])


def test_scan_data_ranks_the_poison_and_writes_scores(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "data"
    args = ["backdoor", "scan-data", *MODEL, "--weights", str(files["bad"])]
    assert run([*args, "--data", str(files["poisoned"]), "--out", str(out)]) == 0
    section = _json(out)["backdoor"]
    assert section["verdict"] == "suspicious"
    for detector in section["data"]:
        if detector["detector"] == "isolation":
            # known limit (tests/poisoning/test_detection.py): on 2 of 5 seeds LossIsolation
            # flags nothing in the half-poisoned class, worst AUROC over 5 seeds x 3 kernels 0.79
            assert set(detector["suspicious_classes"]) <= {0} and detector["auroc"] > 0.7
            continue
        assert detector["suspicious_classes"] == [0], detector["detector"]
        assert detector["auroc"] > 0.95, detector["detector"]  # worst: 0.999
    rows = (out / "scores.csv").read_text().splitlines()
    assert len(rows) == 1 + len(np.load(files["mask"]))
    assert rows[0].endswith(",poisoned")
    assert "Backdoor" in (out / "report.html").read_text()


def test_scan_data_clears_a_clean_training_set(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "clean-data"
    args = ["backdoor", "scan-data", *MODEL, "--weights", str(files["good"])]
    assert run([*args, "--data", str(files["train"]), "--out", str(out)]) == 0
    section = _json(out)["backdoor"]
    assert section["verdict"] == "clean"
    assert all(d["suspicious_classes"] == [] and d["flagged"] == 0 for d in section["data"])
    # a "clean" verdict says what it covers: each detector that ran lists what it misses
    spots = {s["check"]: s["misses"] for s in section["blind_spots"]}
    assert set(spots) == {d["detector"] for d in section["data"]}
    assert all("clean-label" in text for text in spots.values())


def test_scan_model_names_the_target_and_the_policy_gates(
    files: dict[str, Path], tmp_path: Path
) -> None:
    policy = tmp_path / "redline.toml"
    policy.write_text("[policy.backdoor]\nmax_anomaly_index = 2.0\nmax_strip_far = 0.05\n")
    args = ["backdoor", "scan-model", *MODEL, "--clean", str(files["test"])]
    args += ["--policy", str(policy), "--nc-steps", "150"]
    bad_out, good_out = tmp_path / "bad", tmp_path / "good"
    poisoned = ["--poisoned", str(files["poisoned"])]
    assert run([*args, "--weights", str(files["bad"]), *poisoned, "--out", str(bad_out)]) == 1
    bad = _json(bad_out)["backdoor"]
    assert bad["verdict"] == "trojaned" and bad["model"]["flagged_classes"] == [0]
    # known limits (tests/poisoning/test_strip.py, test_cleanse.py), worst over 5 seeds x
    # 3 kernels: STRIP lets 0.51 of BadNets inputs through; Neural Cleanse flags a clean
    # class of the clean model on 2 seeds (index 2.55), so its gate can fail too
    assert bad["poison"]["asr"] > 0.8 and bad["strip"]["far"] < 0.75
    code = run([*args, "--weights", str(files["good"]), *poisoned, "--out", str(good_out)])
    good = _json(good_out)["backdoor"]
    assert code == (0 if good["verdict"] == "clean" else 1)
    assert 0 not in good["model"]["flagged_classes"] and max(good["model"]["anomaly_index"]) < 3.0
    # the target stands out: worst gap over 5 seeds x 3 kernels 1.9 (4.1 against 2.2)
    assert bad["model"]["anomaly_index"][0] > max(good["model"]["anomaly_index"]) + 1.0
    assert good["strip"]["hijacked"] == 0 and good["strip"]["far"] == 0.0
    assert bad["strip"]["hijacked"] > 100


def test_repair_removes_the_backdoor(files: dict[str, Path], tmp_path: Path) -> None:
    weights, report = tmp_path / "repaired.pt", tmp_path / "repair-report"
    args = ["backdoor", "repair", *MODEL, "--weights", str(files["bad"])]
    args += ["--clean", str(files["test"]), "--poisoned", str(files["poisoned"])]
    assert run([*args, "--out", str(weights), "--report", str(report)]) == 0
    repair = _json(report)["backdoor"]["repair"]
    # known limit (as tests/defenses/test_repair.py), worst over 5 seeds x 3 kernels: 0.13
    # ASR left and 0.12 of clean accuracy lost (seed 3 with ATEN_CPU_CAPABILITY=default)
    assert repair["asr_before"] > 0.8 and repair["asr_after"] < 0.2
    assert repair["accuracy_before"] - repair["accuracy_after"] < 0.15
    state = torch.load(weights, weights_only=True)
    module = digits_cnn()
    module.load_state_dict(state)


def test_retrain_without_the_flagged_samples(files: dict[str, Path], tmp_path: Path) -> None:
    weights = tmp_path / "retrained.pt"
    args = ["backdoor", "repair", *MODEL, "--weights", str(files["bad"]), "--method", "retrain"]
    args += ["--clean", str(files["test"]), "--data", str(files["poisoned"])]
    args += ["--exclude", str(files["mask"]), "--epochs", "15", "--out", str(weights)]
    assert run(args) == 0
    module = digits_cnn()
    module.load_state_dict(torch.load(weights, weights_only=True))
    test = load_digits("test")
    with torch.no_grad():
        corner = torch.as_tensor(test.x[test.y != 0]).clone()
        corner[..., -3:, -3:] = torch.tensor([[1.0, 0, 1], [0, 1, 0], [1, 0, 1]])
        asr = float((module(corner).argmax(1) == 0).float().mean())
    assert asr < 0.1


def test_scan_with_backdoor_puts_both_in_one_report(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "both"
    args = ["scan", *MODEL, "--weights", str(files["bad"]), "--data", str(files["test"])]
    args += ["--threat", "linf:0.1", "--suite", "fgsm", "--no-minimal", "--no-checks"]
    args += ["--backdoor", "--train", str(files["poisoned"]), "--out", str(out), "--no-progress"]
    assert run(args) == 0
    result = _json(out)
    assert result["eps"][0]["eps"] == pytest.approx(0.1)
    assert result["backdoor"]["verdict"] == "trojaned"
    assert {d["detector"] for d in result["backdoor"]["data"]} == {
        "spectral",
        "clustering",
        "robust",
        "isolation",
        "combined",
    }
    checks = {s["check"] for s in result["backdoor"]["blind_spots"]}
    assert {"neural-cleanse", "strip", "combined"} <= checks


def _bad_cases(files: dict[str, Path], tmp: Path) -> dict[str, tuple[list[str], str]]:
    short = tmp / "short.npy"
    np.save(short, np.zeros(10, bool))
    tiny = tmp / "tiny.npz"
    test = load_digits("test")
    np.savez(tiny, x=test.x[:40], y=test.y[:40])
    model = [*MODEL, "--weights", str(files["bad"])]
    poison = ["poison", "--data", str(files["train"]), "--attack", "badnets"]
    other = tmp / "other.npz"  # a poisoned file of another (40-sample) data set
    make = ["poison", "--data", str(tiny), "--attack", "blended", "--rate", "0.1"]
    assert run([*make, "--out", str(other)]) == 0
    data = ["backdoor", "scan-data", *model, "--data", str(files["train"])]
    out = ["--out", str(tmp / "OUT")]
    repair = ["backdoor", "repair", *model, "--clean", str(files["test"])]
    retrain = [*repair, "--method", "retrain", "--data", str(files["train"])]
    pout = ["--out", str(tmp / "p.npz")]
    return {
        "mask length": ([*data, "--mask", str(short), *out], "short.npy"),
        "poisoned vs data": (
            [*retrain, "--exclude", str(short), "--out", str(tmp / "r.pt")],
            "10",
        ),
        "poisoned file vs data": ([*data, "--mask", str(other), *out], "40"),
        "target class": ([*poison, "--rate", "0.1", "--target-class", "12", *pout], "0..9"),
        "rate zero": ([*poison, "--rate", "0", *pout], "(0, 1)"),
        "rate above one": ([*poison, "--rate", "1.5", *pout], "(0, 1)"),
        "unknown layer": ([*data, "--layer", "nope", *out], "'nope'"),
        "unknown detector": ([*data, "--detectors", "spectral,magic", *out], "magic"),
        "too little clean data": (
            ["backdoor", "scan-model", *model, "--clean", str(tiny), *out],
            "too little clean data",
        ),
        "unknown method": ([*repair, "--method", "x", "--out", str(tmp / "r.pt")], "fine-prune"),
        "layer not prunable": ([*repair, "--layer", "3", "--out", str(tmp / "r.pt")], "ReLU"),
    }


def test_every_bad_input_exits_2_with_one_line_and_writes_nothing(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = _bad_cases(files, tmp_path)
    capsys.readouterr()
    for case, (args, expected) in cases.items():
        before = {p.name for p in tmp_path.iterdir()}
        code = run(args)
        err = capsys.readouterr().err.strip()
        assert code == 2, (case, err)
        assert len(err.splitlines()) == 1 and err.startswith("redline: error:"), (case, err)
        assert expected in err, (case, err)
        assert {p.name for p in tmp_path.iterdir()} == before, case
