"""``redline data manifest|verify|check``: provenance and integrity of a training set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from redline.cli.main import run
from redline.datasets import load_digits


@pytest.fixture
def train(tmp_path: Path) -> Path:
    data = load_digits("train")
    path = tmp_path / "train.npz"
    np.savez(path, x=data.x[:300], y=data.y[:300])
    return path


def test_manifest_then_verify_names_changed_samples(train: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "train.manifest.json"
    assert run(["data", "manifest", "--data", str(train), "--out", str(manifest)]) == 0
    body = json.loads(manifest.read_text())
    assert body["n"] == 300 and len(body["dataset_hash"]) == 64
    assert run(["data", "verify", "--data", str(train), "--manifest", str(manifest)]) == 0
    with np.load(train) as d:
        x, y = d["x"].copy(), d["y"].copy()
    x[7, 0, 0, 0] = 1.0 - x[7, 0, 0, 0]
    y[9] = (y[9] + 1) % 10
    edited = tmp_path / "edited.npz"
    np.savez(edited, x=x, y=y)
    assert run(["data", "verify", "--data", str(edited), "--manifest", str(manifest)]) == 1


def test_check_finds_duplicates_and_conflicting_labels(
    train: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with np.load(train) as d:
        x, y = d["x"], d["y"]
    x = np.concatenate([x, x[:3]])
    y = np.concatenate([y, (y[:3] + 1) % 10])  # three copies with another label
    data, out = tmp_path / "dups.npz", tmp_path / "findings.json"
    np.savez(data, x=x, y=y)
    assert run(["data", "check", "--data", str(data), "--out", str(out)]) == 0
    found = json.loads(out.read_text())
    assert [0, 300] in found["exact_groups"] and len(found["exact_groups"]) == 3
    assert found["conflicting"] == [0, 1, 2, 300, 301, 302]
    assert "label_issues" in found and found["label_issues"]["noise_rate"] >= 0.0
    assert "3 exact duplicate group(s)" in capsys.readouterr().err


def test_bad_inputs_exit_2_with_one_line(
    train: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tampered = tmp_path / "tampered.json"
    assert run(["data", "manifest", "--data", str(train), "--out", str(tampered)]) == 0
    body = json.loads(tampered.read_text())
    body["samples"][0] = "0" * 64
    tampered.write_text(json.dumps(body))
    capsys.readouterr()
    cases = {
        "tampered manifest": (["verify", "--manifest", str(tampered)], "does not match"),
        "no folder": (["manifest", "--out", str(tmp_path / "no" / "m.json")], "existing folder"),
        "missing data": (["check", "--data", str(tmp_path / "nope.npz")], "nope.npz"),
    }
    for case, (args, expected) in cases.items():
        full = ["data", args[0], "--data", str(train), *args[1:]]
        code = run(full)
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and expected in err, (case, err)
    assert not (tmp_path / "no").exists()
