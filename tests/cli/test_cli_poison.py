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
    "adaptive-blend": (["--attack", "adaptive-blend"], "blend", True),
    "adaptive-patch": (["--attack", "adaptive-patch", "--cover-rate", "0.05"], "composite", True),
    "badnets": (["--attack", "badnets", "--patch-size", "2"], "patch", False),
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
    "patch-size with sig": (
        ["--attack", "sig", "--patch-size", "2"],
        "badnets and label-consistent",
    ),
    "amplitude with adaptive-patch": (["--attack", "adaptive-patch", "--amplitude", "0.1"], "sig"),
    "eps with badnets": (["--attack", "badnets", "--eps", "0.1"], "not badnets"),
    "source-class with badnets": (["--attack", "badnets", "--source-class", "1"], "label-flip"),
    "cover rate too high": (["--attack", "adaptive-blend", "--cover-rate", "1.5"], "cover_rate"),
    "unknown attack": (["--attack", "warp"], "adaptive-patch"),
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


def test_adaptive_attacks_on_tabular_data_exit_2(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["poison", "--data", str(data["cancer"]), "--rate", "0.1", "--attack"]
    assert run([*args, "adaptive-blend", "--out", str(tmp_path / "p.npz")]) == 2
    assert "images" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
