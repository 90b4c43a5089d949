"""Every command's and group's ``--help`` as a newcomer reads it (the tree is walked, so a
new command is covered without touching this file), plus the messages a first run meets:
``--version``, a malformed ``--threat``, an unknown ``--suite``, a clean ``data check``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.core import TyperGroup

from redline._version import __version__
from redline.cli.main import app, run

WIDTH = 100
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_BOX = re.compile(r"[│╭╮╰╯─]")


def _walk(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(argv prefix, command) for the command and every command and group below it."""
    found = [(path, command)]
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            found += _walk(sub, (*path, name))
    return found


# Built apart from the one ``run`` builds, so these help strings are the source's own.
TREE = _walk(typer.main.get_command(app))


@pytest.fixture(autouse=True)
def _fixed_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr("typer.rich_utils.MAX_WIDTH", WIDTH, raising=False)


def _render(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> str:
    assert run([*path, "--help"]) == 0
    return _ANSI.sub("", capsys.readouterr().out)


def _flat(text: str) -> str:
    """Whitespace-normalised, without the panels' box drawing."""
    return " ".join(_BOX.sub(" ", text).split())


def _lost_text(command: Any, page: str) -> list[str]:
    """Help strings from the source that the page does not show whole (markup eaten,
    or a word cut off)."""
    flat = _flat(page)
    texts = [p.strip() for p in (command.help or "").partition("\f")[0].split("\n\n")]
    texts += [p.help for p in command.params if getattr(p, "help", None)]
    return [f"lost help text: {t!r}" for t in texts if t and _flat(t) not in flat]


def _choices(param: Any) -> tuple[Any, ...]:
    # typer's own type descriptor here; a click.Choice in typer releases built on click
    holder = getattr(param, "type_descriptor", None) or getattr(param, "type", None)
    found = getattr(holder, "choices", None)
    return tuple(getattr(c, "value", c) for c in found or ())


def _hidden_choices(command: Any, page: str) -> list[str]:
    return [
        f"{param.opts[0]}: choice {choice!r} not shown"
        for param in command.params
        for choice in _choices(param)
        if str(choice) not in page
    ]


def _cut_listing(command: Any, page: str) -> list[str]:
    """Subcommands whose description in the group's listing is not one whole sentence on
    one line."""
    if not isinstance(command, TyperGroup):
        return []
    lines = [_flat(line) for line in page.splitlines()]
    problems = []
    for name, sub in command.commands.items():
        text = _flat((sub.short_help or sub.help or "").split("\n\n")[0])
        if text.endswith("...") or not text.endswith((".", "!", "?")):
            problems.append(f"{name}: {text!r} is not a whole sentence")
        elif not any(f"{name} {text}" in line for line in lines):
            problems.append(f"{name}: {text!r} does not fit on one line at {WIDTH} columns")
    return problems


@pytest.mark.parametrize(("path", "command"), TREE, ids=[" ".join(p) or "redline" for p, _ in TREE])
def test_help_page_reads_whole(
    path: tuple[str, ...], command: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    page = _render(path, capsys)
    problems = [
        *_lost_text(command, page),
        *_hidden_choices(command, page),
        *_cut_listing(command, page),
        *(["a flag shows a <bool> label"] if "<bool>" in page else []),
    ]
    assert not problems, "\n".join(problems)


def test_the_tree_covers_nested_groups_and_markup_prone_help() -> None:
    names = {" ".join(path) for path, _ in TREE}
    assert {"", "scan", "backdoor scan-data", "report compare", "data check"} <= names
    helps = [getattr(p, "help", None) or "" for _, c in TREE for p in c.params]
    assert any("[policy.backdoor]" in h for h in helps)  # the check above has teeth


def test_markup_like_brackets_render_literally(capsys: pytest.CaptureFixture[str]) -> None:
    assert "Policy file ([policy.backdoor] rules)." in _flat(
        _render(("backdoor", "scan-data"), capsys)
    )


def test_combine_lists_its_choices(capsys: pytest.CaptureFixture[str]) -> None:
    page = _render(("scan",), capsys)
    assert "logits|probs" in page
    assert run(["scan", "--data", "x.npz", "--threat", "linf:0.1", "--combine", "mean"]) == 2
    assert "--combine" in capsys.readouterr().err


def test_version_option_and_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out == f"{__version__}\n"
    assert run(["version"]) == 0
    assert capsys.readouterr().out == f"{__version__}\n"


def test_threat_without_norm_shows_the_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    args = ["scan", "--data", "bundled:digits", "--threat", "8/255", "--out", str(out)]
    assert run(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "NORM:EPS[,EPS...]" in err and "linf, l2" in err and "(e.g. linf:8/255)" in err
    assert not out.exists()


def test_unknown_suite_names_the_suites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    args = ["scan", "--data", "bundled:digits", "--threat", "linf:0.1", "--suite", "quik"]
    assert run([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'quik'" in err and "standard" in err and "quick" in err
    assert "comma list of attacks" in err and "apgd-ce" in err
    assert not out.exists()


def test_data_check_without_label_issues_prints_no_empty_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    x = np.where(y[:, None] == 0, 0.2, 0.8) + rng.uniform(-0.1, 0.1, (80, 8))
    data = tmp_path / "clean.npz"
    np.savez(data, x=x.astype(np.float32), y=y)
    assert run(["data", "check", "--data", str(data)]) == 0
    err = capsys.readouterr().err
    assert "label issues: 0 flagged" in err
    assert "most likely first" not in err
