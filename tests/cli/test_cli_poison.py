"""``redline poison`` with the trigger families and the attacks with cover samples: every
attack writes a file that loads with its trigger (and cover), and an option set for an
attack it does not apply to is refused: exit 2, one line, nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from redline.cli.main import run
from redline.datasets import load_breast_cancer, load_digits
from redline.poisoning import load_mask, load_poisoned


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The 359 test digits and 100 breast-cancer rows as .npz files."""
    root = tmp_path_factory.mktemp("poison-data")
    digits, cancer = load_digits("test"), load_breast_cancer("train")
    np.savez(root / "digits.npz", x=digits.x, y=digits.y)
    np.savez(root / "cancer.npz", x=cancer.x[:100], y=cancer.y[:100])
    return {"digits": root / "digits.npz", "cancer": root / "cancer.npz"}


CASES = {
    "wanet": (["--attack", "wanet", "--strength", "1.5", "--grid", "3"], "warp", True),
    "adaptive-blend": (["--attack", "adaptive-blend", "--key", "low-frequency"], "blend", True),
    "adaptive-patch": (["--attack", "adaptive-patch", "--cover-rate", "0.05"], "composite", True),
    "frequency": (["--attack", "frequency", "--magnitude", "0.2"], "frequency", False),
    "sample-specific": (
        ["--attack", "sample-specific", "--amplitude", "0.2"],
        "sample-specific",
        False,
    ),
    "badnets-family": (
        [
            *["--attack", "badnets", "--patch-pattern", "random", "--patch-shape", "cross"],
            *["--location", "random", "--patch-size", "3"],
        ],
        "patch",
        False,
    ),
    "blended-low-frequency": (["--attack", "blended", "--key", "low-frequency"], "blend", False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_attack_writes_a_file_that_loads(
    case: str, data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, kind, has_cover = CASES[case]
    out = tmp_path / "p.npz"
    assert (
        run(["poison", "--data", str(data["digits"]), "--rate", "0.1", *args, "--out", str(out)])
        == 0
    )
    err = capsys.readouterr().err
    poisoned = load_poisoned(out)
    assert poisoned.trigger is not None and poisoned.trigger.to_dict()["kind"] == kind
    assert poisoned.n_poisoned == 36 and (poisoned.data.y[poisoned.mask] == 0).all()
    np.testing.assert_array_equal(load_mask(tmp_path / "p.mask.npy", 359), poisoned.mask)
    assert (poisoned.cover is not None) == has_cover
    if poisoned.cover is not None:
        assert not (poisoned.cover & poisoned.mask).any()
        assert f"{poisoned.n_cover} cover samples" in err
    x = load_digits("test").x[:10]
    assert poisoned.trigger(x).shape == x.shape


def test_options_reach_the_trigger(data: dict[str, Path], tmp_path: Path) -> None:
    args = ["poison", "--data", str(data["digits"]), "--rate", "0.1", "--seed", "3"]
    wanet = [*args, "--attack", "wanet", "--strength", "1.5", "--grid", "3"]
    assert run([*wanet, "--out", str(tmp_path / "w.npz")]) == 0
    warp = load_poisoned(tmp_path / "w.npz").trigger
    assert warp is not None and warp.to_dict() == {
        "kind": "warp", "grid": 3, "strength": 1.5, "seed": 3, "bounds": [0.0, 1.0]
    }  # fmt: skip
    patch = [*args, "--attack", "badnets", "--patch-shape", "ring", "--location", "top"]
    assert run([*patch, "--patch-pattern", "solid", "--out", str(tmp_path / "b.npz")]) == 0
    stamp = load_poisoned(tmp_path / "b.npz").trigger
    assert stamp is not None
    d = stamp.to_dict()
    assert d["location"] == "top" and np.all(np.asarray(d["pattern"]) == 1.0)
    assert d["mask"] is not None and not np.asarray(d["mask"])[1, 1]  # a ring: hollow


def test_cover_rate_sets_the_adaptive_cover(data: dict[str, Path], tmp_path: Path) -> None:
    args = ["poison", "--data", str(data["digits"]), "--rate", "0.1", "--attack"]
    assert (
        run([*args, "adaptive-patch", "--cover-rate", "0.05", "--out", str(tmp_path / "a.npz")])
        == 0
    )
    assert run([*args, "adaptive-blend", "--out", str(tmp_path / "b.npz")]) == 0
    assert load_poisoned(tmp_path / "a.npz").n_cover == 18
    assert load_poisoned(tmp_path / "b.npz").n_cover == 36  # defaults to --rate


BAD = {
    "alpha with badnets": (["--attack", "badnets", "--alpha", "0.2"], "--alpha applies to blended"),
    "cover-rate with blended": (
        ["--attack", "blended", "--cover-rate", "0.1"],
        "--cover-rate applies to adaptive-blend and adaptive-patch, not blended",
    ),
    "cover-rate with wanet": (["--attack", "wanet", "--cover-rate", "0.1"], "not wanet"),
    "patch-size with sig": (
        ["--attack", "sig", "--patch-size", "2"],
        "badnets and label-consistent",
    ),
    "amplitude with frequency": (
        ["--attack", "frequency", "--amplitude", "0.1"],
        "--amplitude applies to sig and sample-specific, not frequency",
    ),
    "eps with badnets": (["--attack", "badnets", "--eps", "0.1"], "not badnets"),
    "source-class with badnets": (["--attack", "badnets", "--source-class", "1"], "label-flip"),
    "strength with blended": (
        ["--attack", "blended", "--strength", "1"],
        "--strength applies to wanet",
    ),
    "grid with adaptive-patch": (
        ["--attack", "adaptive-patch", "--grid", "3"],
        "--grid applies to wanet",
    ),
    "magnitude with badnets": (
        ["--attack", "badnets", "--magnitude", "0.1"],
        "--magnitude applies",
    ),
    "key with sig": (["--attack", "sig", "--key", "noise"], "blended and adaptive-blend, not sig"),
    "patch-shape with wanet": (["--attack", "wanet", "--patch-shape", "cross"], "not wanet"),
    "location with blended": (["--attack", "blended", "--location", "top"], "not blended"),
    "unknown pattern": (["--attack", "badnets", "--patch-pattern", "stripes"], "'stripes'"),
    "unknown shape": (["--attack", "badnets", "--patch-shape", "star"], "'star'"),
    "unknown location": (["--attack", "badnets", "--location", "middle"], "'middle'"),
    "unknown key": (["--attack", "blended", "--key", "pink"], "low-frequency"),
    "cover rate too high": (["--attack", "adaptive-blend", "--cover-rate", "1.5"], "cover_rate"),
    "negative strength": (["--attack", "wanet", "--strength", "-1"], "strength"),
    "unknown attack": (["--attack", "warp"], "sample-specific"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_option_combinations_exit_2_and_write_nothing(
    case: str, data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, expected = BAD[case]
    out = ["--out", str(tmp_path / "p.npz")]
    capsys.readouterr()
    assert run(["poison", "--data", str(data["digits"]), "--rate", "0.1", *args, *out]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("redline: error:"), err
    assert expected in err, err
    assert list(tmp_path.iterdir()) == []


def test_image_options_and_attacks_on_tabular_data_exit_2(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["poison", "--data", str(data["cancer"]), "--rate", "0.1", "--attack"]
    out = ["--out", str(tmp_path / "p.npz")]
    assert run([*args, "badnets", "--patch-shape", "ring", *out]) == 2
    assert "tabular" in capsys.readouterr().err
    for attack in ("adaptive-blend", "adaptive-patch", "wanet"):
        assert run([*args, attack, *out]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "image" in err, (attack, err)
    assert run([*args, "badnets", *out]) == 0  # the feature patch still works
