"""The ``redline`` command: demo, scan, policy gate, and every bad input -> exit 2, one line."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from redline.cli.main import run
from redline.zoo import digits_cnn, small_cnn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quick demo's folder; what it said on stderr is kept beside it."""
    out = tmp_path_factory.mktemp("demo") / "redline-report"
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert run(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    (out.parent / "demo-stderr.txt").write_text(err.getvalue())
    return out


def _scan_args(demo_dir: Path, out: Path, *extra: str) -> list[str]:
    return [
        "scan",
        "--model",
        "redline.zoo:digits_cnn",
        "--weights",
        str(demo_dir / "model.pt"),
        "--data",
        "bundled:digits:test",
        "--threat",
        "linf:0.1",
        "--suite",
        "fgsm",
        "--limit",
        "30",
        "--out",
        str(out),
        "--no-progress",
        "--no-minimal",
        "--check-samples",
        "20",
        *extra,
    ]


def test_demo_writes_a_complete_report(demo_dir: Path) -> None:
    names = {p.name for p in demo_dir.iterdir()}
    assert {
        "scan.json",
        "report.html",
        "junit.xml",
        "results.sarif",
        "summary.md",
        "model.pt",
        "redline.toml",
    } <= names
    result = json.loads((demo_dir / "scan.json").read_text())
    assert result["schema_version"] == "1.5"
    assert result["clean"]["accuracy"]["value"] > 0.85
    assert result["policy"] is not None
    assert not list(demo_dir.parent.glob(".redline-report.*")), "temp folders left behind"


def test_demo_says_why_it_fails_and_how_to_run_the_full_scan(
    demo_dir: Path, tmp_path: Path
) -> None:
    said = (demo_dir.parent / "demo-stderr.txt").read_text()
    assert not json.loads((demo_dir / "scan.json").read_text())["policy"]["passed"]
    assert "FAILs on purpose" in said and "undefended" in said and "exits 1" in said
    assert "Wilson intervals are at most" in said and "120 of the 359 samples" in said
    lines = said.splitlines()
    command = next(line for line in lines if line.strip().startswith("redline scan --")).split()
    assert command[:2] == ["redline", "scan"] and "--suite" in command
    assert str(demo_dir / "model.pt") in command and "bundled:digits:test" in command
    assert "--limit" not in command  # the full test split
    smoke = ["--limit", "20", "--suite", "fgsm", "--no-minimal", "--check-samples", "10"]
    code = run([*command[1:], *smoke, "--no-progress", "--out", str(tmp_path / "full")])
    assert code in (0, 1) and (tmp_path / "full" / "scan.json").is_file()


def test_threads_are_set_for_the_run_and_restored() -> None:
    from redline.cli._threads import torch_threads
    from redline.errors import InputError

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with torch_threads(None):
            assert torch.get_num_threads() == 2
        with pytest.raises(InputError, match="--threads must be >= 1"), torch_threads(0):
            pass
    finally:
        torch.set_num_threads(before)


def test_scan_passes_and_fails_policy(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(_scan_args(demo_dir, tmp_path / "ok")) == 0
    strict = tmp_path / "strict.toml"
    strict.write_text(
        "[policy]\nchecks = 'none'\n[[policy.robust]]\neps = 0.1\nmin_accuracy = 0.99\n"
    )
    assert run(_scan_args(demo_dir, tmp_path / "gate", "--policy", str(strict))) == 1
    junit = (tmp_path / "gate" / "junit.xml").read_text()
    assert "failure" in junit
    sarif = json.loads((tmp_path / "gate" / "results.sarif").read_text())
    assert any(r["level"] == "error" for r in sarif["runs"][0]["results"])


def test_report_rejudges_saved_scan(demo_dir: Path, tmp_path: Path) -> None:
    lax = tmp_path / "lax.toml"
    lax.write_text("[policy]\nchecks = 'none'\nmin_clean_accuracy = 0.5\n")
    assert (
        run(
            [
                "report",
                str(demo_dir / "scan.json"),
                "--out",
                str(tmp_path / "r"),
                "--policy",
                str(lax),
            ]
        )
        == 0
    )
    assert (tmp_path / "r" / "report.html").is_file()


def _npz(tmp_path: Path, name: str, x: np.ndarray, y: np.ndarray) -> Path:
    path = tmp_path / f"{name}.npz"
    np.savez(path, x=x, y=y)
    return path


def _bad_inputs(tmp_path: Path, demo_dir: Path) -> dict[str, tuple[list[str], str]]:
    """Each case: CLI arguments replacing defaults, and the text the error line must hold."""
    x = np.random.default_rng(0).random((10, 1, 8, 8), dtype=np.float32)
    y = np.arange(10) % 10
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a torch file at all")
    pickled = tmp_path / "pickled.pt"
    torch.save(small_cnn(), pickled)
    models = tmp_path / "five.py"
    models.write_text(
        "from redline.zoo import small_cnn\n\ndef build():\n    return small_cnn(num_classes=5)\n"
    )
    nan = x.copy()
    nan[0, 0, 0, 0] = np.nan
    policy = tmp_path / "typo.toml"
    policy.write_text("[policy]\nmin_clean_acuracy = 0.9\n")
    return {
        "missing model file": (["--weights", str(tmp_path / "nope.pt")], "nope.pt"),
        "corrupt model file": (["--weights", str(corrupt)], "corrupt.pt"),
        "pickle refused": (["--weights", str(pickled)], "--allow-pickle"),
        "outputs vs labels": (["--model", f"{models}:build", "--weights", ""], "outputs 5 classes"),
        "data outside bounds": (["--data", str(_npz(tmp_path, "big", x * 255, y))], "outside"),
        "empty data": (["--data", str(_npz(tmp_path, "empty", x[:0], y[:0]))], "empty"),
        "nan in data": (["--data", str(_npz(tmp_path, "nan", nan, y))], "NaN"),
        "unknown attack": (["--suite", "pgd,warp"], "unknown attack 'warp'"),
        "unknown threat": (["--threat", "l7:0.1"], "norm must be one of"),
        "eps not positive": (["--threat", "linf:0"], "eps must be > 0"),
        "policy unknown key": (["--policy", str(policy)], "unknown key"),
    }


def _replace(args: list[str], changes: list[str]) -> list[str]:
    out = list(args)
    for flag, value in zip(changes[::2], changes[1::2], strict=True):
        if flag in out:
            i = out.index(flag)
            if value == "":
                del out[i : i + 2]
            else:
                out[i + 1] = value
        elif value != "":
            out += [flag, value]
    return out


def test_every_bad_input_exits_2_with_one_line_and_writes_nothing(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for case, (changes, expected) in _bad_inputs(tmp_path, demo_dir).items():
        out = tmp_path / f"out-{case.replace(' ', '-')}"
        code = run(_replace(_scan_args(demo_dir, out), changes))
        err = capsys.readouterr().err.strip()
        assert code == 2, (case, err)
        assert len(err.splitlines()) == 1 and err.startswith("redline: error:"), (case, err)
        assert expected in err, (case, err)
        assert not out.exists(), case
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}")], case


def test_failed_scan_keeps_previous_report(demo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert run(_scan_args(demo_dir, out)) == 0
    before = (out / "scan.json").read_bytes()
    assert run(_replace(_scan_args(demo_dir, out), ["--threat", "linf:-1"])) == 2
    assert (out / "scan.json").read_bytes() == before


def test_refuses_to_replace_a_foreign_folder(demo_dir: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    assert run(_scan_args(demo_dir, foreign)) == 2
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_allow_pickle_loads_full_model(demo_dir: Path, tmp_path: Path) -> None:
    module = digits_cnn()
    module.load_state_dict(torch.load(demo_dir / "model.pt", weights_only=True))
    pickled = tmp_path / "full.pt"
    torch.save(module, pickled)
    args = _replace(
        _scan_args(demo_dir, tmp_path / "o"), ["--weights", str(pickled), "--model", ""]
    )
    assert run([*args, "--allow-pickle"]) == 0


def test_console_script_exit_codes(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "redline"
    assert subprocess.run([str(exe), "--help"], capture_output=True).returncode == 0
    bad = subprocess.run(
        [str(exe), "scan", "--data", "bundled:digits", "--threat", "linf:0.1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["redline: error: give --model, --weights, or both"]


def test_attacks_and_version_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["attacks"]) == 0
    out = capsys.readouterr().out
    for name in ("apgd-ce", "apgd-t", "square", "fmn", "cw", "standard", "quick"):
        assert name in out
    assert run(["version"]) == 0
    assert capsys.readouterr().out.strip() == "0.1.0"
