"""The README's walk-throughs (scan, policy, backdoor, data, hardening, registry) run as
written: every command of every runnable block, in order, in one temp folder.

What runs is marked in README.md by an HTML comment on the line before a fenced block:

* ``<!-- readme-test: run -->`` before a ```bash block: each command runs through
  ``bash -c`` with the venv's ``redline`` first on PATH, a temp ``REDLINE_STORE`` and
  ``REDLINE_ACTOR``. Lines ending in ``\\`` continue on the next; blank lines and lines
  that start with ``#`` are skipped. A command must exit 0, unless its trailing comment
  starts with ``# exit N`` (e.g. ``# exit 1: lists changes``): then it must exit N.
* ``<!-- readme-test: write NAME -->`` before any fenced block: its text is written to
  NAME in the folder when the walk-through reaches it (e.g. the policy file).

Unmarked blocks (installation, the test command, fragments) are not run, so a block
marked runnable must hold only commands that run from a fresh clone.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_MARK = re.compile(r"<!-- readme-test: (run|write (\S+)) -->\n+```[\w-]*\n(.*?)```", re.S)
_EXIT = re.compile(r"\s#\s*exit (\d+)\b")


@dataclass(frozen=True)
class Step:
    """One command to run (``write`` is None) or one file to write (``command`` is its text)."""

    command: str
    expected: int = 0
    write: str | None = None


def _commands(block: str) -> list[Step]:
    steps, pending = [], ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        command = " ".join((pending + line).split())
        pending = ""
        found = _EXIT.search(command)
        steps.append(Step(command, int(found[1]) if found else 0))
    assert not pending, f"README block ends in a continued line: {pending!r}"
    return steps


def readme_steps(text: str) -> list[Step]:
    """The marked blocks of ``text`` as steps, in the order a reader meets them."""
    steps: list[Step] = []
    for match in _MARK.finditer(text):
        if match[1] == "run":
            steps.extend(_commands(match[3]))
        else:
            steps.append(Step(match[3], write=match[2]))
    return steps


def test_the_marked_blocks_are_whole_commands_with_no_placeholders() -> None:
    steps = readme_steps(README.read_text(encoding="utf-8"))
    commands = [s.command for s in steps if s.write is None]
    for command in commands:
        assert command.startswith("redline "), command
        assert " ... " not in command and "[--" not in command and "|" not in command, command
    words = " ".join(commands)
    for part in ("redline train", "backdoor scan-data", "harden", "registry rollback"):
        assert part in words, part
    assert [s.write for s in steps if s.write] == ["redline.toml"]


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["REDLINE_STORE"] = f"sqlite:///{root / 'store' / 'registry.db'}"
    env["REDLINE_ACTOR"] = "readme"
    env["OMP_NUM_THREADS"] = "1"  # tiny models: a second thread only spin-waits on 2 cores
    env["COLUMNS"] = "120"
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(step: Step, cwd: Path, env: dict[str, str]) -> str:
    if step.write is not None:
        (cwd / step.write).write_text(step.command, encoding="utf-8")
        return ""
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(
        ["bash", "-c", step.command], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    took, used = time.perf_counter() - started, _children_cpu() - cpu
    print(f"{took:5.1f} s wall {used:5.1f} s CPU  exit {done.returncode}  {step.command[:80]}")
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
    assert done.returncode == step.expected, f"{step.command}\n{tail}"
    return done.stdout + done.stderr


@pytest.mark.slow
def test_the_readme_walkthroughs_run_as_written(tmp_path: Path) -> None:
    work = tmp_path / "clone"
    work.mkdir()
    (tmp_path / "store").mkdir()
    env = _env(tmp_path)
    out = "\n".join(
        _run(step, work, env) for step in readme_steps(README.read_text(encoding="utf-8"))
    )
    flat = " ".join(out.split())
    assert re.search(r"train accuracy \d+\.\d%, validation accuracy \d+\.\d% \(144 samples\)", flat)
    assert "policy redline.toml: PASS" in flat
    assert "poisoned 144 of 1438 samples" in flat and "changed: 144 sample(s)" in flat
    rows = (work / "data-report" / "scores.csv").read_text().splitlines()
    assert len(rows) == 1 + 1438
    for name in (
        "model-report/scan.json",
        "repaired.pt",
        "hardened-report/scan.json",
        "compare.html",
        "certified.json",
        "audit.jsonl",
        "card.md",
    ):
        assert (work / name).is_file(), name  # fmt: skip
    assert "digits@1" in flat and "digits@2" in flat
    # the rollback put digits@1 back in production: its artifact is w.pt, byte for byte
    assert (work / "production.pt").read_bytes() == (work / "w.pt").read_bytes()
