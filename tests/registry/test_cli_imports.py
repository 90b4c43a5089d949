"""What the store commands import, in a fresh interpreter: the store and the CLI, never
the ML stack (torch, scikit-learn, numpy...), the scan machinery, or alembic when the
schema is current. A registry command used to wait 7 s importing torch and sklearn."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from redline.registry import open_store, register

_RUNNER = """
import json, sys
from redline.cli.main import run
code = run(sys.argv[2:])
with open(sys.argv[1], "w") as handle:
    json.dump({"code": code, "modules": sorted(sys.modules)}, handle)
"""
HEAVY = ("torch", "sklearn", "numpy", "scipy", "matplotlib", "pandas", "alembic", "mako")
"""Third-party packages a store command must not import."""
REDLINE_ELSEWHERE = (
    "redline.evaluation",
    "redline.poisoning",
    "redline.attacks",
    "redline.defenses",
    "redline.targets",
    "redline.datasets",
    "redline.reports",
    "redline.zoo",
    "redline.policy",
    "redline.results",
)
"""redline packages the store commands do not need (``--policy`` brings in policy)."""

COMMANDS = [
    ["registry", "list"],
    ["registry", "list", "fraud"],
    ["registry", "show", "fraud@1"],
    ["incident", "list"],
    ["audit", "verify"],
    ["registry", "promote", "fraud@1", "--force", "--reason", "r", "--actor", "ana"],
]


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A current SQLite store holding one version."""
    root = tmp_path_factory.mktemp("imports")
    url = f"sqlite:///{root / 'registry.db'}"
    store = open_store(url)
    (root / "w.pt").write_bytes(b"weights")
    register(store, "fraud", root / "w.pt", actor="ana")
    store.engine.dispose()
    return url


def _imported(args: list[str], out: Path) -> tuple[int, list[str]]:
    subprocess.run([sys.executable, "-c", _RUNNER, str(out), *args], check=True, timeout=120)
    found = json.loads(out.read_text())
    return int(found["code"]), list(found["modules"])


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_store_commands_import_no_ml_stack(
    command: list[str], store_url: str, tmp_path: Path
) -> None:
    """Pinned: the commands ran (exit 0) and loaded none of the packages listed above."""
    code, modules = _imported([*command, "--store", store_url], tmp_path / "m.json")
    assert code == 0
    assert "redline.registry" in modules and "sqlalchemy" in modules  # the runner ran it
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == []
    elsewhere = sorted(m for m in modules if m.startswith(REDLINE_ELSEWHERE))
    assert elsewhere == []
